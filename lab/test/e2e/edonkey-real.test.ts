/**
 * Real eMule clients in the lab (issue 16): three `amuled` nodes (Debian's amule-daemon) on
 * outside addresses forming a Kad network, one sharing a 1 MiB file; one `amuled` inside site a,
 * behind the gateway that runs the real sensor. No emulated peer anywhere. Each test starts the
 * outside network afresh in one obfuscation mode, so no node remembers an earlier run.
 *
 * Without the sensor the inside client joins Kad and downloads the file from its ed2k link; with
 * the sensor it is identified and, from that moment, nothing it sends reaches an outside node
 * and the download gets nothing, while its web traffic passes. With protocol obfuscation required
 * on every node the test records what the sensor still sees, and what gets through.
 *
 * Needs root, amule-daemon, amule-utils and tcpdump (scripts/setup); skipped with the reason
 * otherwise. The lab, the aMule nodes, the captures and every sensor are torn down also when a
 * test fails.
 */
import { protocolModules } from '@p2pwall/sensor';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmuleNetwork, amuleUnavailableReason, runAmuleClient, type AmuleClientRun, type WirePacket } from '../../src/edonkey/index.js';
import { Lab, SensorProcess, labUnavailableReason, tearDownLab, type LabProcess } from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason() || amuleUnavailableReason();
const NO_MODULE = protocolModules.some((module) => module.name === 'edonkey') ? '' : 'the sensor has no edonkey module';

/** Without the sensor the 1 MiB download takes 10–15 s in the lab (aMule's upload ramps up slowly). */
const DOWNLOAD_TIMEOUT_MS = 45_000;
/** With the sensor (or obfuscation required) the client gets this long after adding the link: about a whole download's time. */
const BLOCKED_DOWNLOAD_MS = 12_000;
/**
 * DOWNLOAD_FLOWS: aMule 2.3.3 stalls a download now and then in the lab (whole-suite runs got 740
 * KB and 387 KB of the 1 MiB in 45 s), so without the sensor the tests hold the download to file
 * data reaching the client (a tenth of the file; (1)) or the source answering (2), and measure the
 * rest. (2)'s download runs FLOWING_DOWNLOAD_MS.
 */
const FLOWING_DOWNLOAD_MS = 15_000;
const FLOWING_BYTES = 100 * 1024;

const prefix = `pwam${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let benignServers: LabProcess | undefined;
let network: AmuleNetwork | undefined;
const sensors: SensorProcess[] = [];
const measured: Record<string, unknown> = {};

async function startNetwork(mode: AmuleNetwork['mode']): Promise<AmuleNetwork> {
  network = await AmuleNetwork.start(lab, mode);
  return network;
}

/** The real sensor in site a's gateway, its conntrack table emptied first (a fresh gateway). */
async function startSensor(): Promise<SensorProcess> {
  const gateway = lab.site('a').gateway;
  await lab.exec(gateway, 'conntrack', ['-F'], { check: false });
  const config = { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'cptTuU' }, detectors: { edonkey: { enabled: true } } };
  const sensor = await SensorProcess.start({ namespace: gateway, config });
  sensors.push(sensor);
  return sensor;
}

/** The sensor's first client event for a host: when and by which rule it was identified. */
function identification(sensor: SensorProcess, host: string): { ts: number; rule: string; detail?: string; flow?: string } | undefined {
  const client = sensor.events('client').find((line) => line['host'] === host);
  if (!client) return undefined;
  const evidence = (client['evidence'] as { rule: string; detail?: string; flow?: string }[])[0]!;
  return { ts: client['ts'] as number, rule: evidence.rule, ...(evidence.detail ? { detail: evidence.detail } : {}), ...(evidence.flow ? { flow: evidence.flow } : {}) };
}

/** "udp 203.0.113.181:4672" for each packet: what the client reached, grouped. */
function destinations(packets: readonly WirePacket[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const packet of packets) {
    const key = `${packet.transport} ${packet.dst}:${packet.dstPort}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

function summary(run: AmuleClientRun): Record<string, unknown> {
  const { kadStatus, kadConnectedMs, complete, seconds, nudges, tcpBytesReceived, partBytes, reached, heardFrom } = run;
  return { kadStatus, kadConnectedMs, complete, seconds, nudges, tcpBytesReceived, partBytes, reached, heardFrom, attempted: destinations(run.attempted), passed: destinations(run.sent) };
}

/** Whether the client opened a TCP connection to an outside node (its SYN left its interface). */
function triedTcp(run: AmuleClientRun): boolean {
  return run.attempted.some((packet) => packet.transport === 'tcp');
}

/**
 * The client's packets that got through the gateway after it was identified, split by when their
 * flow (transport, ports, addresses) began: a flow whose first packet left the client after the
 * identification was judged by an engine that knew the client (the time-lock stops it); a flow
 * begun before may be one the gateway already accepted, which conntrack keeps going. Times are
 * the captures' (one machine clock, as the sensor's): a flow's start on the client's interface,
 * a packet's passage on the internet's side of the gateway.
 */
function afterIdentification(run: AmuleClientRun, ts: number | undefined): { newFlows: Record<string, number>; earlierFlows: Record<string, number> } {
  if (ts === undefined) return { newFlows: {}, earlierFlows: {} };
  const flowOf = (packet: WirePacket): string => `${packet.transport} ${packet.srcPort} ${packet.dst}:${packet.dstPort}`;
  const begunBefore = new Set(run.attempted.filter((packet) => packet.time <= ts).map(flowOf));
  const passed = run.sent.filter((packet) => !begunBefore.has(flowOf(packet)) || packet.time > ts);
  return { newFlows: destinations(passed.filter((packet) => !begunBefore.has(flowOf(packet)))), earlierFlows: destinations(passed.filter((packet) => begunBefore.has(flowOf(packet)))) };
}

/** The sensor's view of a run: identification, and what passed after it. */
function withSensor(sensor: SensorProcess, host: string, run: AmuleClientRun): Record<string, unknown> & { identified: ReturnType<typeof identification> } {
  const identified = identification(sensor, host);
  const rules = [...new Set(sensor.events('client').filter((line) => line['host'] === host).flatMap((line) => (line['evidence'] as { rule: string }[]).map((evidence) => evidence.rule)))];
  return { ...summary(run), identified, identifiedAfterMs: identified ? identified.ts - run.startedAt : null, rules, sentAfterIdentification: afterIdentification(run, identified?.ts) };
}

describe.skipIf(UNAVAILABLE !== '')(`real eMule (aMule) clients in the lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    // One inside host per test: a client's TCP segments the gateway dropped are retransmitted by
    // its kernel after amuled has gone, and would meet the next test's sensor.
    lab = await Lab.up({ prefix, sites: ['a'], peers: 0, clientsPerSite: 6 });
    benignServers = lab.emulate(lab.inet, 'benign-servers', ['--duration', '600']);
    await benignServers.ready();
  }, 60_000);

  afterEach(async () => {
    for (const sensor of sensors.splice(0)) {
      await sensor.stop();
      sensor.cleanup();
    }
    await network?.stop();
    network = undefined;
  }, 30_000);

  afterAll(async () => {
    console.log('real aMule client, per run', JSON.stringify(measured, null, 1));
    await tearDownLab({ processes: [benignServers], lab });
  }, 60_000);

  it('(1) without the sensor, in clear: the inside aMule joins Kad, reaches every outside node, and its eD2k download carries file data', async () => {
    let outside = await startNetwork('clear');
    let run = await runAmuleClient(lab, outside, { client: 0, download: true, downloadTimeoutMs: DOWNLOAD_TIMEOUT_MS });
    if (run.tcpBytesReceived < FLOWING_BYTES) {
      // aMule 2.3.3 now and then never starts uploading to a client: only the source's Hello answer
      // comes back, however often the download is nudged (two CI runs, 289 and 350 bytes in 45 s).
      // A second fresh client against the same source stalled too (223 bytes), so the stall is
      // the source's: one more try with the whole outside network started afresh.
      measured['(1) clear, no sensor, first try'] = summary(run);
      await network?.stop();
      outside = await startNetwork('clear');
      run = await runAmuleClient(lab, outside, { client: 0, download: true, downloadTimeoutMs: DOWNLOAD_TIMEOUT_MS });
    }
    measured['(1) clear, no sensor'] = summary(run);
    expect(run.kadConnectedMs, run.kadStatus).not.toBeNull();
    expect(run.kadStatus).toMatch(/^Connected/);
    // The source answers and sends file data (the whole download is measured, not held to: see
    // DOWNLOAD_FLOWS below); with the sensor, (4) gets none of it.
    expect(run.tcpBytesReceived, JSON.stringify(summary(run))).toBeGreaterThanOrEqual(FLOWING_BYTES);
    expect(run.reached).toEqual([...outside.addresses].sort());
  }, 2 * DOWNLOAD_TIMEOUT_MS + 150_000);

  // The baseline of (5): with aMule's defaults the client reaches the source and the source
  // answers its Hello over TCP. Not held to the file's data: aMule 2.3.3 stalls downloads now and
  // then (whole-suite runs got 740 KB and 387 KB of 1 MiB in 45 s, and once only the Hello answer
  // in 15 s), which says nothing about p2pwall.
  it('(2) without the sensor, aMule’s defaults (obfuscation requested, not required): Kad joins and the source answers over eD2k', async () => {
    const outside = await startNetwork('requested');
    const run = await runAmuleClient(lab, outside, { client: 1, download: true, downloadTimeoutMs: FLOWING_DOWNLOAD_MS });
    measured['(2) requested, no sensor'] = summary(run);
    expect(run.kadStatus).toMatch(/^Connected/);
    expect(run.received.some((packet) => packet.transport === 'tcp' && packet.src === outside.seeder.plan.ip && packet.length > 0), JSON.stringify(summary(run))).toBe(true);
  }, FLOWING_DOWNLOAD_MS + 60_000);

  it('(3) without the sensor, obfuscation required on every node: Kad joins; a download from a link naming its source by address gets nothing', async () => {
    const outside = await startNetwork('required');
    const run = await runAmuleClient(lab, outside, { client: 2, download: true, downloadTimeoutMs: BLOCKED_DOWNLOAD_MS });
    measured['(3) required, no sensor'] = { ...summary(run), triedTcp: triedTcp(run) };
    expect(run.kadStatus).toMatch(/^Connected/);
    expect(run.heardFrom.length).toBeGreaterThanOrEqual(2);
    expect(run.complete).toBe(false);
    expect(run.partBytes).toBe(0);
  }, BLOCKED_DOWNLOAD_MS + 60_000);

  describe.skipIf(NO_MODULE !== '')(`with the sensor in the gateway${NO_MODULE ? ` (skipped: ${NO_MODULE})` : ''}`, () => {
    it('(4) in clear: identified, then no new flow reaches an outside node, the download gets 0 bytes, and its web traffic passes', async () => {
      const sensor = await startSensor();
      const outside = await startNetwork('clear');
      const client = lab.site('a').clients[3]!;
      const run = await runAmuleClient(lab, outside, { client: 3, download: true, downloadTimeoutMs: BLOCKED_DOWNLOAD_MS });
      const benign = await lab.emulate(client.ns, 'benign-client', ['--checks', 'http']).wait(30_000);
      const seen = withSensor(sensor, client.ipv4, run);
      measured['(4) clear, sensor'] = seen;
      expect(seen.identified?.rule, 'the sensor identified the client').toMatch(/^edonkey\//);
      expect(afterIdentification(run, seen.identified!.ts).newFlows).toEqual({});
      expect(run.tcpBytesReceived).toBe(0);
      expect(run.partBytes).toBe(0);
      expect(run.complete).toBe(false);
      // The identified host's web traffic (port 80) is not time-locked.
      expect(benign.summary).toMatchObject({ allOk: true, http: { ok: true } });
    }, BLOCKED_DOWNLOAD_MS + 90_000);

    it('(5) aMule’s defaults: its obfuscated Kad is not read, the clear Hello to a source known by address identifies it, and the download gets 0 bytes', async () => {
      const sensor = await startSensor();
      const outside = await startNetwork('requested');
      const client = lab.site('a').clients[4]!;
      const run = await runAmuleClient(lab, outside, { client: 4, download: true, downloadTimeoutMs: BLOCKED_DOWNLOAD_MS });
      const seen = withSensor(sensor, client.ipv4, run);
      measured['(5) requested, sensor'] = seen;
      // One isolated run saw none of the client's SYNs to the source cross the gateway, and no
      // Hello: if it recurs, the failure shows what the gateway's sets held and the sensor said.
      const diagnosis = seen.identified
        ? ''
        : JSON.stringify({ seen, kernelSets: (await lab.exec(lab.site('a').gateway, 'ipset', ['list', '-t'], { check: false })).stdout, sensorLog: sensor.lines.slice(-30) });
      expect(seen.identified?.rule, diagnosis).toBe('edonkey/hello');
      expect(seen['rules']).toEqual(['edonkey/hello']);
      expect(afterIdentification(run, seen.identified!.ts).newFlows).toEqual({});
      expect(run.tcpBytesReceived).toBe(0);
      expect(run.complete).toBe(false);
    }, BLOCKED_DOWNLOAD_MS + 90_000);

    it('(6) obfuscation required: a client that only joins Kad is not identified, and every datagram it sends gets through', async () => {
      const sensor = await startSensor();
      const outside = await startNetwork('required');
      const client = lab.site('a').clients[5]!;
      const run = await runAmuleClient(lab, outside, { client: 5, minRunMs: 12_000 });
      const seen = withSensor(sensor, client.ipv4, run);
      measured['(6) required, sensor, Kad only'] = seen;
      expect(seen.identified).toBeUndefined();
      expect(run.kadStatus).toMatch(/^Connected/);
      expect(run.sent.length).toBeGreaterThan(0);
      expect(destinations(run.sent)).toEqual(destinations(run.attempted));
    }, 60_000);
  });
});
