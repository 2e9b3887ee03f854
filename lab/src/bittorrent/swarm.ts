/**
 * A real BitTorrent swarm in the lab's internet: opentracker (HTTP and UDP) and libtorrent
 * seeders, each on its own outside address, bootstrapping each other's DHT, all holding the lab
 * torrent. Every process is started through the Lab, so `lab.down()` kills what `stop()` did not.
 *
 *   const swarm = await BitTorrentSwarm.start(lab);
 *   try { ... runBitTorrentClient(lab, ns, swarm, 'magnet-dht') ... } finally { await swarm.stop(); }
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEndpoint, type Endpoint } from '../netns/addresses.js';
import type { Lab, LabProcess } from '../netns/lab.js';
import { hasCommand, run } from '../netns/run.js';
import { DEFAULT_SEEDERS, DHT_PROBE, LAB_TORRENT, seedArguments, seederEndpoints, SWARM_ROUTES, TRACKER, type SwarmFacts } from './swarm-plan.js';

/** The libtorrent helper; from src/ and dist/ alike it is lab/python/bt_peer.py. */
export const BT_PEER = fileURLToPath(new URL('../../python/bt_peer.py', import.meta.url));
/** Debian's interpreter: python3-libtorrent installs into its dist-packages, not into another python3 on the PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** What keeps the real swarm from running here ('' when nothing), in words that say what to do. */
export function swarmUnavailableReason(): string {
  if (!hasCommand('opentracker')) return 'opentracker is not installed (scripts/setup installs it)';
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { timeout: 10_000 });
  if (probe.status !== 0) return `${SYSTEM_PYTHON} cannot import libtorrent (scripts/setup installs python3-libtorrent)`;
  return '';
}

export interface SwarmOptions {
  seeders?: number;
  /** How long to wait for every seeder to listen and announce itself (tracker and DHT). */
  readyTimeoutMs?: number;
}

interface TorrentFacts {
  torrent: string;
  data: string;
  infoHash: string;
  magnet: string;
  size: number;
  pieceLength: number;
  pieces: number;
}

export class BitTorrentSwarm implements SwarmFacts {
  private constructor(
    /** Content, torrent, the tracker's whitelist and chroot: removed by stop(). */
    readonly workDir: string,
    readonly facts: TorrentFacts,
    readonly seeders: readonly Endpoint[],
    readonly tracker: LabProcess,
    readonly seederProcesses: readonly LabProcess[],
  ) {}

  get torrent(): string {
    return this.facts.torrent;
  }

  get magnet(): string {
    return this.facts.magnet;
  }

  get infoHash(): string {
    return this.facts.infoHash;
  }

  /** Every outside address of the swarm (tracker and seeders). */
  get addresses(): string[] {
    return [TRACKER.ip, ...this.seeders.map((seeder) => seeder.ip)];
  }

  static async start(lab: Lab, options: SwarmOptions = {}): Promise<BitTorrentSwarm> {
    const unavailable = swarmUnavailableReason();
    if (unavailable) throw new Error(`the BitTorrent swarm cannot run: ${unavailable}`);
    const seeders = seederEndpoints(options.seeders ?? DEFAULT_SEEDERS);
    // In the lab's state folder, so that `p2pwall-lab down` removes it even after a crash.
    const workDir = mkdtempSync(join(lab.stateDir, 'bt-swarm-'));
    // opentracker drops to user nobody inside its chroot (this folder): it must be able to read it.
    chmodSync(workDir, 0o755);
    const started: LabProcess[] = [];
    try {
      const facts = await makeTorrent(workDir);
      for (const route of SWARM_ROUTES) await lab.exec(lab.inet, 'ip', ['route', 'replace', 'local', route, 'dev', 'lo']);
      // opentracker in Debian is built in whitelist mode: it tracks only the info hashes listed.
      writeFileSync(join(workDir, 'whitelist.txt'), `${facts.infoHash}\n`, { mode: 0o644 });
      const tracker = lab.spawn(lab.inet, 'opentracker', ['-i', TRACKER.ip, '-p', String(TRACKER.port), '-P', String(TRACKER.port), '-d', workDir, '-w', '/whitelist.txt'], { role: 'opentracker' });
      started.push(tracker);
      const seederProcesses = seeders.map((_, index) => {
        const log = join(lab.logsDir, `bt-seeder-${index}-${process.pid}-${Date.now()}.jsonl`);
        const seeder = lab.spawn(lab.inet, SYSTEM_PYTHON, [BT_PEER, ...seedArguments(index, seeders, facts.torrent, workDir, log)], { role: 'bt-seeder', log });
        started.push(seeder);
        return seeder;
      });
      const timeoutMs = options.readyTimeoutMs ?? 20_000;
      // Ready: every seeder listens and is known to the tracker, and the DHT names them all.
      await Promise.all(seederProcesses.flatMap((seeder) => ['ready', 'tracker-announced'].map((event) => seeder.waitForLog((entry) => entry.event === event, timeoutMs))));
      await awaitDhtSwarm(lab, facts.infoHash, seeders, timeoutMs);
      if (!tracker.running) throw new Error(`opentracker ended: ${(await tracker.exited).stderr.trim()}`);
      return new BitTorrentSwarm(workDir, facts, seeders, tracker, seederProcesses);
    } catch (error) {
      await Promise.all(started.map((child) => child.stop()));
      rmSync(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Stops the seeders (each prints what it uploaded) and the tracker; removes the work folder. */
  async stop(): Promise<{ uploaded: Record<string, number> }> {
    const uploaded: Record<string, number> = {};
    const exits = await Promise.all(this.seederProcesses.map((seeder) => seeder.stop()));
    exits.forEach((exit, i) => (uploaded[formatEndpoint(this.seeders[i]!)] = Number(exit.summary?.['uploaded'] ?? 0)));
    await this.tracker.stop();
    rmSync(this.workDir, { recursive: true, force: true });
    return { uploaded };
  }
}

/** Waits until a DHT lookup from inside the internet names every seeder. */
async function awaitDhtSwarm(lab: Lab, infoHash: string, seeders: readonly Endpoint[], timeoutMs: number): Promise<void> {
  const args = [BT_PEER, 'dht-lookup', '--info-hash', infoHash, '--listen', formatEndpoint(DHT_PROBE), ...seeders.flatMap((seeder) => ['--dht-node', formatEndpoint(seeder)]), '--want', String(seeders.length), '--timeout', String(timeoutMs / 1000)];
  const lookup = await lab.exec(lab.inet, SYSTEM_PYTHON, args, { timeoutMs: timeoutMs + 10_000, check: false });
  if (lookup.code !== 0) throw new Error(`the DHT did not name all ${seeders.length} seeders within ${timeoutMs} ms: ${lookup.stdout.trim()} ${lookup.stderr.trim().slice(-500)}`);
}

/** The lab content and its torrent, made by libtorrent's create_torrent (no network involved). */
async function makeTorrent(workDir: string): Promise<TorrentFacts> {
  const made = await run(SYSTEM_PYTHON, [BT_PEER, 'make', '--dir', workDir, '--size', String(LAB_TORRENT.size), '--piece-size', String(LAB_TORRENT.pieceLength)], { timeoutMs: 30_000 });
  return JSON.parse(made.stdout) as TorrentFacts;
}
