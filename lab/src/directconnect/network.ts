/**
 * A real Direct Connect network in the lab's internet: uhub (ADC, and a TLS-only twin) and an
 * ncdc client that shares the lab file, each on its own outside address. Every process is
 * started through the Lab, so `lab.down()` kills what `stop()` did not.
 *
 *   const dc = await DirectConnectNetwork.start(lab, { tls });
 *   try { ... runDcClient(lab, ns, 'adc') ... } finally { await dc.stop(); }
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEndpoint } from '../netns/addresses.js';
import type { Lab, LabProcess } from '../netns/lab.js';
import { hasCommand } from '../netns/run.js';
import { DC_CONTENT, DC_HUB, DC_ROUTES, DC_SHARER, DC_SHARER_NICK, DC_TLS_HUB, hubUrl, uhubConfig } from './plan.js';

/** The ncdc driver; from src/ and dist/ alike it is lab/python/dc_client.py. */
export const DC_CLIENT = fileURLToPath(new URL('../../python/dc_client.py', import.meta.url));
export const DC_PYTHON = '/usr/bin/python3';

/** What keeps the real Direct Connect network from running here ('' when nothing). */
export function directConnectUnavailableReason(): string {
  if (!hasCommand('uhub')) return 'uhub is not installed (scripts/setup installs it)';
  if (!hasCommand('ncdc')) return 'ncdc is not installed (scripts/setup installs it)';
  if (!hasCommand('openssl')) return 'openssl is not installed (the TLS hub needs a certificate)';
  return '';
}

/** The lab file's bytes: the same on every run (SHA-256 in counter mode). */
export function dcContent(size = DC_CONTENT.size): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; counter * 32 < size; counter++) blocks.push(createHash('sha256').update(`p2pwall lab dc ${counter}`).digest());
  return Buffer.concat(blocks).subarray(0, size);
}

export interface DcNetworkOptions {
  /** Also run the TLS-only hub (adcs://), with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
  readyTimeoutMs?: number;
}

export class DirectConnectNetwork {
  private constructor(
    readonly workDir: string,
    readonly hubs: readonly LabProcess[],
    /** One sharer per hub kind it logged in to. */
    readonly sharers: readonly LabProcess[],
  ) {}

  static async start(lab: Lab, options: DcNetworkOptions = {}): Promise<DirectConnectNetwork> {
    const unavailable = directConnectUnavailableReason();
    if (unavailable) throw new Error(`the Direct Connect network cannot run: ${unavailable}`);
    // In the lab's state folder, so that `p2pwall-lab down` removes it even after a crash.
    const workDir = mkdtempSync(join(lab.stateDir, 'dc-'));
    const started: LabProcess[] = [];
    try {
      for (const route of DC_ROUTES) await lab.exec(lab.inet, 'ip', ['route', 'replace', 'local', route, 'dev', 'lo']);
      const acl = join(workDir, 'users.conf');
      writeFileSync(acl, '');
      const hubs: LabProcess[] = [];
      const configs: [string, string][] = [['adc', uhubConfig(DC_HUB, acl)]];
      if (options.tls) configs.push(['adcs', uhubConfig(DC_TLS_HUB, acl, options.tls)]);
      for (const [kind, config] of configs) {
        const file = join(workDir, `uhub-${kind}.conf`);
        writeFileSync(file, config);
        const hub = lab.spawn(lab.inet, 'uhub', ['-c', file, '-l', join(workDir, `uhub-${kind}.log`)], { role: `dc-hub-${kind}` });
        started.push(hub);
        hubs.push(hub);
      }
      await waitListening(lab, [DC_HUB, ...(options.tls ? [DC_TLS_HUB] : [])], options.readyTimeoutMs ?? 10_000);
      const share = join(workDir, 'share');
      mkdirSync(share);
      writeFileSync(join(share, DC_CONTENT.name), dcContent());
      // One ncdc per hub: a client logged in to both would answer a connect request on either.
      const sharers = configs.map(([kind], index) => {
        const log = join(lab.logsDir, `dc-sharer-${kind}-${process.pid}-${Date.now()}.jsonl`);
        const listen = formatEndpoint({ ip: DC_SHARER.ip, port: DC_SHARER.port + index });
        // On the TLS hub the sharer also takes TLS between clients, when the downloader asks for it.
        const tlsPolicy = kind === 'adcs' ? 'allow' : 'disabled';
        const args = [DC_CLIENT, 'share', '--session', join(workDir, `sharer-${kind}`), '--nick', DC_SHARER_NICK, '--hub', hubUrl(kind as 'adc' | 'adcs'), '--listen', listen, '--share-dir', share, '--log', log, '--tls-policy', tlsPolicy];
        const sharer = lab.spawn(lab.inet, DC_PYTHON, args, { role: `dc-sharer-${kind}`, log });
        started.push(sharer);
        return sharer;
      });
      await Promise.all(sharers.map((sharer) => sharer.ready(options.readyTimeoutMs ?? 20_000)));
      return new DirectConnectNetwork(workDir, hubs, sharers);
    } catch (error) {
      await Promise.all(started.map((child) => child.stop()));
      rmSync(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Stops the sharers and the hubs; removes the work folder. */
  async stop(): Promise<void> {
    await Promise.all(this.sharers.map((sharer) => sharer.stop(5000)));
    await Promise.all(this.hubs.map((hub) => hub.stop()));
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** Waits until every hub accepts TCP connections (from inside the internet). */
async function waitListening(lab: Lab, hubs: readonly { ip: string; port: number }[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const hub of hubs) {
    for (;;) {
      const probe = await lab.exec(lab.inet, DC_PYTHON, ['-c', 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()', hub.ip, String(hub.port)], { check: false, timeoutMs: 5000 });
      if (probe.code === 0) break;
      if (Date.now() > deadline) throw new Error(`uhub does not listen on ${formatEndpoint(hub)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
