/**
 * bench/engine: packets per second through the sensor's per-packet path (link layer, decode,
 * flows, detectors, engine), from a capture held in memory, on one core.
 *
 * Cases, measured side by side in one run, in rounds (the first a warm-up, left out of the
 * figures), each pass on a fresh Engine, the order of the cases rotating from round to round:
 *   decode        locateIp + decodeIp: the floor any per-packet work stands on
 *   full          locateIp + Engine.judgeIp with the default detectors
 *   no-detectors  the same with no protocol modules, to show their share
 *   fasttrack-only the engine with the FastTrack module alone (the figure before BitTorrent),
 *                 so the share of each is measured in the same rounds
 *   blocklist     the full engine with 100,000 shared blocklist peers loaded
 *   baseline      with `--baseline <checkout>`: the full engine of another built checkout (an
 *                 older commit in a git worktree), so a change is measured against the code before
 *                 it in the same rounds
 * and a flow flood: every packet a new UDP flow, with a bounded flow table.
 *
 * Results go to bench/results/engine.json (and a table to stdout). The exit code is non-zero only
 * when a sanity check fails (the work did not happen as it should), never for a missed goal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DecodeStatus,
  Engine,
  activeModules,
  LINK_MALFORMED,
  LINK_NOT_IP,
  LINKTYPE_ETHERNET,
  PacketView,
  decodeIp,
  locateIp,
  type EngineConfig,
  type EngineEvent,
} from '@p2pwall/sensor';
import { engineTimeShares, profile, type EngineTimeShares } from './engine-profile.js';
import { DEFAULT_FLOOD, buildFlowFlood, type FloodOptions } from './flood.js';
import type { InMemoryCapture } from './frames.js';
import { GcRecorder, canCollect, elapsedNs, formatCount, formatMiB, formatRate, heapNow, median, now, round, settledHeap, summarize, type Summary } from './measure.js';
import { DEFAULT_MIX, buildGatewayMix, type GatewayMix, type MixOptions } from './mix.js';

const GOAL_PACKETS_PER_SECOND = 1_000_000;
/** The protocol modules together may take at most this share of the full engine's time. */
const DETECTOR_SHARE_GOAL = 0.35;
/** The profiled pass's sampling interval (V8 takes fewer under load: 2,500–3,300 samples inside judgeIp in a pass of the default mix). */
const PROFILE_INTERVAL_US = 100;
const FLOOD_MAX_FLOWS = 100_000;
/** Peers loaded into the blocklist case before its pass, as a sensor following the shared blocklist holds. */
const BLOCKLIST_PEERS = 100_000;
const gc = new GcRecorder();

// ---------------------------------------------------------------------------------------------
// The measured loops. Kept small and monomorphic: one frame array, one engine, no closures.

interface DecodeOutcome {
  decoded: number;
  laterFragments: number;
  malformed: number;
  notIp: number;
  /** Folded from the decoded fields, so the work cannot be optimised away. */
  digest: number;
}

function decodePass(capture: InMemoryCapture): DecodeOutcome {
  const view = new PacketView();
  const frames = capture.frames;
  let decoded = 0;
  let laterFragments = 0;
  let malformed = 0;
  let notIp = 0;
  let digest = 0;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    const offset = locateIp(LINKTYPE_ETHERNET, frame);
    if (offset < 0) {
      if (offset === LINK_NOT_IP) notIp++;
      else malformed++;
      continue;
    }
    const status = decodeIp(view, frame, offset, frame.length);
    if (status === DecodeStatus.ok) decoded++;
    else if (status === DecodeStatus.laterFragment) laterFragments++;
    else malformed++;
    digest = (digest + view.protocol + view.srcPort + view.dstPort + view.payloadLength + view.srcAddressOffset) | 0;
  }
  return { decoded, laterFragments, malformed, notIp, digest };
}

/** Feeds frames [from, to) to the engine as replay() does; returns how many it dropped. */
function enginePass(engine: Engine, capture: InMemoryCapture, from = 0, to = capture.frames.length): number {
  const frames = capture.frames;
  const ts = capture.ts;
  let drops = 0;
  for (let i = from; i < to; i++) {
    const frame = frames[i]!;
    const offset = locateIp(LINKTYPE_ETHERNET, frame);
    if (offset === LINK_NOT_IP) engine.countNotIp();
    else if (offset === LINK_MALFORMED) engine.countMalformedFrame();
    else drops += engine.judgeIp(frame, offset, frame.length, ts[i]!, frame.length - offset);
  }
  return drops;
}

/** The engine pass of the flood, also sampling the flow table's size every 65,536 packets. */
function floodPass(engine: Engine, capture: InMemoryCapture, from: number, to: number): number {
  const frames = capture.frames;
  const ts = capture.ts;
  let largestTable = 0;
  for (let i = from; i < to; i++) {
    const frame = frames[i]!;
    const offset = locateIp(LINKTYPE_ETHERNET, frame);
    if (offset === LINK_NOT_IP) engine.countNotIp();
    else if (offset === LINK_MALFORMED) engine.countMalformedFrame();
    else engine.judgeIp(frame, offset, frame.length, ts[i]!, frame.length - offset);
    if ((i & 0xffff) === 0 && engine.flows.size > largestTable) largestTable = engine.flows.size;
  }
  return Math.max(largestTable, engine.flows.size);
}

/** Counts events by kind; keeps none of them. */
class EventTally {
  client = 0;
  lock = 0;
  peer = 0;
  peerRefresh = 0;
  flow = 0;
  readonly sink = (event: EngineEvent): void => {
    switch (event.event) {
      case 'client':
        this.client++;
        break;
      case 'lock':
        this.lock++;
        break;
      case 'peer':
        this.peer++;
        break;
      case 'peer-refresh':
        this.peerRefresh++;
        break;
      case 'flow':
        this.flow++;
        break;
    }
  };

  snapshot(): Record<string, number> {
    return { client: this.client, lock: this.lock, peer: this.peer, peerRefresh: this.peerRefresh, flow: this.flow };
  }
}

interface EngineSnapshot {
  counters: Record<string, number>;
  verdictDrops: number;
  flowsInTable: number;
  flowEvictions: number;
  flowExpirations: number;
  peersInTable: number;
  clientsInTable: number;
  hostsInTable: number;
  events: Record<string, number>;
  identifiedClients: string[];
}

function snapshotEngine(engine: Engine, verdictDrops: number, tally: EventTally): EngineSnapshot {
  return {
    counters: { ...engine.counters },
    verdictDrops,
    flowsInTable: engine.flows.size,
    flowEvictions: engine.flows.evictions,
    flowExpirations: engine.flows.expirations,
    peersInTable: engine.peers.size,
    clientsInTable: engine.clients.size,
    hostsInTable: engine.hosts.size,
    events: tally.snapshot(),
    identifiedClients: [...engine.clients.values()].map((client) => client.host).sort(),
  };
}

// ---------------------------------------------------------------------------------------------
// Cases and rounds.

interface Pass {
  ns: number;
  /**
   * The process's CPU time during the pass (user + system, all its threads), ns: on a machine
   * shared with other work it is disturbed far less than wall time, which counts the time the
   * pass waited for a core.
   */
  cpuNs: number;
  /** When the pass ran, on the GC recorder's clock (ms), and the GC pauses that began meanwhile. */
  from: number;
  to: number;
  gcMs: number;
  /** Heap in use at the end of the pass, garbage included, above the heap before it. */
  heapAtEnd: number;
  /** Heap still in use after a full collection, with the engine alive, above the heap before it. */
  retained: number;
  engine?: EngineSnapshot;
  decode?: DecodeOutcome;
}

interface Case {
  name: 'decode' | 'full' | 'no-detectors' | 'fasttrack-only' | 'blocklist' | 'baseline';
  label: string;
  run(capture: InMemoryCapture): Pass;
  warmup?: Pass;
  timed: Pass[];
}

/** Another build's sensor, loaded from its checkout: only what a pass needs. */
interface BaselineSensor {
  checkout: string;
  Engine: new (config: Partial<EngineConfig>, sink: (event: EngineEvent) => void) => Engine;
}

async function loadBaseline(checkout: string): Promise<BaselineSensor> {
  const entry = resolve(checkout, 'services/sensor/dist/index.js');
  const sensor = (await import(entry)) as { Engine?: BaselineSensor['Engine'] };
  if (typeof sensor.Engine !== 'function') throw new Error(`--baseline: ${entry} has no Engine (build that checkout first: npm ci && npm run build)`);
  return { checkout, Engine: sensor.Engine };
}

/**
 * Every mix pass's engine, kept alive until the mix is done. V8 optimises the per-packet code
 * around the engine it runs on; when that engine is collected, the code is thrown away ("weak
 * objects") and the next pass compiles it again on compiler threads, which count in the CPU time.
 * The full engine has the most such code, so freeing each pass's engine charged it the most for
 * something a live sensor, which keeps one engine its whole life, never does (a full pass after a
 * no-modules pass: 71-85 optimising compiles; after a full pass: 9).
 */
const passEngines: object[] = [];

function engineCase(name: Case['name'], label: string, config: Partial<EngineConfig>, prepare?: (engine: Engine, capture: InMemoryCapture) => void, EngineClass: BaselineSensor['Engine'] = Engine): Case {
  return {
    name,
    label,
    timed: [],
    run(capture) {
      const tally = new EventTally();
      const base = settledHeap();
      const engine = new EngineClass(config, tally.sink);
      passEngines.push(engine);
      prepare?.(engine, capture);
      const from = gc.clock();
      const cpu = process.cpuUsage();
      const start = now();
      const drops = enginePass(engine, capture);
      const ns = elapsedNs(start);
      const cpuNs = cpuSince(cpu);
      const to = gc.clock();
      const heapAtEnd = heapNow() - base;
      const retained = settledHeap() - base;
      return { ns, cpuNs, from, to, gcMs: 0, heapAtEnd, retained, engine: snapshotEngine(engine, drops, tally) };
    },
  };
}

/**
 * Loads `count` peers as the shared blocklist would: addresses in 198.18.0.0/15 on ports
 * 10000–59999, which no traffic of the mix uses, so every verdict stays what it was and only
 * the size of the peer table differs. They expire a week after the capture starts.
 */
function preloadBlocklist(engine: Engine, capture: InMemoryCapture, count: number): void {
  const start = capture.ts[0] ?? 0;
  for (let i = 0; i < count; i++) {
    const ip = `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;
    const loaded = engine.loadPeer(ip, 10_000 + (i % 50_000), 'both', { protocol: 'fasttrack', via: 'shared-blocklist', learnedFrom: null, learnedAt: start, expiresAt: start + 7 * 24 * 3600_000 });
    if (!loaded) throw new Error(`blocklist: peer ${ip} was not loaded`);
  }
}

const decodeCase: Case = {
  name: 'decode',
  label: 'link + decode only',
  timed: [],
  run(capture) {
    const base = settledHeap();
    const from = gc.clock();
    const cpu = process.cpuUsage();
    const start = now();
    const decode = decodePass(capture);
    const ns = elapsedNs(start);
    const cpuNs = cpuSince(cpu);
    const to = gc.clock();
    const heapAtEnd = heapNow() - base;
    return { ns, cpuNs, from, to, gcMs: 0, heapAtEnd, retained: settledHeap() - base, decode };
  },
};

interface CaseResult {
  label: string;
  passes: number;
  packetsPerSecond: Summary;
  nsPerPacket: Summary;
  /** CPU time per packet (see Pass.cpuNs). */
  cpuNsPerPacket: Summary;
  /** GC pauses during a pass (median), and their share of the pass's time (median). */
  gcMsPerPass: number;
  gcShare: number;
  heapAtEndOfPassBytes: number;
  heapRetainedAfterPassBytes: number;
  engine?: EngineSnapshot;
  decode?: DecodeOutcome;
}

function caseResult(c: Case, packets: number): CaseResult {
  const last = c.timed[c.timed.length - 1]!;
  const result: CaseResult = {
    label: c.label,
    passes: c.timed.length,
    packetsPerSecond: roundSummary(summarize(c.timed.map((pass) => packets / (pass.ns / 1e9))), 0),
    nsPerPacket: roundSummary(summarize(c.timed.map((pass) => pass.ns / packets)), 1),
    cpuNsPerPacket: roundSummary(summarize(c.timed.map((pass) => pass.cpuNs / packets)), 1),
    ...gcFigures(c.timed),
    heapAtEndOfPassBytes: median(c.timed.map((pass) => pass.heapAtEnd)),
    heapRetainedAfterPassBytes: median(c.timed.map((pass) => pass.retained)),
  };
  if (last.engine) result.engine = last.engine;
  if (last.decode) result.decode = last.decode;
  return result;
}

/** Fills in each pass's GC pauses (call after gc.settle()). */
function attributeGc(passes: readonly Pass[]): void {
  for (const pass of passes) pass.gcMs = gc.within(pass.from, pass.to);
}

function gcFigures(passes: readonly Pass[]): { gcMsPerPass: number; gcShare: number } {
  return {
    gcMsPerPass: round(median(passes.map((pass) => pass.gcMs)), 1),
    gcShare: round(median(passes.map((pass) => pass.gcMs / (pass.ns / 1e6))), 3),
  };
}

function roundSummary(summary: Summary, digits: number): Summary {
  return {
    median: round(summary.median, digits),
    min: round(summary.min, digits),
    max: round(summary.max, digits),
    spreadPercent: round(summary.spreadPercent, 1),
    values: summary.values.map((value) => round(value, digits)),
  };
}

/** Per-round ratio of two cases' time per packet (both measured in that round), as a summary. */
function ratio(numerator: Case, denominator: Case): Summary {
  return roundSummary(summarize(numerator.timed.map((pass, i) => pass.ns / denominator.timed[i]!.ns)), 3);
}

/** The same ratio of CPU times (see Pass.cpuNs). */
function cpuRatio(numerator: Case, denominator: Case): Summary {
  return roundSummary(summarize(numerator.timed.map((pass, i) => pass.cpuNs / denominator.timed[i]!.cpuNs)), 3);
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) * 1000;
}

// ---------------------------------------------------------------------------------------------
// The flow flood.

interface FloodResult {
  packets: number;
  maxFlows: number;
  description: string;
  passes: number;
  packetsPerSecond: Summary;
  nsPerPacket: Summary;
  gcMsPerPass: number;
  gcShare: number;
  largestFlowTable: number;
  heapProfile: { packets: number; flowsInTable: number; heapAboveBaselineBytes: number }[];
  heapBeforeBytes: number;
  heapAfterBytes: number;
  heapRetainedAfterPassBytes: number;
  engine: EngineSnapshot;
}

async function runFlood(options: FloodOptions, rounds: number, failures: string[], log: (line: string) => void): Promise<FloodResult> {
  const started = now();
  const capture = buildFlowFlood(options);
  const packets = capture.frames.length;
  log(`flow flood: ${formatCount(packets)} frames built in ${(elapsedNs(started) / 1e9).toFixed(1)} s`);
  const config: Partial<EngineConfig> = { maxFlows: FLOOD_MAX_FLOWS };

  // The first pass warms up and profiles the heap: a full collection after each quarter.
  const profile: FloodResult['heapProfile'] = [];
  const warmTally = new EventTally();
  const heapBefore = settledHeap();
  const warmEngine = new Engine(config, warmTally.sink);
  let largestFlowTable = 0;
  for (let quarter = 1; quarter <= 4; quarter++) {
    const from = Math.floor(((quarter - 1) * packets) / 4);
    const to = Math.floor((quarter * packets) / 4);
    largestFlowTable = Math.max(largestFlowTable, floodPass(warmEngine, capture, from, to));
    profile.push({ packets: to, flowsInTable: warmEngine.flows.size, heapAboveBaselineBytes: settledHeap() - heapBefore });
  }
  const heapAfter = settledHeap();
  if (warmEngine.flows.size > FLOOD_MAX_FLOWS) failures.push(`flood: flow table holds ${warmEngine.flows.size} > maxFlows ${FLOOD_MAX_FLOWS}`);
  const half = profile[1]!.heapAboveBaselineBytes;
  const full = profile[3]!.heapAboveBaselineBytes;
  if (full > half * 1.25 + 8 * 1048576) failures.push(`flood: heap kept growing with a full flow table (${formatMiB(half)} at 50%, ${formatMiB(full)} at 100%)`);

  const timed: Pass[] = [];
  for (let r = 0; r < rounds; r++) {
    const tally = new EventTally();
    const base = settledHeap();
    const engine = new Engine(config, tally.sink);
    const from = gc.clock();
    const cpu = process.cpuUsage();
    const start = now();
    const largest = floodPass(engine, capture, 0, packets);
    const ns = elapsedNs(start);
    const cpuNs = cpuSince(cpu);
    const to = gc.clock();
    const heapAtEnd = heapNow() - base;
    const retained = settledHeap() - base;
    largestFlowTable = Math.max(largestFlowTable, largest);
    timed.push({ ns, cpuNs, from, to, gcMs: 0, heapAtEnd, retained, engine: snapshotEngine(engine, 0, tally) });
    log(`  flood pass ${r + 1}/${rounds}: ${formatRate(packets / (ns / 1e9))} pkt/s`);
  }
  await gc.settle();
  attributeGc(timed);
  const last = timed[timed.length - 1]!.engine!;
  if (largestFlowTable > FLOOD_MAX_FLOWS) failures.push(`flood: flow table reached ${largestFlowTable} > maxFlows ${FLOOD_MAX_FLOWS}`);
  if (last.counters.flows !== packets) failures.push(`flood: ${last.counters.flows} flows started, expected one per packet (${packets})`);
  if (last.flowEvictions !== packets - FLOOD_MAX_FLOWS) failures.push(`flood: ${last.flowEvictions} evictions, expected ${packets - FLOOD_MAX_FLOWS}`);
  last.identifiedClients = last.identifiedClients.slice(0, 20);

  return {
    packets,
    maxFlows: FLOOD_MAX_FLOWS,
    description: `${formatCount(packets)} UDP datagrams, each a new flow: ${options.insideHosts} inside hosts (10.2.0.0/16) to random addresses in 198.18.0.0/15 and random high ports, ${formatCount(options.packetsPerSecond)} pkt/s simulated (no idle expiry: eviction alone bounds the table)`,
    passes: timed.length,
    packetsPerSecond: roundSummary(summarize(timed.map((pass) => packets / (pass.ns / 1e9))), 0),
    nsPerPacket: roundSummary(summarize(timed.map((pass) => pass.ns / packets)), 1),
    ...gcFigures(timed),
    largestFlowTable,
    heapProfile: profile,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    heapRetainedAfterPassBytes: median(timed.map((pass) => pass.retained)),
    engine: last,
  };
}

// ---------------------------------------------------------------------------------------------

function scaledMix(scale: number): MixOptions {
  const scaled = (value: number): number => Math.max(1, Math.round(value * scale));
  return {
    ...DEFAULT_MIX,
    webConversations: scaled(DEFAULT_MIX.webConversations),
    dnsLookups: scaled(DEFAULT_MIX.dnsLookups),
    bulkTransfers: scaled(DEFAULT_MIX.bulkTransfers),
    fastTrackClients: scaled(DEFAULT_MIX.fastTrackClients),
    bitTorrentClients: scaled(DEFAULT_MIX.bitTorrentClients),
    gnutellaServents: scaled(DEFAULT_MIX.gnutellaServents),
    edonkeyClients: scaled(DEFAULT_MIX.edonkeyClients),
    fastTrackRestarts: Math.min(scaled(DEFAULT_MIX.fastTrackRestarts), scaled(DEFAULT_MIX.fastTrackClients)),
  };
}

function describeMix(mix: GatewayMix): Record<string, unknown> {
  const capture = mix.capture;
  const packets = capture.frames.length;
  return {
    packets,
    bytes: capture.bytes,
    buffers: capture.chunks.length,
    simulatedSeconds: mix.options.durationMs / 1000,
    insideHosts: mix.insideHosts,
    outsideAddresses: mix.outsideAddresses,
    parts: mix.parts.map((part) => ({ ...part, packetShare: round(part.packets / packets, 3) })),
    options: mix.options,
  };
}

interface MixResult {
  mix: Record<string, unknown>;
  packets: number;
  bytes: number;
  durationMs: number;
  insideHosts: number;
  outsideAddresses: number;
  parts: GatewayMix['parts'];
  cases: Record<Case['name'], CaseResult>;
  ratios: {
    fullOverDecode: Summary;
    noDetectorsOverDecode: Summary;
    fastTrackOnlyOverDecode: Summary;
    blocklistOverDecode: Summary;
    fullOverNoDetectors: Summary;
    fastTrackOnlyOverNoDetectors: Summary;
    blocklistOverFull: Summary;
    fullOverBaseline?: Summary;
  };
  baseline?: { checkout: string };
  detectorShare: number;
  /** The FastTrack module's share of the time of an engine running it alone, in the same rounds. */
  fastTrackOnlyDetectorShare: number;
  /** The same two shares from CPU time rather than wall time. */
  cpuShares: { fullOverNoDetectors: Summary; fastTrackOnlyOverNoDetectors: Summary; detectorShare: number; fastTrackOnlyDetectorShare: number };
  /** One more full-engine pass under the sampling profiler: the modules' own share of its time (engine-profile.ts). */
  profile: EngineTimeShares;
  engine: EngineSnapshot;
  clients: { expected: number; identified: number; missed: string[]; unexpected: string[] };
  buildSeconds: number;
  passesSeconds: number;
}

/** Builds the gateway mix and measures the three cases on it; the capture is let go on return. */
async function runMix(scale: number, rounds: number, failures: string[], log: (line: string) => void, baseline?: BaselineSensor): Promise<MixResult> {
  let started = now();
  const mix = buildGatewayMix(scaledMix(scale));
  const capture = mix.capture;
  const packets = capture.frames.length;
  const buildSeconds = elapsedNs(started) / 1e9;
  log(`gateway mix: ${formatCount(packets)} frames, ${formatMiB(capture.bytes)} in ${capture.chunks.length} buffers, built in ${buildSeconds.toFixed(1)} s`);

  const full = engineCase('full', 'full engine (default protocol modules)', {});
  const bare = engineCase('no-detectors', 'engine, no protocol modules', { modules: [] });
  const fastTrackOnly = engineCase('fasttrack-only', 'engine, FastTrack module only', { modules: activeModules({ fasttrack: {} }, 16, { onlyNamed: true }) });
  const blocklist = engineCase('blocklist', `full engine + ${BLOCKLIST_PEERS / 1000}k blocklist peers`, {}, (engine, frames) => preloadBlocklist(engine, frames, BLOCKLIST_PEERS));
  const cases: Case[] = [decodeCase, full, bare, fastTrackOnly, blocklist];
  const before = baseline ? engineCase('baseline', `baseline: full engine of ${baseline.checkout}`, {}, undefined, baseline.Engine) : undefined;
  if (before) cases.push(before);
  started = now();
  for (let r = 0; r <= rounds; r++) {
    const line: string[] = [];
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(r + k) % cases.length]!;
      const pass = c.run(capture);
      if (r === 0) c.warmup = pass;
      else c.timed.push(pass);
      line.push(`${c.name} ${formatRate(packets / (pass.ns / 1e9))}`);
    }
    log(`  ${r === 0 ? 'warm-up' : `round ${r}/${rounds}`}: ${line.join(', ')} pkt/s`);
  }
  const passesSeconds = elapsedNs(started) / 1e9;
  const profiled = new Engine({}, new EventTally().sink);
  const shares = engineTimeShares(await profile(() => enginePass(profiled, capture), PROFILE_INTERVAL_US), PROFILE_INTERVAL_US);
  passEngines.length = 0;
  await gc.settle();
  for (const c of cases) attributeGc(c.timed);

  // Sanity: the work happened, and the same work in every pass.
  const decodeOutcome = decodeCase.timed[0]!.decode!;
  if (decodeOutcome.decoded !== packets) failures.push(`decode: ${decodeOutcome.decoded} of ${packets} frames decoded`);
  for (const c of [full, bare, fastTrackOnly, blocklist]) {
    const reference = JSON.stringify(c.warmup!.engine!.counters);
    for (const pass of c.timed) {
      if (JSON.stringify(pass.engine!.counters) !== reference) failures.push(`${c.name}: engine counters differ between passes on the same capture`);
    }
    if (c.timed[0]!.engine!.counters.packets !== packets) failures.push(`${c.name}: engine counted ${c.timed[0]!.engine!.counters.packets} of ${packets} packets`);
  }
  const engine = full.timed[full.timed.length - 1]!.engine!;
  if (!(engine.counters.clients! > 0)) failures.push('full engine: no P2P client identified (clients = 0)');
  if (!(engine.counters.dropped! > 0)) failures.push('full engine: nothing dropped (dropped = 0)');
  if (!(engine.counters.peers! > 0)) failures.push('full engine: no peer learned (peers = 0)');
  const withBlocklist = blocklist.timed[blocklist.timed.length - 1]!.engine!;
  if (withBlocklist.counters.dropped !== engine.counters.dropped || withBlocklist.counters.flows !== engine.counters.flows) {
    failures.push('blocklist: preloaded peers the traffic never reaches changed the verdicts');
  }
  if (withBlocklist.peersInTable !== engine.peersInTable + BLOCKLIST_PEERS) failures.push(`blocklist: ${withBlocklist.peersInTable} peers in the table, expected ${engine.peersInTable + BLOCKLIST_PEERS}`);
  const missed = [...mix.expectedClients].filter((client) => !engine.identifiedClients.includes(client)).sort();
  const unexpected = engine.identifiedClients.filter((client) => !mix.expectedClients.has(client));

  if (before) {
    // Same traffic, same decisions: the older build must find the same clients and drop as much.
    const old = before.timed[before.timed.length - 1]!.engine!;
    if (old.identifiedClients.join() !== engine.identifiedClients.join()) failures.push(`baseline: identified ${old.identifiedClients.length} clients, this build ${engine.identifiedClients.length}`);
  }
  const ratios = {
    fullOverDecode: ratio(full, decodeCase),
    noDetectorsOverDecode: ratio(bare, decodeCase),
    fastTrackOnlyOverDecode: ratio(fastTrackOnly, decodeCase),
    blocklistOverDecode: ratio(blocklist, decodeCase),
    fullOverNoDetectors: ratio(full, bare),
    fastTrackOnlyOverNoDetectors: ratio(fastTrackOnly, bare),
    blocklistOverFull: ratio(blocklist, full),
    // Time per packet of this build over the baseline's, round by round: above 1 is slower.
    ...(before ? { fullOverBaseline: ratio(full, before) } : {}),
  };
  return {
    ...(baseline ? { baseline: { checkout: baseline.checkout } } : {}),
    mix: describeMix(mix),
    packets,
    bytes: capture.bytes,
    durationMs: mix.options.durationMs,
    insideHosts: mix.insideHosts,
    outsideAddresses: mix.outsideAddresses,
    parts: mix.parts,
    cases: Object.fromEntries(cases.map((c) => [c.name, caseResult(c, packets)])) as Record<Case['name'], CaseResult>,
    ratios,
    detectorShare: round(1 - 1 / ratios.fullOverNoDetectors.median, 3),
    fastTrackOnlyDetectorShare: round(1 - 1 / ratios.fastTrackOnlyOverNoDetectors.median, 3),
    cpuShares: cpuShares(full, fastTrackOnly, bare),
    profile: shares,
    engine,
    clients: { expected: mix.expectedClients.size, identified: engine.identifiedClients.length, missed, unexpected },
    buildSeconds,
    passesSeconds,
  };
}

function cpuShares(full: Case, fastTrackOnly: Case, bare: Case): MixResult['cpuShares'] {
  const fullOverNoDetectors = cpuRatio(full, bare);
  const fastTrackOnlyOverNoDetectors = cpuRatio(fastTrackOnly, bare);
  return {
    fullOverNoDetectors,
    fastTrackOnlyOverNoDetectors,
    detectorShare: round(1 - 1 / fullOverNoDetectors.median, 3),
    fastTrackOnlyDetectorShare: round(1 - 1 / fastTrackOnlyOverNoDetectors.median, 3),
  };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '5' },
      'flood-rounds': { type: 'string', default: '3' },
      'skip-flood': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const scale = Number(args.scale);
  const rounds = Number(args.rounds);
  const floodRounds = Number(args['flood-rounds']);
  if (!(scale > 0) || !(rounds >= 1) || !(floodRounds >= 1)) throw new RangeError('--scale must be > 0, --rounds and --flood-rounds ≥ 1');
  const here = dirname(fileURLToPath(import.meta.url));
  const out = resolve(args.out ?? resolve(here, '../results/engine.json'));
  const log = (line: string): void => console.log(line);
  const runStarted = now();
  const failures: string[] = [];
  if (!canCollect) log('note: run with node --expose-gc for heap figures measured after full collections');

  const baseline = args.baseline === undefined ? undefined : await loadBaseline(resolve(args.baseline));
  const mixResult = await runMix(scale, rounds, failures, log, baseline);
  let flood: FloodResult | null = null;
  if (!args['skip-flood']) {
    const started = now();
    flood = await runFlood(DEFAULT_FLOOD, floodRounds, failures, log);
    log(`flow flood done in ${(elapsedNs(started) / 1e9).toFixed(1)} s`);
  }

  const fullRate = mixResult.cases.full.packetsPerSecond.median;
  const cpuList = cpus();
  const cpuModel = cpuList[0]?.model ?? 'unknown';
  const results = {
    benchmark: 'engine',
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpu: { model: cpuModel, cores: cpuList.length, speedMHz: cpuList[0]?.speed ?? 0 },
    memoryBytes: totalmem(),
    gcExposed: canCollect,
    method: {
      rounds,
      warmupRounds: 1,
      note: 'each round runs every case once on a fresh Engine, rotating their order; the warm-up round is left out; figures are medians (spread = (max − min) / median); ratios are per round (cases measured side by side), then the median',
      loop: 'for each frame: locateIp(LINKTYPE_ETHERNET) then decodeIp (decode) or Engine.judgeIp (full, no-detectors, blocklist), with the capture timestamps as the clock, as replay() does',
      heap: 'used_heap_size relative to a settled heap before the pass; "retained" is after full collections with the engine still alive',
    },
    mix: mixResult.mix,
    cases: mixResult.cases,
    ratios: { ...mixResult.ratios, detectorShareOfFullEngine: mixResult.detectorShare, fastTrackShareOfFastTrackOnlyEngine: mixResult.fastTrackOnlyDetectorShare },
    cpuShares: mixResult.cpuShares,
    engineTimeShares: mixResult.profile,
    detectorShareGoal: {
      maxShare: DETECTOR_SHARE_GOAL,
      measured: mixResult.profile.modules,
      met: mixResult.profile.modules <= DETECTOR_SHARE_GOAL,
      method: "the protocol modules' own code, of the samples a profiled full-engine pass took inside Engine.judgeIp (engineTimeShares)",
      detectionAllIn: {
        note: "full engine over no modules: the modules and the engine's work on what they found (peers learned, clients, drops, events), which an engine without modules never does",
        fromWallTime: mixResult.detectorShare,
        fromCpuTime: mixResult.cpuShares.detectorShare,
      },
    },
    clients: mixResult.clients,
    flowFlood: flood,
    goal: { packetsPerSecond: GOAL_PACKETS_PER_SECOND, case: 'full', measured: fullRate, met: fullRate >= GOAL_PACKETS_PER_SECOND },
    sanity: { ok: failures.length === 0, failures },
    timings: { buildMixSeconds: round(mixResult.buildSeconds, 2), mixPassesSeconds: round(mixResult.passesSeconds, 2), totalSeconds: round(elapsedNs(runStarted) / 1e9, 2) },
  };
  gc.stop();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

  printTable(cpuModel, mixResult, flood, log);
  log(`results: ${out} (${results.timings.totalSeconds.toFixed(1)} s)`);
  if (failures.length > 0) {
    for (const failure of failures) console.error(`SANITY FAILURE: ${failure}`);
    process.exitCode = 1;
  }
}

function printTable(cpuModel: string, result: MixResult, flood: FloodResult | null, log: (line: string) => void): void {
  const packets = result.packets;
  const cases = result.cases;
  log('');
  log(`p2pwall engine benchmark — node ${process.version}, ${cpuModel}, one core`);
  log(`mix: ${formatCount(packets)} packets, ${formatMiB(result.bytes)}, ${result.durationMs / 1000} s simulated; ${result.insideHosts} inside hosts, ${formatCount(result.outsideAddresses)} outside addresses`);
  for (const part of result.parts) {
    log(`  ${part.name.padEnd(10)} ${formatCount(part.count).padStart(7)} ${part.unit.padEnd(12)} ${formatCount(part.packets).padStart(9)} packets (${((part.packets / packets) * 100).toFixed(1).padStart(4)}%)`);
  }
  log('');
  log(`${'case'.padEnd(34)}${'packets/s'.padStart(11)}${'ns/packet'.padStart(11)}${'spread'.padStart(9)}${'× decode'.padStart(10)}${'GC'.padStart(7)}`);
  const rows: [CaseResult, number][] = [
    [cases.decode, 1],
    [cases.full, result.ratios.fullOverDecode.median],
    [cases['no-detectors'], result.ratios.noDetectorsOverDecode.median],
    [cases['fasttrack-only'], result.ratios.fastTrackOnlyOverDecode.median],
    [cases.blocklist, result.ratios.blocklistOverDecode.median],
    ...(cases.baseline ? [[cases.baseline, cases.baseline.nsPerPacket.median / cases.decode.nsPerPacket.median] as [CaseResult, number]] : []),
  ];
  for (const [row, times] of rows) {
    log(`${row.label.padEnd(34)}${formatRate(row.packetsPerSecond.median).padStart(11)}${row.nsPerPacket.median.toFixed(0).padStart(11)}${`${row.packetsPerSecond.spreadPercent.toFixed(1)}%`.padStart(9)}${times.toFixed(2).padStart(10)}${`${(row.gcShare * 100).toFixed(0)}%`.padStart(7)}`);
  }
  const shares = result.profile;
  const byModule = Object.entries(shares.byModule).map(([module, share]) => `${module} ${(share * 100).toFixed(1)}%`).join(', ');
  log(`protocol modules' own share of the full engine's time (profiled, ${formatCount(shares.samples)} samples): ${(shares.modules * 100).toFixed(1)}% (goal ≤ ${DETECTOR_SHARE_GOAL * 100}%: ${shares.modules <= DETECTOR_SHARE_GOAL ? 'met' : 'NOT met'}): ${byModule}; the engine's work on their evidence ${(shares.evidence * 100).toFixed(1)}%, the rest ${(shares.rest * 100).toFixed(1)}%`);
  log(`detection all in (full engine over no modules: the modules and everything the engine does with what they found): ${(result.detectorShare * 100).toFixed(1)}% of the full engine's time; FastTrack alone: ${(result.fastTrackOnlyDetectorShare * 100).toFixed(1)}% of its engine's time`);
  const cpu = result.cpuShares;
  log(`the same from CPU time (less disturbed on a shared machine): all modules ${(cpu.detectorShare * 100).toFixed(1)}% (spread ${cpu.fullOverNoDetectors.spreadPercent.toFixed(1)}%), FastTrack alone ${(cpu.fastTrackOnlyDetectorShare * 100).toFixed(1)}%; full engine ${cases.full.cpuNsPerPacket.median.toFixed(0)} CPU ns/packet, FastTrack only ${cases['fasttrack-only'].cpuNsPerPacket.median.toFixed(0)}, none ${cases['no-detectors'].cpuNsPerPacket.median.toFixed(0)}`);
  const againstBaseline = result.ratios.fullOverBaseline;
  if (againstBaseline) log(`against the baseline (${result.baseline?.checkout}): ${againstBaseline.median.toFixed(3)}× its time per packet, median of ${result.cases.full.passes} rounds side by side (spread ${againstBaseline.spreadPercent.toFixed(1)}%)`);
  log(`a ${formatCount(BLOCKLIST_PEERS)}-peer shared blocklist costs ${result.ratios.blocklistOverFull.median.toFixed(2)}× the full engine's time per packet (same verdicts)`);
  const engine = result.engine;
  const c = engine.counters;
  log(
    `engine (last pass): flows ${formatCount(c.flows!)} (${formatCount(engine.flowsInTable)} in table, ${formatCount(engine.flowExpirations)} expired), clients ${c.clients}, peers ${formatCount(c.peers!)}, dropped ${formatCount(c.dropped!)} (learned peer ${formatCount(c.droppedLearnedPeer!)}, time-lock ${formatCount(c.droppedTimeLock!)}, signature ${formatCount(c.droppedSignature!)}), evidence ${formatCount(c.evidence!)}`,
  );
  const { missed, unexpected } = result.clients;
  log(`clients: ${result.clients.identified} identified of ${result.clients.expected} expected${missed.length ? `; missed ${missed.join(' ')}` : ''}${unexpected.length ? `; UNEXPECTED ${unexpected.join(' ')}` : ''}`);
  log(`heap: full engine ${formatMiB(cases.full.heapAtEndOfPassBytes)} at end of pass, ${formatMiB(cases.full.heapRetainedAfterPassBytes)} retained (engine state after GC)`);
  if (flood) {
    const heap = flood.heapProfile.map((point) => `${formatMiB(point.heapAboveBaselineBytes)} @ ${formatCount(point.packets)}`).join(', ');
    log(
      `flow flood: ${formatCount(flood.packets)} new UDP flows, maxFlows ${formatCount(flood.maxFlows)}: ${formatRate(flood.packetsPerSecond.median)} pkt/s (${flood.nsPerPacket.median.toFixed(0)} ns/packet, spread ${flood.packetsPerSecond.spreadPercent.toFixed(1)}%, GC ${(flood.gcShare * 100).toFixed(0)}%); largest table ${formatCount(flood.largestFlowTable)}; heap ${heap}`,
    );
  }
  const fullRate = cases.full.packetsPerSecond.median;
  log(`goal ≥ ${formatCount(GOAL_PACKETS_PER_SECOND)} pkt/s (full engine, one core): ${fullRate >= GOAL_PACKETS_PER_SECOND ? 'met' : 'NOT met'} (${formatCount(fullRate)} pkt/s)`);
}

await main();
