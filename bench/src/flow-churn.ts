/**
 * bench/flow-churn: the sensor engine's new-flow path with its flow table not full and full, the
 * way bench/soak drives it (issue 15): every packet a UDP datagram with a 5-tuple nobody saw
 * before, from one inside host, at a simulated 16,000 per second, so a full table evicts its
 * least recently active flow for every packet and each flow lives (maxFlows / rate) seconds:
 * the generational collector's worst case, every flow and what hangs off it mid-lived.
 *
 *   npm run bench:flow-churn [-- --rounds 3] [--max-flows 262144,16384] [--full-packets N]
 *                            [--baseline <built checkout>] [--node-flags="<for every child>"]
 *                            [--flags-variant=--max-semi-space-size=32] [--uplink] [--out <file>]
 *
 * Each measurement runs in a child process of its own (a fresh heap, so one build's garbage is
 * not the other's collection), on the real Engine of a built checkout: this one, and with
 * --baseline another (an older commit in a git worktree), alternating round by round so both
 * see the same machine (--flags-variant adds this build again with more V8 flags, in the same
 * rounds). A child warms the compiler on a throwaway engine, then on a fresh one
 * measures the table filling (not full: every packet an insert), then `--full-packets` more on
 * the full table (every packet an eviction and an insert), and, where the table is large enough
 * for it at this rate, as many on another engine whose idle timeout keeps its table about half
 * full (flows end by expiry as fast as they start: the path of a table big enough for its
 * traffic), each phase for its process CPU time
 * (process.cpuUsage: every thread, the collector's helpers included, which is what a cgroup
 * CPU quota charges), its GC pauses (the runtime's 'gc' performance entries, by kind), and the
 * heap and RSS at its end. Figures are medians over rounds; GC is also given per 10 s at the
 * soak's 16,000 packets/s. Results go to bench/results/flow-churn.json. --uplink runs the engine
 * as a sensor with an uplink does (interim reports every 10 s, every flow event through the
 * uplink's summary mapping, batcher and protobuf encoding), which bench/soak does not.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { PerformanceObserver, performance, constants as perfConstants } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { udp } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { engineConfig, type Engine, type EngineConfig, type EngineEvent } from '@p2pwall/sensor';
import { median, round } from './measure.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
/** bench/soak's rate: 0.8 × the sensor's zero-drop 20,000 new flows/s. */
const SOAK_RATE = 16_000;
/** The soak's generator payload, so the modules inspect what they inspected there. */
const PAYLOAD = 'p2pwall-bench: one datagram, one new flow\n';
const INSIDE = '10.2.1.1';
/** Sources ports the soak's generator sends from (8 sockets). */
const SOURCE_PORTS = 8;
/** Destinations: 198.18.0.0/15 (documentation range) × 40,000 ports, as the soak's lab sink takes them. */
const DESTINATIONS = 131_072;
const PORT_BASE = 20_000;
const PORT_COUNT = 40_000;

// ---------------------------------------------------------------------------------------------
// Child: one build, one table size.

interface PhaseFigures {
  packets: number;
  cpuNsPerPacket: number;
  wallNsPerPacket: number;
  gc: { count: number; minor: number; major: number; ms: number; maxMs: number };
  /** GC pause ms per 10 s at the soak's rate (16,000 packets/s). */
  gcMsPer10sAtSoakRate: number;
  /** GC pause time as a share of the phase's CPU time. */
  gcShareOfCpu: number;
  rssMB: number;
  heapUsedMB: number;
}

interface ChildResult {
  build: string;
  maxFlows: number;
  /** Whether flow events went through the uplink's summaries, batcher and encoder (--uplink). */
  uplink: boolean;
  /** Bytes of the encoded summary batches (0 without --uplink). */
  uplinkBatchBytes: number;
  notFull: PhaseFigures;
  full: PhaseFigures;
  /** Flows ending by idle timeout as fast as they start, the table never full (null: the table is too small for that at this rate). */
  notFullSteady: PhaseFigures | null;
  /** Heap after a full collection after the full phase, that engine alive, MB. */
  settledHeapMB: number | null;
  peakRssMB: number;
  flowsInTable: number;
  evictions: number;
  flowEvents: number;
  counters: { packets: number; flows: number; dropped: number };
}

interface GcEntry {
  start: number;
  duration: number;
  kind: number;
}

/** One IPv4 UDP datagram, patched in place per packet: the packet path reads, never keeps, its buffer. */
class ChurnPackets {
  readonly packet = udp({ src: INSIDE, dst: '198.18.0.1', sport: 40_000, dport: PORT_BASE, payload: PAYLOAD });

  /** Makes the packet the i-th of the sequence: a new (source port, destination, destination port) each. */
  set(i: number): void {
    const p = this.packet;
    const destination = i % DESTINATIONS;
    const dport = PORT_BASE + (Math.floor(i / DESTINATIONS) % PORT_COUNT);
    const sport = 40_000 + (i % SOURCE_PORTS);
    p[17] = 18 + (destination >> 16);
    p[18] = (destination >> 8) & 255;
    p[19] = destination & 255;
    p[20] = sport >> 8;
    p[21] = sport & 255;
    p[22] = dport >> 8;
    p[23] = dport & 255;
  }
}

function feed(engine: Engine, packets: ChurnPackets, from: number, to: number, t0: number): number {
  const packet = packets.packet;
  const step = 1000 / SOAK_RATE;
  let drops = 0;
  for (let i = from; i < to; i++) {
    packets.set(i);
    drops += engine.judgeIp(packet, 0, packet.length, t0 + i * step);
  }
  return drops;
}

function warmUp(engine: Engine, packets: ChurnPackets, from: number, count: number, t0: number): void {
  feed(engine, packets, from, from + count, t0);
  engine.flush(t0 + ((from + count) * 1000) / SOAK_RATE);
}

const mb = (bytes: number): number => round(bytes / 1048576, 1);

/** The sensor's uplink path of one build (its own dist files): engine event → wire item → batch. */
interface UplinkPath {
  uplinkItem: (event: EngineEvent, inside: unknown) => object | null;
  Batcher: new (options: { sensor: object }) => { add(item: object, now: number): object | null };
}

async function runChild(sensorEntry: string, build: string, maxFlows: number, fullPackets: number, uplink: boolean): Promise<ChildResult> {
  const sensor = (await import(pathToFileURL(sensorEntry).href)) as { Engine: new (config: Partial<EngineConfig>, sink: (event: EngineEvent) => void) => Engine };
  const uplinkPath: UplinkPath | null = uplink
    ? {
        ...((await import(pathToFileURL(resolve(dirname(sensorEntry), 'uplink/summaries.js')).href)) as Pick<UplinkPath, 'uplinkItem'>),
        ...((await import(pathToFileURL(resolve(dirname(sensorEntry), 'uplink/batcher.js')).href)) as Pick<UplinkPath, 'Batcher'>),
      }
    : null;
  const entries: GcEntry[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) entries.push({ start: entry.startTime, duration: entry.duration, kind: ((entry as { detail?: { kind?: number } }).detail)?.kind ?? 0 });
  });
  observer.observe({ entryTypes: ['gc'] });
  // The live sensor's sink, as bench/soak runs it (no uplink): flow ends are tallied by cause, and
  // nothing else is kept; it reads the event as the event logger and the tally do.
  // With --uplink, as a sensor with uplink.nats runs: interim reports every 10 s (the default
  // interimSeconds), every flow event mapped to its FlowSummary, batched and encoded as the
  // publisher does at enqueue (the bytes are then dropped: no NATS).
  const ended = new Map<string, number>();
  let flowEvents = 0;
  let batchBytes = 0;
  const defaults = engineConfig({});
  const batcher = uplinkPath ? new uplinkPath.Batcher({ sensor: { site: 'bench', gateway: 'gw-churn', instance: 'flow-churn' } }) : null;
  const sink = (event: EngineEvent): void => {
    if (event.event !== 'flow') return;
    flowEvents++;
    if (event.letter !== null) throw new Error(`benign churn labelled a flow ${event.letter}`);
    ended.set(event.end, (ended.get(event.end) ?? 0) + 1);
    if (uplinkPath && batcher) {
      const item = uplinkPath.uplinkItem(event, defaults.inside);
      const batch = item ? batcher.add(item, event.ts) : null;
      if (batch) batchBytes += p2pwall.v1.SummaryBatch.encode(batch).finish().length;
    }
  };
  const config: Partial<EngineConfig> = { maxFlows, interimMs: uplink ? 10_000 : 0 };
  const packets = new ChurnPackets();
  const t0 = Date.UTC(2026, 0, 1);
  let next = 0;

  // Warm-up: the compiler sees both paths (inserting, and evicting) on a throwaway engine, made
  // and dropped in a function of its own so that nothing keeps it in the heap measured after.
  const warmPackets = Math.max(2 * maxFlows, 300_000);
  warmUp(new sensor.Engine(config, sink), packets, next, warmPackets, t0);
  next += warmPackets;
  (globalThis as { gc?: () => void }).gc?.();

  let engine = new sensor.Engine(config, sink);
  let peakRss = 0;
  const phase = async (packetCount: number): Promise<PhaseFigures> => {
    const from = performance.now();
    const cpu = process.cpuUsage();
    const wall = process.hrtime.bigint();
    // Chunks, so RSS can be sampled along the way without touching the per-packet loop.
    const chunk = 65_536;
    let drops = 0;
    for (let done = 0; done < packetCount; done += chunk) {
      const n = Math.min(chunk, packetCount - done);
      drops += feed(engine, packets, next, next + n, t0);
      next += n;
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }
    const wallNs = Number(process.hrtime.bigint() - wall);
    const used = process.cpuUsage(cpu);
    const to = performance.now();
    if (drops !== 0) throw new Error(`the engine dropped ${drops} benign datagrams`);
    // 'gc' entries are delivered after the fact.
    await new Promise((done) => setTimeout(done, 50));
    const pauses = entries.filter((e) => e.start >= from && e.start <= to);
    const cpuNs = (used.user + used.system) * 1000;
    const gcMs = pauses.reduce((sum, e) => sum + e.duration, 0);
    return {
      packets: packetCount,
      cpuNsPerPacket: round(cpuNs / packetCount, 1),
      wallNsPerPacket: round(wallNs / packetCount, 1),
      gc: {
        count: pauses.length,
        minor: pauses.filter((e) => e.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR).length,
        major: pauses.filter((e) => e.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR).length,
        ms: round(gcMs, 1),
        maxMs: round(Math.max(0, ...pauses.map((e) => e.duration)), 2),
      },
      gcMsPer10sAtSoakRate: round((gcMs / packetCount) * SOAK_RATE * 10, 1),
      gcShareOfCpu: round(gcMs / (cpuNs / 1e6), 3),
      rssMB: mb(process.memoryUsage.rss()),
      heapUsedMB: mb(getHeapStatistics().used_heap_size),
    };
  };
  const notFull = await phase(maxFlows);
  if (engine.flows.size !== maxFlows || engine.flows.evictions !== 0) throw new Error(`after the fill: ${engine.flows.size} flows, ${engine.flows.evictions} evictions (expected ${maxFlows}, 0)`);
  const full = await phase(fullPackets);
  if (engine.flows.size !== maxFlows || engine.flows.evictions !== fullPackets) throw new Error(`after the churn: ${engine.flows.size} flows, ${engine.flows.evictions} evictions (expected ${maxFlows}, ${fullPackets})`);
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  const settled = collect ? mb(getHeapStatistics().used_heap_size) : null;
  const c = engine.counters;
  const figures = { flowsInTable: engine.flows.size, evictions: engine.flows.evictions, counters: { packets: c.packets, flows: c.flows, dropped: c.dropped } };

  // Not full, steady: flows end by idle timeout as fast as they start (a table about half full),
  // the path of a sensor whose table is big enough; after a warm-up of two timeouts.
  const timeoutMs = Math.floor(((maxFlows * 0.6) / SOAK_RATE) * 1000) - 1000;
  let steady: PhaseFigures | null = null;
  if (timeoutMs >= 2000) {
    engine = new sensor.Engine({ ...config, flowTimeouts: { tcp: 300_000, udp: timeoutMs, other: timeoutMs } }, sink);
    collect?.();
    const warm = Math.ceil(((2 * timeoutMs + 2000) * SOAK_RATE) / 1000);
    feed(engine, packets, next, next + warm, t0);
    next += warm;
    steady = await phase(fullPackets);
    if (engine.flows.evictions !== 0 || engine.flows.expirations < fullPackets) throw new Error(`the steady phase: ${engine.flows.evictions} evictions, ${engine.flows.expirations} expirations (expected 0, at least ${fullPackets})`);
  }
  observer.disconnect();
  return { build, maxFlows, uplink, notFull, full, notFullSteady: steady, settledHeapMB: settled, peakRssMB: mb(peakRss), ...figures, flowEvents, uplinkBatchBytes: batchBytes };
}

// ---------------------------------------------------------------------------------------------
// Parent: builds × sizes × rounds, each a child process.

interface Build {
  name: string;
  checkout: string;
  commit: string;
  /** Node/V8 flags of its children (--node-flags, and a --flags-variant's own). */
  nodeFlags: string[];
}

function commitOf(checkout: string): string {
  try {
    const head = execFileSync('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', checkout, 'status', '--porcelain', '--', 'services/sensor/src', 'bench/src'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+uncommitted` : head;
  } catch {
    return 'unknown';
  }
}

function spawnChild(build: Build, maxFlows: number, fullPackets: number, uplink: boolean): Promise<ChildResult> {
  const args = ['--expose-gc', ...build.nodeFlags, fileURLToPath(import.meta.url), '--child', '--sensor', resolve(build.checkout, 'services/sensor/dist/index.js'), '--build', build.name, '--max-flows', String(maxFlows), '--full-packets', String(fullPackets)];
  if (uplink) args.push('--uplink');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (data: Buffer) => (out += data.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) fail(new Error(`child ${build.name} maxFlows ${maxFlows} failed (exit ${code}): ${out.slice(-500)}`));
      else done(JSON.parse(line) as ChildResult);
    });
  });
}

type Numbers<T> = { [K in keyof T]: T[K] extends number ? number : T[K] extends object ? Numbers<T[K]> : T[K] };

/** Medians, field by field, of the rounds' figures. */
function medianOf<T extends object>(items: T[]): Numbers<T> {
  const first = items[0]! as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(first)) {
    if (typeof value === 'number') out[key] = round(median(items.map((item) => (item as Record<string, number>)[key]!)), 3);
    else if (value !== null && typeof value === 'object') out[key] = medianOf(items.map((item) => (item as Record<string, object>)[key]!));
    else out[key] = value;
  }
  return out as Numbers<T>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      sensor: { type: 'string' },
      build: { type: 'string', default: 'this' },
      'max-flows': { type: 'string', default: '262144,16384' },
      'full-packets': { type: 'string' },
      rounds: { type: 'string', default: '3' },
      baseline: { type: 'string' },
      'node-flags': { type: 'string', default: '' },
      'flags-variant': { type: 'string' },
      uplink: { type: 'boolean', default: false },
      out: { type: 'string', default: resolve(here, '../results/flow-churn.json') },
    },
  });
  if (values.child) {
    const result = await runChild(values.sensor!, values.build, Number(values['max-flows']), Number(values['full-packets']), values.uplink);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const sizes = values['max-flows'].split(',').map(Number);
  if (sizes.some((n) => !(Number.isInteger(n) && n >= 1024 && n <= 4_194_304))) throw new RangeError('--max-flows: sizes from 1024 to 4194304, comma-separated');
  const rounds = Number(values.rounds);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new RangeError('--rounds: at least 1');
  const nodeFlags = values['node-flags'].split(/\s+/).filter(Boolean);
  const builds: Build[] = [{ name: 'this', checkout: repoRoot, commit: commitOf(repoRoot), nodeFlags }];
  if (values['flags-variant'] !== undefined) {
    // This build again with more V8 flags, in the same rounds: what a flag the sensor could ship buys.
    const extra = values['flags-variant'].split(/\s+/).filter(Boolean);
    builds.push({ name: `this ${extra.join(' ')}`, checkout: repoRoot, commit: commitOf(repoRoot), nodeFlags: [...nodeFlags, ...extra] });
  }
  if (values.baseline !== undefined) {
    const checkout = resolve(values.baseline);
    builds.push({ name: 'baseline', checkout, commit: commitOf(checkout), nodeFlags });
  }
  const fullPacketsFor = (maxFlows: number): number => (values['full-packets'] !== undefined ? Number(values['full-packets']) : Math.max(1_000_000, 3 * maxFlows));
  const loadBefore = loadavg();
  const runs: ChildResult[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which build goes first, so neither always meets the machine in the same state.
    const order = r % 2 === 0 ? builds : [...builds].reverse();
    for (const maxFlows of sizes) {
      for (const build of order) {
        const result = await spawnChild(build, maxFlows, fullPacketsFor(maxFlows), values.uplink);
        runs.push(result);
        console.log(
          `round ${r + 1}/${rounds} ${build.name.padEnd(8)} maxFlows ${String(maxFlows).padStart(7)}: filling ${result.notFull.cpuNsPerPacket.toFixed(0).padStart(5)} ns/pkt (GC ${result.notFull.gc.ms} ms), steady ${result.notFullSteady?.cpuNsPerPacket.toFixed(0) ?? '-'} ns/pkt (GC ${result.notFullSteady?.gc.ms ?? '-'} ms), full ${result.full.cpuNsPerPacket.toFixed(0).padStart(5)} ns/pkt (GC ${result.full.gc.ms} ms: ${result.full.gc.minor} minor, ${result.full.gc.major} major; ${result.full.gcMsPer10sAtSoakRate} ms per 10 s at ${SOAK_RATE}/s), peak RSS ${result.peakRssMB} MB`,
        );
      }
    }
  }
  const figures = builds.map((build) => ({
    build: build.name,
    checkout: build.checkout,
    commit: build.commit,
    nodeFlags: build.nodeFlags,
    sizes: sizes.map((maxFlows) => {
      const mine = runs.filter((run) => run.build === build.name && run.maxFlows === maxFlows);
      const m = medianOf(mine.map(({ notFull, full, settledHeapMB, peakRssMB }) => ({ notFull, full, settledHeapMB: settledHeapMB ?? 0, peakRssMB })));
      const steadyRuns = mine.map((run) => run.notFullSteady).filter((phase): phase is PhaseFigures => phase !== null);
      const notFullSteady = steadyRuns.length > 0 ? medianOf(steadyRuns) : null;
      return {
        maxFlows,
        rounds: mine.length,
        ...m,
        notFullSteady,
        fullOverNotFull: round(m.full.cpuNsPerPacket / m.notFull.cpuNsPerPacket, 2),
        fullOverNotFullSteady: notFullSteady ? round(m.full.cpuNsPerPacket / notFullSteady.cpuNsPerPacket, 2) : null,
      };
    }),
  }));
  const results = {
    benchmark: 'flow-churn',
    date: new Date().toISOString(),
    node: process.version,
    nodeFlags,
    uplink: values.uplink,
    kernel: release(),
    cpu: { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
    loadAverage: { before: loadBefore.map((v) => round(v, 2)), after: loadavg().map((v) => round(v, 2)) },
    method:
      `the real Engine of each build (default config but maxFlows), in a child process per measurement (node --expose-gc ${nodeFlags.join(' ')}), fed one IPv4 UDP datagram per new 5-tuple ` +
      `(${INSIDE}, ${SOURCE_PORTS} source ports → 198.18.0.0/15 × ${PORT_COUNT} ports, the soak generator's ${PAYLOAD.length}-byte payload) at a simulated ${SOAK_RATE}/s; ` +
      'after a warm-up on a throwaway engine, a fresh engine is filled (notFull: maxFlows packets, every one an insert) and then churned (full: every packet an eviction and an insert); ' +
      'then, where the table is large enough, another engine with an idle timeout that keeps it about half full is warmed for two timeouts and measured (notFullSteady: flows end by expiry as fast as they start); ' +
      'cpuNsPerPacket is process.cpuUsage (all threads) per packet; gc is the runtime\'s gc performance entries (main-thread pauses) in the phase; medians over rounds, builds alternating',
    rounds,
    figures,
    runs,
  };
  // Relative to where npm was run from (npm runs the script in bench/).
  const out = resolve(process.env.INIT_CWD ?? process.cwd(), values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log('');
  for (const f of figures) {
    for (const s of f.sizes) {
      console.log(
        `${f.build} (${f.commit}) maxFlows ${s.maxFlows}: not full (filling) ${s.notFull.cpuNsPerPacket} ns/pkt, not full (steady, idle expiry) ${s.notFullSteady?.cpuNsPerPacket ?? '-'} ns/pkt, full ${s.full.cpuNsPerPacket} ns/pkt (${s.fullOverNotFull}× filling, ${s.fullOverNotFullSteady ?? '-'}× steady); full-table GC ${s.full.gc.ms} ms over ${s.full.packets} pkts = ${s.full.gcMsPer10sAtSoakRate} ms per 10 s at ${SOAK_RATE}/s (${(s.full.gcShareOfCpu * 100).toFixed(1)}% of CPU, ${s.full.gc.major} major); peak RSS ${s.peakRssMB} MB, settled heap ${s.settledHeapMB} MB`,
      );
    }
  }
  console.log(`results: ${out}`);
}

await main();
