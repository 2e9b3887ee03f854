/**
 * The live sensor end to end, on the real kernel path: the lab's namespaces and veths, the
 * sensor's iptables rules and ipset sets in the gateway, NFQUEUE, the built `p2pwall-sensor run`,
 * and emulated FastTrack peers and clients sending real UDP and TCP. Needs root; skipped with
 * the reason otherwise. The lab is torn down in afterAll, also when a test fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KAZAA_SUPERNODE, KAZAA_UPLOADER, Lab, SensorProcess, labUnavailableReason, sensorCliPath, type LabProcess, type LogEntry, type SensorLogLine } from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason();

/** Timeouts short enough for tests: a blocked client gives up quickly. */
const FAST_CLIENT = ['--pong-wait', '300', '--connect-timeout', '700', '--hello-timeout', '700', '--serial', '5', '--serial-timeout', '400', '--download-timeout', '1500'];

const prefix = `p2pwe${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let peers: LabProcess;
let work: string;
const sensors: SensorProcess[] = [];

async function startSensor(config: Record<string, unknown> = {}, args: string[] = []): Promise<SensorProcess> {
  const sensor = await SensorProcess.start({
    namespace: lab.site('a').gateway,
    config: { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'cptTuU' }, ...config },
    args,
  });
  sensors.push(sensor);
  return sensor;
}

/** A sensor.yaml in the test's work folder (namespaces share the file system). */
function configFile(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

async function sensorCli(...args: string[]) {
  return lab.exec(lab.site('a').gateway, process.execPath, [sensorCliPath(), ...args], { check: false });
}

function entries(process: LabProcess, event: string, since = 0): LogEntry[] {
  return process.readLog().filter((entry) => entry.event === event && entry.ts >= since);
}

async function kazaa(clientIndex: number, args: string[]): Promise<Record<string, Record<string, unknown>>> {
  const run = lab.emulate(lab.site('a').clients[clientIndex]!.ns, 'kazaa-client', [...FAST_CLIENT, ...args]);
  const result = await run.wait(60_000);
  return result.summary as Record<string, Record<string, unknown>>;
}

async function benign(): Promise<Record<string, unknown>> {
  const run = lab.emulate(lab.site('a').clients[2]!.ns, 'benign-client', ['--bulk-bytes', '20000000']);
  return (await run.wait(60_000)).summary!;
}

async function setEntries(name: string): Promise<string[]> {
  const listing = await lab.exec(lab.site('a').gateway, 'ipset', ['list', name], { check: false });
  if (listing.code !== 0) return [];
  const members = listing.stdout.split('Members:\n')[1] ?? '';
  return members.split('\n').filter((line) => line.trim() !== '').map((line) => line.split(' ')[0]!);
}

const peerKey = (line: SensorLogLine) => `${String(line['ip'])}:${String(line['port'])}`;

describe.skipIf(UNAVAILABLE !== '')(`the live sensor in the lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a'] });
    work = mkdtempSync(join(tmpdir(), 'p2pwall-e2e-'));
    peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '600']);
    const servers = lab.emulate(lab.inet, 'benign-servers', ['--duration', '600']);
    await Promise.all([peers.ready(), servers.ready()]);
  }, 60_000);

  afterEach(async () => {
    for (const sensor of sensors.splice(0)) {
      await sensor.stop();
      sensor.cleanup();
    }
    // Every test starts from a gateway without p2pwall rules or sets.
    const removed = await sensorCli('rules', 'remove', '--config', configFile('base.yaml', 'site: a\ngateway: gw1\n'));
    expect(removed.code, removed.stderr).toBe(0);
  });

  afterAll(async () => {
    await lab?.down();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  // Both queue bindings stay tested: the addon (the default) and the npm nfqueue binding.
  it.each(['addon', 'nfqueue'] as const)('(a) identifies the Kazaa client, and from then on none of its handshakes to learned peers completes (queue.binding %s)', async (binding) => {
    const sensor = await startSensor({ queue: { binding } });
    expect(sensor.lines.find((line) => line.msg === 'sensor started')).toMatchObject({ binding });
    const ignored = sensor.lines.filter((line) => String(line.msg).includes('these queue keys do not apply'));
    expect(ignored.length).toBe(binding === 'nfqueue' ? 1 : 0);
    const summary = await kazaa(0, []);
    const client = await sensor.waitFor((line) => line.event === 'client');
    expect(client).toMatchObject({ host: '192.168.1.5', protocol: 'fasttrack', hostPackets: 1 });
    expect((client['evidence'] as { rule: string }[])[0]!.rule).toBe('fasttrack/udp-ping');
    // Counted at the peers: no TCP connection accepted after identification (nor before: the
    // flood comes first), no ping got through, every parallel and serial connect timed out.
    expect(entries(peers, 'tcp-accept', client.time)).toEqual([]);
    expect(entries(peers, 'udp-ping', client.time)).toEqual([]);
    expect(summary['parallel']).toMatchObject({ connected: 0, hellos: 0 });
    expect(summary['serial']).toMatchObject({ connected: 0 });
    // The whole cache was learned (ftwall keeps the client in the UDP mode) and is in the kernel.
    expect(new Set(sensor.events('peer').map(peerKey)).size).toBe(200);
    expect((await setEntries('p2pwall-peer-ep4')).length).toBe(400);
    expect(await setEntries('p2pwall-lock4')).toEqual(['192.168.1.5']);
  }, 90_000);

  it('(b) during the time-lock the fall-back TCP to peers it never pinged is dropped, while benign HTTP, DNS and bulk TCP pass', async () => {
    const unpinged = lab.emulate(lab.inet, 'fasttrack-peers', ['--seed', '7', '--cache-size', '20', '--no-extras', '--no-ipv6', '--duration', '120']);
    await unpinged.ready();
    try {
      const sensor = await startSensor();
      await kazaa(0, ['--phases', 'udp', '--cache-size', '10']);
      await sensor.waitFor((line) => line.event === 'client');
      const [fallback, ordinary] = await Promise.all([kazaa(0, ['--no-udp', '--phases', 'parallel,serial', '--seed', '7', '--cache-size', '20']), benign()]);
      expect(fallback['parallel']).toMatchObject({ attempts: 20, connected: 0, refused: 0 });
      expect(entries(unpinged, 'tcp-accept')).toEqual([]);
      expect(ordinary).toMatchObject({ allOk: true, http: { ok: true }, dns: { ok: true }, ntp: { ok: true }, bulk: { ok: true, bytes: 20_000_000 } });
      // The locked host itself still reaches the web (port 80 is below 1024).
      const web = await lab.emulate(lab.site('a').clients[0]!.ns, 'probe', ['--http', 'http://203.0.113.250/']).wait(20_000);
      expect(JSON.stringify(web.summary)).toMatch(/"ok":true/);
    } finally {
      await unpinged.stop();
    }
  }, 120_000);

  it('(c) a restarted sensor blocks learned peers from the first packet (storefile → ipset)', async () => {
    const storefile = join(work, 'restart.store');
    const first = await startSensor({ storefile });
    await kazaa(0, ['--phases', 'udp']);
    await first.waitFor((line) => line.event === 'client');
    expect(await first.stop()).toBe(0);
    // The addon released the queue at stop, after answering everything it had read.
    expect(first.lines.find((line) => line.msg === 'sensor stopped')).toMatchObject({ queueReleased: true, binding: { unanswered: 0, verdictSendErrors: 0, verdictErrors: 0, enobufs: 0 } });
    // onExit: remove took every rule and set away with it.
    expect(await setEntries('p2pwall-peer-ep4')).toEqual([]);
    const second = await startSensor({ storefile });
    expect(second.lines.find((line) => line.msg === 'sensor started')).toMatchObject({ peersLoaded: 200 });
    expect((await setEntries('p2pwall-peer-ep4')).length).toBe(400);
    const since = Date.now();
    const summary = await kazaa(1, ['--no-udp', '--phases', 'parallel', '--parallel', '30']);
    expect(summary['parallel']).toMatchObject({ attempts: 30, connected: 0 });
    expect(entries(peers, 'tcp-accept', since)).toEqual([]);
    // Blocked by the kernel sets, not by a fresh identification: this sensor saw no evidence.
    expect(second.events('client')).toEqual([]);
  }, 90_000);

  it('(c2) storefile peers go into the kernel for the transport each was learned for, and only that one', async () => {
    const storefile = join(work, 'transports.store');
    const now = Date.now();
    // Benchmark-range addresses no emulated host uses: only the set contents are looked at.
    const stored = (ip: string, port: number, transport: string): string =>
      JSON.stringify({ ip, port, transport, protocol: 'fasttrack', via: 'udp-ping', learnedFrom: null, learnedAt: now, expiresAt: now + 3_600_000 });
    writeFileSync(
      storefile,
      [stored('198.18.0.10', 4000, 'udp'), stored('198.18.0.11', 4000, 'tcp'), stored('198.18.0.12', 0, 'udp'), stored('198.18.0.13', 0, 'tcp'), stored('198.18.0.14', 0, 'both')]
        .map((line) => `${line}\n`)
        .join(''),
    );
    const sensor = await startSensor({ storefile });
    expect(sensor.lines.find((line) => line.msg === 'sensor started')).toMatchObject({ peersLoaded: 5 });
    expect((await setEntries('p2pwall-peer-ep4')).sort()).toEqual(['198.18.0.10,udp:4000', '198.18.0.11,tcp:4000']);
    expect(await setEntries('p2pwall-peer-ipu4')).toEqual(['198.18.0.12']);
    expect(await setEntries('p2pwall-peer-ipt4')).toEqual(['198.18.0.13']);
    expect(await setEntries('p2pwall-peer-ip4')).toEqual(['198.18.0.14']);
  }, 60_000);

  it('(c3) an opening packet to a peer only the kernel set holds is queued with the peer bit and dropped by the sensor itself, not accepted', async () => {
    await startSensor();
    const gateway = lab.site('a').gateway;
    // The engine never learned this endpoint (another queue's sensor might have): it would accept
    // the SYN; the peer bit the peer chain put on it makes the sensor drop it.
    await lab.exec(gateway, 'ipset', ['add', 'p2pwall-peer-ep4', `${KAZAA_SUPERNODE.ip},tcp:${KAZAA_SUPERNODE.port}`]);
    const probe = await lab.emulate(lab.site('a').clients[1]!.ns, 'probe', ['--tcp', `${KAZAA_SUPERNODE.ip}:${KAZAA_SUPERNODE.port}`, '--timeout', '1500']).wait(20_000);
    expect(JSON.stringify(probe.summary)).not.toMatch(/"ok":true/);
    // -S -v: each rule with its counters (-c packets bytes), in order: mark, queue, drop.
    const listing = await lab.exec(gateway, 'iptables', ['-t', 'security', '-S', 'P2PWALL-PEER', '-v']);
    const [marked, queued, droppedByKernel] = [...listing.stdout.matchAll(/^-A .* -c (\d+) \d+/gm)].map((match) => Number(match[1]));
    // The SYN and its retransmission(s): each NEW, each marked and queued once, none back in the kernel's drop.
    expect(marked).toBeGreaterThanOrEqual(1);
    expect(queued).toBe(marked);
    expect(droppedByKernel).toBe(0);
  }, 60_000);

  it('(d) killed with SIGKILL, the gateway fails open for benign traffic; `rules remove` then leaves nothing behind', async () => {
    const sensor = await startSensor({ onExit: 'keep' });
    await sensor.kill();
    expect(await benign()).toMatchObject({ allOk: true });
    const config = configFile('d.yaml', 'site: a\ngateway: gw1\n');
    expect((await sensorCli('rules', 'remove', '--config', config)).code).toBe(0);
    const save = (await lab.exec(lab.site('a').gateway, 'sh', ['-c', 'iptables-save; ip6tables-save'])).stdout;
    expect(save).not.toMatch(/p2pwall|P2PWALL/i);
    expect((await lab.exec(lab.site('a').gateway, 'ipset', ['list', '-n'])).stdout.trim()).toBe('');
  }, 90_000);

  it('(e) monitor mode drops nothing and reports the same detections as enforce mode', async () => {
    const detections = async (mode: 'enforce' | 'monitor') => {
      const sensor = await startSensor({ mode });
      const since = Date.now();
      const summary = await kazaa(0, ['--phases', 'udp']);
      await sensor.waitFor((line) => line.event === 'client');
      const received = entries(peers, 'udp-ping', since).length;
      await sensor.stop();
      const result = { clients: sensor.events('client').map((c) => c['host']), peers: new Set(sensor.events('peer').map(peerKey)), pongs: summary['udp']!['pongs'], received };
      sensors.splice(sensors.indexOf(sensor), 1);
      sensor.cleanup();
      return result;
    };
    const enforce = await detections('enforce');
    const monitor = await detections('monitor');
    expect(enforce).toMatchObject({ clients: ['192.168.1.5'], pongs: 0, received: 0 });
    expect(monitor).toMatchObject({ clients: ['192.168.1.5'], pongs: 200, received: 200 });
    expect(monitor.peers).toEqual(enforce.peers);
    expect(enforce.peers.size).toBe(200);
  }, 90_000);

  it('(f) a client with UDP disabled is caught through its HTTP download headers', async () => {
    const sensor = await startSensor();
    const summary = await kazaa(1, ['--no-udp']);
    const client = await sensor.waitFor((line) => line.event === 'client');
    expect(client['host']).toBe('192.168.1.6');
    expect((client['evidence'] as { rule: string }[])[0]!.rule).toBe('fasttrack/http-hash-request');
    // Encrypted handshakes to peers nobody had learned are no evidence alone: they completed.
    expect(summary['parallel']!['hellos']).toBeGreaterThan(0);
    const learned = sensor.events('peer').map(peerKey);
    expect(learned).toContain(`${KAZAA_UPLOADER.ip}:${KAZAA_UPLOADER.port}`);
    expect(learned).toContain(`${KAZAA_SUPERNODE.ip}:${KAZAA_SUPERNODE.port}`);
    await sensor.waitFor((line) => line.event === 'peer' && line['ip'] === KAZAA_SUPERNODE.ip);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await setEntries('p2pwall-peer-ep4')).toContain(`${KAZAA_SUPERNODE.ip},tcp:${KAZAA_SUPERNODE.port}`);
    const probe = await lab.emulate(lab.site('a').clients[1]!.ns, 'probe', ['--tcp', `${KAZAA_SUPERNODE.ip}:${KAZAA_SUPERNODE.port}`, '--timeout', '700']).wait(20_000);
    expect(JSON.stringify(probe.summary)).not.toMatch(/"ok":true/);
  }, 90_000);

  it('spreads flows over two queues with --queue-balance, one sensor process each, sharing the kernel sets', async () => {
    const config = configFile('two-queues.yaml', 'site: a\ngateway: gw1\nqueue:\n  numbers: [0, 1]\n');
    expect((await sensorCli('rules', 'install', '--config', config)).code).toBe(0);
    const common = { queue: { numbers: [0, 1] } };
    const zero = await startSensor(common, ['--queue', '0', '--no-rules']);
    const one = await startSensor(common, ['--queue', '1', '--no-rules']);
    const summary = await kazaa(0, ['--phases', 'udp,parallel']);
    expect(summary['parallel']).toMatchObject({ connected: 0 });
    for (const sensor of [zero, one]) await sensor.stop();
    const packets = [zero, one].map((sensor) => (sensor.lines.find((line) => line.msg === 'sensor stopped')!['counters'] as { packets: number }).packets);
    expect(packets.every((count) => count > 20)).toBe(true);
    // Only what this test's client revealed: (f)'s client may still be retransmitting the GET
    // its sensor dropped, and a fresh sensor rightly learns from it again.
    const fromThisClient = [...zero.events('peer'), ...one.events('peer')].filter((line) => line['learnedFrom'] === '192.168.1.5');
    expect(new Set(fromThisClient.map(peerKey)).size).toBe(200);
    expect((await setEntries('p2pwall-peer-ep4')).length).toBeGreaterThanOrEqual(400);
  }, 90_000);
});
