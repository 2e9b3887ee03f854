/**
 * bench/gateway's report: the issue's goals decided from the figures (as far as the generator's
 * bounds allow), what limits each figure read from the measurements, and the table on stdout.
 */
import type { ConsumerFigure, ConsumerRatio, Figures, RatioBound } from './figures.js';
import { CONSUMERS, SENSORS, type Consumer, type SensorConsumer, type StepResult } from './results.js';
import { formatCount, median, round, type Summary } from '../measure.js';

const GOAL_BULK_RATIO = 0.9;
/** Issue 15's goals: the sensor's zero-drop rate of new flows ≥ 0.5 × the C reference's, the bare addon's ≥ 0.8 ×. */
const GOAL_SENSOR_OVER_C = 0.5;
const GOAL_BARE_ADDON_OVER_C = 0.8;

const log = (line: string): void => console.log(line);

export function formatK(rate: number): string {
  return rate >= 1000 ? `${round(rate / 1000, 1)}k` : String(rate);
}

function formatMB(value: number): string {
  return `${formatCount(value)} MB/s`;
}

/** What the table needs of the run's options. */
export interface TableOptions {
  rounds: number;
  bulk: boolean;
  bulkBytes: number;
}

/** What limits each figure, read from the measurements rather than assumed. */
export function limits(f: Figures, steps: readonly StepResult[], cores: number, bulkBytes: number): Record<string, string> {
  const flows = f.newFlows;
  const generator = f.generator.sentPerSecond?.median ?? 0;
  const { download, upload } = f.bulk;
  const measured = (Object.keys(CONSUMERS) as Consumer[]).filter((c) => flows[c]);
  const fastest = Math.max(0, ...measured.map((c) => flows[c]!.overloadedPacketsPerSecond?.median ?? 0));
  const generatorBound = measured.filter((c) => flows[c]!.zeroDropIsLowerBound || flows[c]!.overloadedIsLowerBound);
  const result: Record<string, string> = {};
  if (download.noRulesMBps) {
    result.bulk =
      `no userspace in the bulk path: ${download.queuedPacketsPerTransfer?.median ?? '?'} packets of a ${formatCount(bulkBytes / 1e6)} MB download and ${upload.queuedPacketsPerTransfer?.median ?? '?'} of the upload reached the queue. ` +
      `What the rules cost is kernel work per packet: conntrack alone gives ${download.conntrackOnlyOverNoRules?.median ?? '?'} (down) / ${upload.conntrackOnlyOverNoRules?.median ?? '?'} (up) of the rule-free rate, the P2PWALL chain on top of conntrack ${download.sensorOverConntrackOnly?.median ?? '?'} / ${upload.sensorOverConntrackOnly?.median ?? '?'}. ` +
      `All configurations are bound by the endpoints (CPython client, Node server) and veth forwarding sharing ${cores} cores`;
  }
  result.generator =
    `the generator sends ${formatCount(generator)} datagrams/s with no rules, ${round(generator / Math.max(fastest, 1), 2)}× the fastest overloaded consumer (${formatCount(fastest)} pkt/s). ` +
    (generatorBound.length > 0 ? `Generator-bound (figures are "at least"): ${generatorBound.map((c) => `${c}${flows[c]!.zeroDropIsLowerBound ? ' zero-drop' : ''}${flows[c]!.overloadedIsLowerBound ? ' overloaded' : ''}`).join(', ')}` : 'No consumer figure is generator-bound');
  result.perPacket = `overloaded, wall µs a packet (1 / rate) and the consumer's CPU µs a packet: ${measured.map((c) => `${c} ${flows[c]!.microsecondsPerPacket ?? '?'} / ${flows[c]!.cpuMicrosecondsPerPacket?.median ?? '?'} at ${flows[c]!.consumerCpuPercentOfCore?.median ?? '?'}% of a core`).join('; ')}`;
  for (const consumer of Object.keys(SENSORS) as SensorConsumer[]) {
    const rounds = flows[consumer]?.perRound ?? [];
    if (rounds.length === 0) continue;
    const dropGc = rounds
      .filter((l) => l.firstDropRate !== null)
      .map((l) => `${formatK(l.firstDropRate!)}/s: ${formatCount(l.dropsAtFirstDropRate ?? 0)} dropped at ${l.consumerCpuAtFirstDrop ?? '?'}% of a core, queue seen at ${l.peakQueuedAtFirstDrop ?? '?'}, longest GC pause ${l.gcAtFirstDrop?.maxMs ?? '?'} ms (${l.gcAtFirstDrop?.major ?? '?'} major)`)
      .join('; ');
    const busy = steps.filter((s) => s.config === consumer && (s.kind === 'ladder' || s.kind === 'refine') && (s.offeredRate ?? 0) >= 20_000 && s.consumerGc && s.peakQueued !== null);
    const withMajor = busy.filter((s) => s.consumerGc!.major > 0);
    const withoutMajor = busy.filter((s) => s.consumerGc!.major === 0);
    const peak = (list: StepResult[]) => (list.length > 0 ? median(list.map((s) => s.peakQueued!)) : '—');
    result[`${consumer}ZeroDrop`] =
      `first dropping steps: ${dropGc || 'none'}. In steps without drops: longest GC pause ${Math.max(0, ...rounds.map((l) => l.longestGcMsWithoutDrops))} ms, fullest queue seen ${Math.max(0, ...rounds.map((l) => l.peakQueuedWithoutDrops))} packets. ` +
      `Steps at ≥ 20k/s with a major GC (${withMajor.length}): queue peaked at a median ${peak(withMajor)}, ${withMajor.filter((s) => s.drops > 0).length} dropped; without one (${withoutMajor.length}): ${peak(withoutMajor)}, ${withoutMajor.filter((s) => s.drops > 0).length} dropped`;
  }
  const uplink = flows['sensor-uplink'];
  const alone = flows.sensor;
  if (uplink && alone) {
    const worst = (c: ConsumerFigure, pick: (l: ConsumerFigure['perRound'][number]) => number) => Math.max(0, ...c.perRound.map(pick));
    result.uplinkGc =
      `issue 15 item 3, the sensor on the addon with and without its uplink publishing to a nats-server: zero-drop ${alone.zeroDropFlowsPerSecond?.median ?? '?'} vs ${uplink.zeroDropFlowsPerSecond?.median ?? '?'} /s (ratio ${flows.sensorUplinkOverSensor?.zeroDrop?.median ?? '?'}), ` +
      `longest GC pause without drops ${worst(alone, (l) => l.longestGcMsWithoutDrops)} vs ${worst(uplink, (l) => l.longestGcMsWithoutDrops)} ms, longest backlog without drops ${worst(alone, (l) => l.longestBacklogMsWithoutDrops)} vs ${worst(uplink, (l) => l.longestBacklogMsWithoutDrops)} ms, ` +
      `CPU µs a packet overloaded ${alone.cpuMicrosecondsPerPacket?.median ?? '?'} vs ${uplink.cpuMicrosecondsPerPacket?.median ?? '?'}`;
  }
  // From CPU cost a packet: the overloaded rates of generator-bound floods would say nothing.
  const share = (ratio: ConsumerRatio | null, what: string) => (ratio?.byCpuCost ? `${what} ${round((1 - ratio.byCpuCost.median) * 100, 0)}%` : null);
  const shares = [share(flows.addonRepeatOverAddon, 'NF_REPEAT + mark costs the bare addon'), share(flows.nfqueueRepeatOverNfqueue, 'the bare nfqueue binding'), share(flows.sensorOverAddonRepeat, 'the engine and the sensor\'s callback cost the addon with NF_REPEAT')].filter((x) => x !== null);
  if (shares.length > 0) result.repeatShare = `of the rate by CPU cost a packet: ${shares.join('; ')}`;
  return result;
}

export interface Goal {
  goal: number | null;
  measured: number | null;
  /** null: not measured, or not decided because the generator bounded the figure on the side that matters. */
  met: boolean | null;
  what: string;
  /** For a ratio: whether the measured figure is exact or a bound (generator-bound sides), and what that means. */
  bound?: RatioBound;
  note?: string | null;
  /** For a ratio: the same ratio from the consumers' CPU cost a packet, which the generator does not bound. */
  byCpuCost?: number | null;
}

function atLeast(goal: number, measured: number | null | undefined, bound: RatioBound = 'exact'): Pick<Goal, 'goal' | 'measured' | 'met'> {
  if (measured === null || measured === undefined) return { goal, measured: null, met: null };
  const met = measured >= goal;
  // An upper bound that misses is a miss, a lower bound that meets is a meet; anything else is undecided.
  const decided = bound === 'exact' || (bound === 'upper bound' && !met) || (bound === 'lower bound' && met);
  return { goal, measured, met: decided ? met : null };
}

function ratioGoal(goal: number, ratio: ConsumerRatio | null, what: string): Goal {
  return { ...atLeast(goal, ratio?.zeroDrop?.median, ratio?.zeroDropBound), what, bound: ratio?.zeroDropBound ?? 'exact', note: ratio?.note ?? null, byCpuCost: ratio?.byCpuCost?.median ?? null };
}

export function goalsOf(f: Figures): Record<string, Goal> {
  const flows = f.newFlows;
  return {
    bulkRatio: { ...atLeast(GOAL_BULK_RATIO, f.bulk.download.ratio?.median), what: 'download MB/s with the sensor (queue.binding addon) running ÷ with no p2pwall rules, per back-to-back sample, median' },
    bulkUploadRatio: { ...atLeast(GOAL_BULK_RATIO, f.bulk.upload.ratio?.median), what: 'the same for the upload' },
    sensorZeroDropOverC: ratioGoal(GOAL_SENSOR_OVER_C, flows.sensorOverC, "the sensor's (queue.binding addon) zero-drop rate of new flows ÷ the C reference's, per round, median"),
    bareAddonZeroDropOverC: ratioGoal(GOAL_BARE_ADDON_OVER_C, flows.bareAddonOverC, "the bare addon's zero-drop rate of new flows ÷ the C reference's, per round, median"),
  };
}

export function printTable(f: Figures, options: TableOptions, cpuModel: string, cores: number, kernel: string, seconds: number, goals: Record<string, Goal>): void {
  const s = (summary: Summary | null | undefined, format: (v: number) => string = formatCount) => (summary ? `${format(summary.median)} (±${summary.spreadPercent.toFixed(0)}%)` : '—');
  const ratio = (summary: Summary | null | undefined) => (summary ? summary.median.toFixed(3) : '—');
  log('');
  log(`p2pwall gateway benchmark — node ${process.version}, ${cpuModel} × ${cores}, kernel ${kernel}, ${options.rounds} rounds, ${seconds.toFixed(0)} s`);
  if (options.bulk) {
    log('');
    log(`bulk TCP through the gateway, ${formatCount(options.bulkBytes / 1e6)} MB per transfer (medians, spread):`);
    log(`  ${'direction'.padEnd(10)}${'A: no rules'.padStart(20)}${'conntrack only'.padStart(20)}${'B: sensor running'.padStart(20)}${'B/A'.padStart(8)}${'B/ct'.padStart(8)}${'queued pkts'.padStart(13)}`);
    for (const direction of ['download', 'upload'] as const) {
      const b = f.bulk[direction];
      log(
        `  ${direction.padEnd(10)}${s(b.noRulesMBps, formatMB).padStart(20)}${s(b.conntrackOnlyMBps, formatMB).padStart(20)}${s(b.sensorMBps, formatMB).padStart(20)}${ratio(b.ratio).padStart(8)}${ratio(b.sensorOverConntrackOnly).padStart(8)}` +
          `${String(b.queuedPacketsPerTransfer?.median ?? '—').padStart(13)}`,
      );
    }
  }
  log('');
  log('new UDP flows through NFQUEUE (one datagram = one new flow = one queued packet; ≥: generator-bound):');
  log(`  ${'consumer'.padEnd(36)}${'zero-drop flows/s'.padStart(20)}${'per round'.padStart(22)}${'overloaded pkt/s'.padStart(20)}${'µs/pkt'.padStart(8)}${'CPU µs'.padStart(8)}${'CPU'.padStart(7)}`);
  for (const consumer of Object.keys(CONSUMERS) as Consumer[]) {
    const c = f.newFlows[consumer];
    if (!c) continue;
    const perRound = c.perRound.map((l) => `${formatK(l.zeroDropRate)}${l.endedBy === 'drops' || l.endedBy === 'behind' ? '' : l.endedBy === 'generator' ? '(gen)' : '+'}`).join(' ') || '—';
    const zero = c.zeroDropFlowsPerSecond ? `${c.zeroDropIsLowerBound ? '≥ ' : ''}${s(c.zeroDropFlowsPerSecond)}` : '—';
    const over = c.overloadedPacketsPerSecond ? `${c.overloadedIsLowerBound ? '≥ ' : ''}${s(c.overloadedPacketsPerSecond)}` : '—';
    log(`  ${c.label.padEnd(36)}${zero.padStart(20)}${perRound.padStart(22)}${over.padStart(20)}${String(c.microsecondsPerPacket ?? '—').padStart(8)}${String(c.cpuMicrosecondsPerPacket?.median ?? '—').padStart(8)}${`${c.consumerCpuPercentOfCore?.median ?? '—'}%`.padStart(7)}`);
  }
  const ratios = [
    ['sensor / C', f.newFlows.sensorOverC],
    ['bare addon / C', f.newFlows.bareAddonOverC],
    ['sensor on nfqueue / C', f.newFlows.sensorNfqueueOverC],
    ['sensor / sensor on nfqueue', f.newFlows.sensorOverSensorNfqueue],
    ['sensor with uplink / sensor', f.newFlows.sensorUplinkOverSensor],
  ] as const;
  const bound = (b: RatioBound) => (b === 'exact' ? '' : ` (${b})`);
  for (const [label, value] of ratios) {
    if (value) log(`  ${label}: zero-drop ${ratio(value.zeroDrop)}${bound(value.zeroDropBound)}, overloaded ${ratio(value.overloaded)}${bound(value.overloadedBound)}, by CPU cost a packet ${ratio(value.byCpuCost)}`);
  }
  log(`  generator with no rules: ${s(f.generator.sentPerSecond)} datagrams/s sent, ${s(f.generator.deliveredPerSecond)} arrived`);
  log('');
  for (const [name, goal] of Object.entries(goals)) {
    if (goal.goal === null) continue;
    const verdict = goal.met === null ? (goal.measured === null ? 'not measured' : 'undecided') : goal.met ? 'met' : 'NOT met';
    const bound = goal.bound && goal.bound !== 'exact' ? `, ${goal.bound}` : '';
    const cpu = goal.byCpuCost ? `; by CPU cost a packet ${goal.byCpuCost}` : '';
    log(`goal ${name} ≥ ${goal.goal}: ${verdict} (${goal.measured ?? '—'}${bound}${cpu})`);
  }
}
