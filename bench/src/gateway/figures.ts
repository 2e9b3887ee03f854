/**
 * bench/gateway's figures, computed from its records: bulk throughput with and without the
 * sensor, and per queue consumer the zero-drop rate of new flows (its ladder) and the overloaded
 * rate (its unpaced flood), with the ratios the goals are about. A figure the generator
 * bounded (a ladder that never dropped, a flood the consumer took whole) is flagged as a lower
 * bound rather than presented as the consumer's own.
 */
import type { GcWindow } from './consumer.js';
import { CONSUMERS, type BulkConfig, type BulkResult, type ConfigName, type Consumer, type StepResult } from './results.js';
import { round, summarize, type Summary } from '../measure.js';

/** An overloaded consumer below this share of a core was crowded out by other load. */
export const UNCONTENDED_PERCENT = 90;

/**
 * An overloaded consumer that got less than UNCONTENDED_PERCENT of a core was crowded out. One
 * that dropped nothing was not overloaded at all (the generator bounded it): its low CPU is idle
 * time, and its flood counts (as a lower bound).
 */
export function crowdedOut(step: StepResult): boolean {
  return step.kind === 'saturation' && step.drops > 0 && step.cpu.consumerPercentOfCore !== null && step.cpu.consumerPercentOfCore < (UNCONTENDED_PERCENT * (step.cpu.consumerBudgetPercent ?? 100)) / 100;
}

/**
 * A consumer that answers less than it is offered shows no drop until the kernel queue is full
 * (16,384 packets: at a deficit of 10,000/s, 1.6 s, longer than a step). So a step also fails
 * when the consumer never caught up in the step's final third: the fewest packets seen waiting
 * then (sampled every 5 ms) were more than this much of the offered traffic. A consumer that
 * keeps up empties what a pause (a GC, stretched fivefold by a 20 % CPU budget) left behind
 * within that time; one that falls behind by more than a tenth of the rate has a backlog that
 * only grows (after two thirds of a step, over 100 ms of the rate).
 *
 * Why not the backlog at the step's end: one pause just before the generator stopped left the
 * same backlog as a deficit, so a consumer that kept up failed or passed by where its last
 * scavenge fell (the sensor's ladder failed at 10,000/s in one round and passed 15,000/s in the
 * next). `queuedAtEnd` stays in the records.
 */
export const BEHIND_MS = 100;
/** Queued packets below which a step is never called behind (a few batches of 256). */
const BEHIND_FLOOR = 1024;

/** Whether the consumer was falling behind: it never caught up in the step's final third (see BEHIND_MS). */
export function fellBehind(step: StepResult): boolean {
  const settled = step.lowestQueuedInFinalThird ?? step.queuedAtEnd;
  if (settled === null || step.offeredRate === null) return false;
  return settled > Math.max(BEHIND_FLOOR, (step.offeredRate * BEHIND_MS) / 1000);
}

export interface LadderFigure {
  round: number;
  /**
   * Highest offered rate of the round's ladder (refinement step included) with zero queue drops
   * and a backlog that emptied in the step's final third (fellBehind); 0 when its first step failed.
   */
  zeroDropRate: number;
  /** Queued packets/s the queue path carried at that step (one queued packet per new flow). */
  queuedPerSecond: number;
  /** Why the ladder ended: drops, a backlog that never emptied in a step's final third, the generator fell short, or the top of the ladder (the last two: zeroDropRate is a lower bound). */
  endedBy: 'drops' | 'behind' | 'generator' | 'ladder top';
  /** The lowest offered rate that dropped or fell behind. */
  firstDropRate: number | null;
  dropsAtFirstDropRate: number | null;
  /** The consumer's GC pauses during that step. */
  gcAtFirstDrop: GcWindow | null;
  /** The longest GC pause during the steps without drops. */
  longestGcMsWithoutDrops: number;
  /** The fullest the kernel queue was seen in the steps without drops, and in the first dropping step. */
  peakQueuedWithoutDrops: number;
  peakQueuedAtFirstDrop: number | null;
  /**
   * The longest the consumer fell behind in a step without drops: the fullest queue seen ÷ the
   * offered rate, ms. A stall (a GC pause, a slow callback) shows here before it costs a drop.
   */
  longestBacklogMsWithoutDrops: number;
  /** The consumer's CPU (% of one core) in the first dropping step: below 100, it was not out of CPU on average. */
  consumerCpuAtFirstDrop: number | null;
}

export function ladderFigure(steps: readonly StepResult[]): LadderFigure {
  let best: StepResult | undefined;
  let endedBy: LadderFigure['endedBy'] = 'ladder top';
  let firstDrop: StepResult | undefined;
  for (const step of steps.filter((s) => s.kind === 'ladder')) {
    if (step.drops > 0 || fellBehind(step)) {
      endedBy = step.drops > 0 ? 'drops' : 'behind';
      firstDrop = step;
      break;
    }
    if (step.generatorLimited) {
      endedBy = 'generator';
      break;
    }
    best = step;
  }
  // The refine steps bisect the gap in order: each clean one is higher than the clean rate
  // before it, each failing one lower than the failing rate before it.
  for (const refine of steps.filter((s) => s.kind === 'refine')) {
    const failed = refine.drops > 0 || fellBehind(refine);
    if (!failed && !refine.generatorLimited) best = refine;
    else if (failed) firstDrop = refine;
  }
  const clean = steps.filter((s) => s.drops === 0);
  return {
    round: steps[0]?.round ?? 0,
    zeroDropRate: best?.offeredRate ?? 0,
    queuedPerSecond: best?.queue?.processedPerSecond ?? 0,
    endedBy,
    firstDropRate: firstDrop?.offeredRate ?? null,
    dropsAtFirstDropRate: firstDrop?.drops ?? null,
    gcAtFirstDrop: firstDrop?.consumerGc ?? null,
    longestGcMsWithoutDrops: clean.reduce((max, s) => Math.max(max, s.consumerGc?.maxMs ?? 0), 0),
    peakQueuedWithoutDrops: clean.reduce((max, s) => Math.max(max, s.peakQueued ?? 0), 0),
    peakQueuedAtFirstDrop: firstDrop?.peakQueued ?? null,
    longestBacklogMsWithoutDrops: round(clean.reduce((max, s) => Math.max(max, s.offeredRate ? ((s.peakQueued ?? 0) / s.offeredRate) * 1000 : 0), 0), 1),
    consumerCpuAtFirstDrop: firstDrop?.cpu.consumerPercentOfCore ?? null,
  };
}

function rounded(summary: Summary, digits: number): Summary {
  return { median: round(summary.median, digits), min: round(summary.min, digits), max: round(summary.max, digits), spreadPercent: round(summary.spreadPercent, 1), values: summary.values.map((v) => round(v, digits)) };
}

export function summaryOf(values: number[], digits = 0): Summary | null {
  return values.length > 0 ? rounded(summarize(values), digits) : null;
}

function perRoundRatio(rounds: number, numerator: (r: number) => number | undefined, denominator: (r: number) => number | undefined): Summary | null {
  const values: number[] = [];
  for (let r = 1; r <= rounds; r++) {
    const n = numerator(r);
    const d = denominator(r);
    if (n !== undefined && d !== undefined && d > 0) values.push(n / d);
  }
  return summaryOf(values, 3);
}

function perPacketMicros(summary: Summary | null): number | null {
  return summary && summary.median > 0 ? round(1e6 / summary.median, 2) : null;
}

export interface BulkFigure {
  noRulesMBps: Summary | null;
  conntrackOnlyMBps: Summary | null;
  sensorMBps: Summary | null;
  /** sensor ÷ no rules, per sample (the three run back to back): the goal's figure. */
  ratio: Summary | null;
  /** sensor ÷ conntrack only: p2pwall's own chain, with conntrack's cost taken out. */
  sensorOverConntrackOnly: Summary | null;
  conntrackOnlyOverNoRules: Summary | null;
  queuedPacketsPerTransfer: Summary | null;
}

function bulkFigures(bulk: readonly BulkResult[]): Record<'download' | 'upload', BulkFigure> {
  const samples = [...new Set(bulk.map((b) => `${b.round}.${b.sample}`))];
  const bulkOf = (config: BulkConfig, direction: 'download' | 'upload', key: string) => bulk.find((b) => b.config === config && b.direction === direction && `${b.round}.${b.sample}` === key)?.megabytesPerSecond;
  const pairRatio = (direction: 'download' | 'upload', numerator: BulkConfig, denominator: BulkConfig) => {
    const values: number[] = [];
    for (const key of samples) {
      const n = bulkOf(numerator, direction, key);
      const d = bulkOf(denominator, direction, key);
      if (n !== undefined && d !== undefined && d > 0) values.push(n / d);
    }
    return summaryOf(values, 3);
  };
  const figure = (direction: 'download' | 'upload'): BulkFigure => {
    const of = (config: BulkConfig) => bulk.filter((b) => b.config === config && b.direction === direction);
    return {
      noRulesMBps: summaryOf(of('none').map((b) => b.megabytesPerSecond), 1),
      conntrackOnlyMBps: summaryOf(of('conntrack').map((b) => b.megabytesPerSecond), 1),
      sensorMBps: summaryOf(of('sensor').map((b) => b.megabytesPerSecond), 1),
      ratio: pairRatio(direction, 'sensor', 'none'),
      sensorOverConntrackOnly: pairRatio(direction, 'sensor', 'conntrack'),
      conntrackOnlyOverNoRules: pairRatio(direction, 'conntrack', 'none'),
      queuedPacketsPerTransfer: summaryOf(of('sensor').map((b) => b.queuedPackets ?? 0)),
    };
  };
  return { download: figure('download'), upload: figure('upload') };
}

export interface ConsumerFigure {
  label: string;
  /** Median over rounds of the ladder's zero-drop rate (null: no ladder for this consumer). */
  zeroDropFlowsPerSecond: Summary | null;
  /** True when a round's ladder ended without drops (generator or ladder top): the rate is "at least", generator-bound. */
  zeroDropIsLowerBound: boolean;
  queuedPacketsPerSecondAtZeroDrop: Summary | null;
  /** Unpaced flood: packets/s the consumer received and answered. */
  overloadedPacketsPerSecond: Summary | null;
  /** True when a counted flood had no queue drops: the consumer took all the generator sent, so its own rate is higher. */
  overloadedIsLowerBound: boolean;
  /** 1 / the overloaded rate: wall time a packet (meaningless when the flood was generator-bound). */
  microsecondsPerPacket: number | null;
  /** The consumer's CPU time (its process, all threads) per packet in the flood: its cost even when the generator bounded it. */
  cpuMicrosecondsPerPacket: Summary | null;
  consumerCpuPercentOfCore: Summary | null;
  machineBusyPercent: Summary | null;
  generatorDatagramsPerSecondAtOverload: Summary | null;
  /** Rounds whose flood was left out: the consumer got < UNCONTENDED_PERCENT of a core. */
  contendedRounds: number[];
  perRound: LadderFigure[];
}

/** exact: neither side generator-bound; upper/lower: the true ratio is at most/at least the figure; unknown: both sides bound. */
export type RatioBound = 'exact' | 'upper bound' | 'lower bound' | 'unknown';

function ratioBound(numeratorBound: boolean, denominatorBound: boolean): RatioBound {
  if (numeratorBound && denominatorBound) return 'unknown';
  if (denominatorBound) return 'upper bound';
  return numeratorBound ? 'lower bound' : 'exact';
}

/** A ratio of two consumers, zero-drop and overloaded, per round, with what bounds it. */
export interface ConsumerRatio {
  zeroDrop: Summary | null;
  overloaded: Summary | null;
  /**
   * The denominator's CPU µs a packet ÷ the numerator's, in the overloaded floods: the rate ratio
   * the two would have with a core each, were both CPU-bound. Not bounded by the generator, but
   * a consumer the generator starved answers smaller batches, so its cost a packet is overstated.
   */
  byCpuCost: Summary | null;
  /** Whether each side's figures are exact or only "at least" (generator-bound). */
  zeroDropBound: RatioBound;
  overloadedBound: RatioBound;
  /** How to read the ratios when either side is generator-bound (then the true ratio is not known exactly). */
  note: string | null;
}

export function figures(steps: readonly StepResult[], bulk: readonly BulkResult[], rounds: number) {
  const ladders = (consumer: Consumer): LadderFigure[] => {
    const result: LadderFigure[] = [];
    for (let r = 1; r <= rounds; r++) {
      const own = steps.filter((s) => s.round === r && s.config === consumer && (s.kind === 'ladder' || s.kind === 'refine'));
      if (own.length > 0) result.push(ladderFigure(own));
    }
    return result;
  };
  // An overloaded consumer's figure counts only when it had (nearly) a core to itself; when none
  // did, every step counts and `contendedRounds` says so.
  const floods = (config: ConfigName) => steps.filter((s) => s.config === config && s.kind === 'saturation');
  const uncontended = (step: StepResult) => !crowdedOut(step);
  const counted = (config: ConfigName) => (floods(config).some(uncontended) ? floods(config).filter(uncontended) : floods(config));
  const ladderOf = new Map<Consumer, LadderFigure[]>();
  const consumerFigure = (consumer: Consumer): ConsumerFigure => {
    const perRound = ladders(consumer);
    ladderOf.set(consumer, perRound);
    const overloaded = summaryOf(counted(consumer).map((s) => s.queue!.processedPerSecond));
    return {
      label: CONSUMERS[consumer].label,
      zeroDropFlowsPerSecond: summaryOf(perRound.map((l) => l.zeroDropRate)),
      zeroDropIsLowerBound: perRound.some((l) => l.endedBy === 'generator' || l.endedBy === 'ladder top'),
      queuedPacketsPerSecondAtZeroDrop: summaryOf(perRound.map((l) => l.queuedPerSecond)),
      overloadedPacketsPerSecond: overloaded,
      overloadedIsLowerBound: counted(consumer).some((s) => s.drops === 0),
      microsecondsPerPacket: perPacketMicros(overloaded),
      cpuMicrosecondsPerPacket: summaryOf(
        counted(consumer)
          .filter((s) => s.cpu.consumerPercentOfCore !== null && (s.queue?.processedPerSecond ?? 0) > 0)
          .map((s) => (s.cpu.consumerPercentOfCore! / 100) * (1e6 / s.queue!.processedPerSecond)),
        2,
      ),
      consumerCpuPercentOfCore: summaryOf(counted(consumer).filter((s) => s.cpu.consumerPercentOfCore !== null).map((s) => s.cpu.consumerPercentOfCore!), 1),
      machineBusyPercent: summaryOf(counted(consumer).map((s) => s.cpu.machineBusyPercent), 1),
      generatorDatagramsPerSecondAtOverload: summaryOf(counted(consumer).map((s) => s.generator.rate)),
      contendedRounds: floods(consumer).filter((s) => !uncontended(s)).map((s) => s.round),
      perRound,
    };
  };
  const measured = (Object.keys(CONSUMERS) as Consumer[]).filter((c) => steps.some((s) => s.config === c));
  const byConsumer = Object.fromEntries(measured.map((c) => [c, consumerFigure(c)])) as Partial<Record<Consumer, ConsumerFigure>>;

  const zeroDropOf = (consumer: Consumer, r: number) => ladderOf.get(consumer)?.find((l) => l.round === r)?.zeroDropRate;
  const overloadedOf = (consumer: Consumer, r: number) => counted(consumer).find((s) => s.round === r)?.queue?.processedPerSecond;
  const cpuCostOf = (consumer: Consumer, r: number) => {
    const step = counted(consumer).find((s) => s.round === r);
    const cpu = step?.cpu.consumerPercentOfCore;
    const rate = step?.queue?.processedPerSecond ?? 0;
    return cpu !== null && cpu !== undefined && rate > 0 ? (cpu / 100) * (1e6 / rate) : undefined;
  };
  const ratio = (numerator: Consumer, denominator: Consumer): ConsumerRatio | null => {
    const n = byConsumer[numerator];
    const d = byConsumer[denominator];
    if (!n || !d) return null;
    const notes: string[] = [];
    if (d.zeroDropIsLowerBound) notes.push(`${denominator}'s zero-drop rate is generator-bound (at least the figure), so the zero-drop ratio is an upper bound`);
    if (n.zeroDropIsLowerBound) notes.push(`${numerator}'s zero-drop rate is generator-bound, so the zero-drop ratio is a lower bound`);
    if (d.overloadedIsLowerBound) notes.push(`${denominator} took the whole unpaced flood, so the overloaded ratio is an upper bound`);
    if (n.overloadedIsLowerBound) notes.push(`${numerator} took the whole unpaced flood, so the overloaded ratio is a lower bound`);
    return {
      zeroDrop: perRoundRatio(rounds, (r) => zeroDropOf(numerator, r), (r) => zeroDropOf(denominator, r)),
      overloaded: perRoundRatio(rounds, (r) => overloadedOf(numerator, r), (r) => overloadedOf(denominator, r)),
      byCpuCost: perRoundRatio(rounds, (r) => cpuCostOf(denominator, r), (r) => cpuCostOf(numerator, r)),
      zeroDropBound: ratioBound(n.zeroDropIsLowerBound, d.zeroDropIsLowerBound),
      overloadedBound: ratioBound(n.overloadedIsLowerBound, d.overloadedIsLowerBound),
      note: notes.length > 0 ? notes.join('; ') : null,
    };
  };
  const ceilings = steps.filter((s) => s.kind === 'ceiling');

  return {
    bulk: bulkFigures(bulk),
    newFlows: {
      note: `zero-drop: the highest offered rate of new flows (one datagram each) with no kernel queue drop (ladder + refine steps); overloaded: packets/s the consumer received and answered during an unpaced flood (Δid_sequence − Δuser_dropped); only floods where the consumer got ≥ ${UNCONTENDED_PERCENT}% of its CPU budget, or dropped nothing (generator-bound), count (all of them when none did)`,
      ...byConsumer,
      sensorOverC: ratio('sensor', 'c'),
      bareAddonOverC: ratio('addon', 'c'),
      sensorNfqueueOverC: ratio('sensor-nfqueue', 'c'),
      bareNfqueueOverC: ratio('nfqueue', 'c'),
      sensorOverBareAddon: ratio('sensor', 'addon'),
      sensorOverSensorNfqueue: ratio('sensor', 'sensor-nfqueue'),
      /** Issue 15 item 3: the sensor publishing to NATS over the sensor alone (same rounds). */
      sensorUplinkOverSensor: ratio('sensor-uplink', 'sensor'),
      /** What NF_REPEAT + mark (the packet re-enters the hook) costs each binding, and what the engine adds on top. */
      addonRepeatOverAddon: ratio('addon-repeat', 'addon'),
      sensorOverAddonRepeat: ratio('sensor', 'addon-repeat'),
      nfqueueRepeatOverNfqueue: ratio('nfqueue-repeat', 'nfqueue'),
    },
    generator: {
      note: 'unpaced, no p2pwall rules: what the generator (plus the forwarding path, which runs in its context) sends, and what arrives',
      sentPerSecond: summaryOf(ceilings.map((s) => s.generator.rate)),
      deliveredPerSecond: summaryOf(ceilings.map((s) => s.deliveredPerSecond)),
      cpuPercentOfCore: summaryOf(ceilings.map((s) => s.generator.cpuPercentOfCore), 1),
    },
  };
}

export type Figures = ReturnType<typeof figures>;
