/**
 * bench/soak: the sensor on the p2pwall addon (`queue.binding: addon`), fed new flows at 80 % of
 * its zero-drop rate for ten minutes, in the namespace lab of bench/gateway. Issue 15's last
 * condition: no loss and flat memory.
 *
 *   npm run bench:soak [-- --minutes 10] [--rate N | --fraction 0.8] [--sample-seconds 5]
 *
 * The rate is --rate, or --fraction of the sensor's zero-drop rate in bench/results/gateway.json
 * (figures.newFlows.sensor). The generator runs in segments (--segment-seconds, 5: at 50,000/s a
 * segment stays within nf_conntrack_max's default 262,144) with the gateway's conntrack table
 * flushed between them, as the gateway bench does between steps, so conntrack's own table limit
 * does not become the figure (its early drops are reported). Every few seconds it samples the
 * kernel queue's counters (queue_dropped, user_dropped: must stay 0), conntrack's drops, and the
 * sensor's RSS (/proc) and live heap (V8's heap after the last major collection, from
 * --trace-gc). Memory is flat when the last minute is within max(5 MB, 10 %) of the minute after
 * a one-minute warm-up (the flow table filling): the live heap's medians, RSS's peaks; the first
 * minute's figures and the slope (least squares after the first minute, MB/min) beside.
 * Results go to bench/results/soak.json; the exit code is non-zero on loss, growth or a sanity
 * failure.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Lab } from '@p2pwall/lab';
import { ConsumerProcess } from './gateway/consumer.js';
import { FloodGenerator, floodLab } from './gateway/flood-lab.js';
import { flushConntrack, readConntrackDrops, readQueue, type ConntrackDrops, type QueueCounters } from './gateway/kernel.js';
import { CpuBudget } from './gateway/cpu-budget.js';
import { sensorQueueConfig } from './gateway/queue-settings.js';
import { median, round } from './measure.js';

const QUEUE = 0;
const SENSOR_CONFIG = { site: 'bench', gateway: 'gw-soak' };
/** Flat memory: the last minute's median may exceed the first minute's by at most this much. */
const FLAT_SLACK_MB = 5;
const FLAT_SLACK_SHARE = 0.1;
/** The first minute fills the flow table; flatness is judged from the minute after it. */
const WARMUP_SECONDS = 60;

const here = dirname(fileURLToPath(import.meta.url));
const log = (line: string): void => console.log(line);
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

interface Options {
  minutes: number;
  rate: number;
  rateSource: string;
  sampleSeconds: number;
  segmentSeconds: number;
  prefix: string;
  out: string;
  pin: { generator: number | undefined; consumer: number | undefined } | undefined;
  /** % of one core the sensor may use (100: no budget): the one its zero-drop rate was measured with. */
  consumerCpuPercent: number;
}

interface Sample {
  /** Seconds since the load started. */
  t: number;
  queueDropped: number;
  userDropped: number;
  /** Packets handed to the queue since the load started (Δid_sequence). */
  queued: number;
  queueTotal: number;
  conntrack: ConntrackDrops;
  rssMB: number | null;
  /** V8's heap in use after the last major collection (Mark-Compact) so far, MB: the live heap. */
  heapMB: number | null;
  /** When that major collection ran, seconds since the load started (negative: before it). */
  heapMeasuredAt: number | null;
  /** After the last collection of any kind (a scavenge leaves the old generation's garbage in it), MB. */
  heapNowMB: number | null;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string' },
      fraction: { type: 'string', default: '0.8' },
      from: { type: 'string', default: resolve(here, '../results/gateway.json') },
      'sample-seconds': { type: 'string', default: '5' },
      'segment-seconds': { type: 'string', default: '5' },
      prefix: { type: 'string', default: 'p2pwsoak' },
      out: { type: 'string', default: resolve(here, '../results/soak.json') },
      pin: { type: 'string', default: 'generator' },
      'consumer-cpu': { type: 'string' },
    },
  });
  let consumerCpuPercent = 100;
  const minutes = Number(values.minutes);
  if (!(minutes >= 0.5 && minutes <= 240)) throw new RangeError('--minutes: 0.5 to 240');
  let rate: number;
  let rateSource: string;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
    rateSource = '--rate';
  } else {
    const fraction = Number(values.fraction);
    if (!(fraction > 0 && fraction <= 1)) throw new RangeError('--fraction: above 0, at most 1');
    if (!existsSync(values.from)) throw new Error(`no --rate and no ${values.from} to take the sensor's zero-drop rate from: run npm run bench:gateway first, or pass --rate`);
    const results = JSON.parse(readFileSync(values.from, 'utf8')) as { date?: string; method?: { consumerCpuPercent?: number }; figures?: { newFlows?: { sensor?: { zeroDropFlowsPerSecond?: { median?: number } | null; zeroDropIsLowerBound?: boolean } } } };
    const sensor = results.figures?.newFlows?.sensor;
    const zeroDrop = sensor?.zeroDropFlowsPerSecond?.median;
    if (!zeroDrop) throw new Error(`${values.from} has no figures.newFlows.sensor.zeroDropFlowsPerSecond (a gateway run with the sensor on the addon): pass --rate`);
    rate = Math.round(zeroDrop * fraction);
    // the rate holds for the budget it was measured under
    consumerCpuPercent = results.method?.consumerCpuPercent ?? 100;
    rateSource = `${fraction} × the sensor's zero-drop rate ${sensor.zeroDropIsLowerBound ? '(at least, generator-bound) ' : ''}${zeroDrop}/s in ${values.from} (${results.date ?? 'undated'})`;
  }
  if (!(rate >= 100 && rate <= 1_000_000)) throw new RangeError('the rate: 100 to 1,000,000 per second');
  const pinMode = values.pin;
  if (!['generator', 'both', 'none'].includes(pinMode)) throw new RangeError('--pin: generator, both or none');
  const pin = pinMode !== 'none' && cpus().length >= 2 ? { generator: 0, consumer: pinMode === 'both' ? 1 : undefined } : undefined;
  if (values['consumer-cpu'] !== undefined) consumerCpuPercent = Number(values['consumer-cpu']);
  if (!(Number.isInteger(consumerCpuPercent) && consumerCpuPercent >= 5 && consumerCpuPercent <= 100)) throw new RangeError('--consumer-cpu: a whole percentage of one core, 5 to 100 (100: no budget)');
  const sampleSeconds = Number(values['sample-seconds']);
  const segmentSeconds = Number(values['segment-seconds']);
  if (!(sampleSeconds >= 1 && sampleSeconds <= 60) || !(segmentSeconds >= 2 && segmentSeconds <= 60)) throw new RangeError('--sample-seconds: 1 to 60, --segment-seconds: 2 to 60');
  return { minutes, rate, rateSource, sampleSeconds, segmentSeconds, prefix: values.prefix, out: resolve(values.out), pin, consumerCpuPercent };
}

function residentMB(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

/** Least-squares slope of value over t, per minute. */
function slopePerMinute(points: { t: number; value: number }[]): number | null {
  if (points.length < 3) return null;
  const mt = points.reduce((sum, p) => sum + p.t, 0) / points.length;
  const mv = points.reduce((sum, p) => sum + p.value, 0) / points.length;
  const num = points.reduce((sum, p) => sum + (p.t - mt) * (p.value - mv), 0);
  const den = points.reduce((sum, p) => sum + (p.t - mt) ** 2, 0);
  return den > 0 ? round((num / den) * 60, 3) : null;
}

/**
 * One memory series: the first and last minute's medians and peaks, the slope after the first
 * minute, and whether it stayed flat. The first minute is the sensor filling its flow table (the
 * live heap grows until the table holds what its bound and idle timeout keep), so flatness
 * compares the minute after it (the baseline) with the last: on the medians, or on the peaks for
 * a sawtooth series (RSS climbs with garbage until a major GC; its median over a minute depends
 * on where the teeth fall, its peaks do not).
 */
function memoryTrend(samples: readonly Sample[], pick: (s: Sample) => number | null, judge: 'median' | 'peak') {
  const points = samples.map((s) => ({ t: s.t, value: pick(s) })).filter((p): p is { t: number; value: number } => p.value !== null);
  if (points.length === 0) return null;
  const end = points[points.length - 1]!.t;
  const window = (from: number, to: number) => points.filter((p) => p.t > from && p.t <= to).map((p) => p.value);
  const summary = (values: number[]) => (values.length > 0 ? { median: round(median(values), 1), peak: round(Math.max(...values), 1) } : null);
  const firstMinute = summary(window(0, 60));
  const baseline = summary(window(WARMUP_SECONDS, WARMUP_SECONDS + 60));
  const lastMinute = summary(window(end - 60, end));
  const pickOf = (w: { median: number; peak: number } | null) => (w ? (judge === 'median' ? w.median : w.peak) : null);
  const from = pickOf(baseline);
  const to = pickOf(lastMinute);
  const allowed = from === null ? null : Math.max(FLAT_SLACK_MB, from * FLAT_SLACK_SHARE);
  return {
    firstMinute,
    baselineAfterWarmup: baseline,
    lastMinute,
    judgedOn: judge,
    growthMB: from === null || to === null ? null : round(to - from, 1),
    allowedGrowthMB: allowed === null ? null : round(allowed, 1),
    slopeMBPerMinuteAfterFirstMinute: slopePerMinute(points.filter((p) => p.t > 60)),
    // Too short for a whole baseline minute after the warm-up: nothing to compare.
    flat: end < WARMUP_SECONDS + 60 || from === null || to === null || allowed === null ? null : to - from <= allowed,
  };
}

/**
 * The live heap is known only at major collections, which a steady sensor runs seldom (a few in
 * ten minutes): a sample carries the last one's figure, however old. So the heap is judged on
 * the collections themselves: the first one after the warm-up (the flow table full) against the
 * last one, with the same slack as the other series; null when fewer than two ran after it.
 */
function liveHeapTrend(samples: readonly Sample[]) {
  const collections = new Map<number, number>();
  for (const sample of samples) if (sample.heapMeasuredAt !== null && sample.heapMB !== null) collections.set(sample.heapMeasuredAt, sample.heapMB);
  const all = [...collections].map(([t, value]) => ({ t, value })).sort((a, b) => a.t - b.t);
  const afterWarmup = all.filter((p) => p.t > WARMUP_SECONDS);
  const first = afterWarmup[0];
  const last = afterWarmup[afterWarmup.length - 1];
  const judged = first !== undefined && last !== undefined && last !== first;
  const allowed = first === undefined ? null : Math.max(FLAT_SLACK_MB, first.value * FLAT_SLACK_SHARE);
  return {
    majorCollections: all,
    firstAfterWarmup: first ?? null,
    last: last ?? null,
    judgedOn: 'the live heap after each major collection',
    growthMB: judged ? round(last.value - first.value, 1) : null,
    allowedGrowthMB: allowed === null ? null : round(allowed, 1),
    slopeMBPerMinuteAfterFirstMinute: slopePerMinute(afterWarmup),
    flat: judged && allowed !== null ? last.value - first.value <= allowed : null,
  };
}

/** Every number called `enobufs` in the sensor's stop line, wherever its queue binding reports it. */
function enobufsIn(value: unknown): number | null {
  if (value === null || typeof value !== 'object') return null;
  let total: number | null = null;
  for (const [key, inner] of Object.entries(value)) {
    const found = key.toLowerCase() === 'enobufs' && typeof inner === 'number' ? inner : enobufsIn(inner);
    if (found !== null) total = (total ?? 0) + found;
  }
  return total;
}

async function soak(lab: Lab, options: Options, workDir: string, failures: string[]) {
  const gateway = lab.site('a').gateway;
  const config = join(workDir, 'sensor.yaml');
  writeFileSync(config, `${JSON.stringify({ ...SENSOR_CONFIG, storefile: join(workDir, 'peers.store'), queue: sensorQueueConfig('addon') })}\n`);
  const generator = new FloodGenerator(lab, workDir, options.pin?.generator);
  const sensor = await ConsumerProcess.sensor(lab, gateway, config, options.pin?.consumer);
  const budget = options.consumerCpuPercent < 100 ? CpuBudget.create(`${options.prefix}-sensor`, options.consumerCpuPercent) : undefined;
  budget?.add(sensor.pid);
  const samples: Sample[] = [];
  const segments: { t: number; sent: number; rate: number; cpuPercentOfCore: number }[] = [];
  let stopped: Awaited<ReturnType<ConsumerProcess['stop']>>;
  let start: QueueCounters | undefined;
  let ctStart: ConntrackDrops | undefined;
  try {
    start = await readQueue(lab, gateway, QUEUE);
    ctStart = await readConntrackDrops(lab, gateway);
    if (!start) throw new Error(`the sensor is not bound to queue ${QUEUE}`);
    const t0 = Date.now();
    const endAt = t0 + options.minutes * 60_000;
    let loading = true;
    const sampler = (async () => {
      for (let next = t0 + options.sampleSeconds * 1000; loading; next += options.sampleSeconds * 1000) {
        await sleep(Math.max(0, next - Date.now()));
        const [queue, ct] = await Promise.all([readQueue(lab, gateway, QUEUE), readConntrackDrops(lab, gateway)]);
        if (!queue) throw new Error('the queue went away during the soak (did the sensor die?)');
        const lastGc = sensor.gc[sensor.gc.length - 1];
        const lastMajor = sensor.gc.findLast((pause) => /Mark/.test(pause.kind) && !/Minor/.test(pause.kind));
        const sample: Sample = {
          t: round((Date.now() - t0) / 1000, 1),
          queueDropped: queue.queueDropped - start!.queueDropped,
          userDropped: queue.userDropped - start!.userDropped,
          queued: queue.idSequence - start!.idSequence,
          queueTotal: queue.queueTotal,
          conntrack: { drop: ct.drop - ctStart!.drop, earlyDrop: ct.earlyDrop - ctStart!.earlyDrop, insertFailed: ct.insertFailed - ctStart!.insertFailed },
          rssMB: residentMB(sensor.pid),
          heapMB: lastMajor ? lastMajor.heapAfterMB : null,
          heapMeasuredAt: lastMajor ? round((lastMajor.at - t0) / 1000, 1) : null,
          heapNowMB: lastGc ? lastGc.heapAfterMB : null,
        };
        samples.push(sample);
        if (samples.length % Math.max(1, Math.round(60 / options.sampleSeconds)) === 0) {
          log(`  ${sample.t.toFixed(0).padStart(5)} s: queued ${sample.queued}, queue drops ${sample.queueDropped}, socket drops ${sample.userDropped}, RSS ${sample.rssMB} MB, heap ${sample.heapMB} MB`);
        }
      }
    })();
    while (Date.now() < endAt) {
      const seconds = Math.min(options.segmentSeconds, (endAt - Date.now()) / 1000);
      if (seconds < 1) break;
      await flushConntrack(lab, gateway);
      const report = await generator.run(options.rate, seconds);
      segments.push({ t: round((Date.now() - t0) / 1000, 1), sent: report.sent, rate: round(report.rate), cpuPercentOfCore: round((report.cpuSeconds / report.seconds) * 100, 1) });
    }
    loading = false;
    await sampler;
  } finally {
    // Stops the sensor on failure too; the error then goes on to main.
    stopped = await sensor.stop(5000);
    budget?.remove();
  }
  const line = stopped.logLines.find((l) => l.msg === 'sensor stopped');
  if (!line) failures.push(`no "sensor stopped" line (exit ${stopped.code ?? stopped.signal}; ${stopped.stderrTail})`);
  const engine = line?.counters as Record<string, number> | undefined;
  if ((engine?.dropped ?? 0) > 0) failures.push(`the engine dropped ${engine!.dropped} packets of benign traffic`);
  return { samples, segments, stopLine: line ?? null, enobufs: enobufsIn(line), gc: sensor.pausesBetween(0, Date.now()), logWarnings: stopped.logLines.filter((l) => l.level === 'warn' || l.level === 'error').length };
}

async function main(): Promise<number> {
  const options = parseOptions();
  const workDir = mkdtempSync(join(tmpdir(), 'p2pwall-bench-soak-'));
  const failures: string[] = [];
  let lab: Lab | undefined;
  const onSignal = () => {
    void Lab.down(options.prefix)
      .catch(() => undefined)
      .finally(() => {
        rmSync(workDir, { recursive: true, force: true });
        process.exit(130);
      });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const loadBefore = loadavg();
    lab = await floodLab(options.prefix, log);
    log(`soak: the sensor on the addon at ${options.rate} new flows/s (${options.rateSource}) for ${options.minutes} min`);
    const run = await soak(lab, options, workDir, failures);
    const last = run.samples[run.samples.length - 1];
    const sent = run.segments.reduce((sum, s) => sum + s.sent, 0);
    const loadSeconds = last?.t ?? 0;
    const generatorShort = run.segments.filter((s) => s.rate < options.rate * 0.95).length;
    const rss = memoryTrend(run.samples, (s) => s.rssMB, 'peak');
    const heap = liveHeapTrend(run.samples);
    const noLoss = !!last && last.queueDropped === 0 && last.userDropped === 0 && (run.enobufs ?? 0) === 0;
    if (!last) failures.push('no sample was taken');
    if (sent === 0) failures.push('the generator sent nothing');
    const results = {
      benchmark: 'soak',
      date: new Date().toISOString(),
      node: process.version,
      kernel: release(),
      cpu: { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
      loadAverage: { before: loadBefore.map((v) => round(v, 2)), after: loadavg().map((v) => round(v, 2)) },
      method: {
        consumer: 'p2pwall-sensor run under --trace-gc, queue.binding addon, whenFull drop (so a full queue is counted), the gateway bench\'s queue settings',
        rate: { perSecond: options.rate, source: options.rateSource },
        minutes: options.minutes,
        sampling: `every ${options.sampleSeconds} s: /proc/net/netfilter/nfnetlink_queue (queue_dropped, user_dropped, id_sequence), conntrack -S, /proc/PID/status VmRSS, the heap after the last GC (--trace-gc)`,
        generator: `CPython UDP sender, one new 5-tuple per datagram, in ${options.segmentSeconds} s segments with conntrack -F between them`,
        cpuBudget: options.consumerCpuPercent < 100 ? `the sensor held to ${options.consumerCpuPercent}% of one core by a cgroup CPU quota, as in the gateway run its rate comes from` : 'none',
        pinning: options.pin ? `generator on CPU ${options.pin.generator}; sensor ${options.pin.consumer === undefined ? 'left to the scheduler' : `on CPU ${options.pin.consumer}`}` : 'none',
        flat: `last minute − the minute after a ${WARMUP_SECONDS} s warm-up (the flow table filling) ≤ max(${FLAT_SLACK_MB} MB, ${FLAT_SLACK_SHARE * 100} % of it): peaks of RSS (a sawtooth between major GCs), first-minute figures reported beside; the live heap on the major collections themselves (the first after the warm-up against the last), since a sample only repeats the last one's figure`,
      },
      summary: {
        sent,
        /** Over the whole soak, the pauses between segments included. */
        sentPerSecond: loadSeconds > 0 ? round(sent / loadSeconds) : 0,
        queued: last?.queued ?? 0,
        generatorShortSegments: generatorShort,
        queueDropped: last?.queueDropped ?? null,
        userDropped: last?.userDropped ?? null,
        enobufs: run.enobufs,
        conntrack: last?.conntrack ?? null,
        rss,
        heap,
        gc: run.gc,
        sensorLogWarnings: run.logWarnings,
        noLoss,
        /** null: too short to judge (under two minutes). */
        flatMemory: rss === null || rss.flat === null ? null : heap.flat === null ? rss.flat : rss.flat && heap.flat,
        // Without two major collections after the warm-up there is no live-heap trend; the heap,
        // live or not, never shrinks without one, so RSS then bounds it and judges alone.
        flatMemoryJudgedOn: heap.flat === null ? 'RSS alone (fewer than two major collections after the warm-up: no live-heap trend, and the whole heap is in RSS)' : 'RSS and the live heap',
      },
      samples: run.samples,
      segments: run.segments,
      sensorStopped: run.stopLine,
      sanity: { ok: failures.length === 0, failures },
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    const s = results.summary;
    log('');
    log(`sent ${sent} datagrams (${s.sentPerSecond}/s; ${generatorShort} of ${run.segments.length} segments short of the rate), ${s.queued} queued`);
    log(`loss: queue drops ${s.queueDropped}, socket drops ${s.userDropped}, ENOBUFS ${s.enobufs ?? 'not reported'}; conntrack drops ${s.conntrack?.drop ?? '?'} (early ${s.conntrack?.earlyDrop ?? '?'}) → ${noLoss ? 'no loss' : 'LOSS'}`);
    const verdict = (flat: boolean | null | undefined): string => (flat === null || flat === undefined ? 'too short to judge' : flat ? 'flat' : 'NOT flat');
    const minute = (w: { median: number; peak: number } | null | undefined) => (w ? `${w.median} MB (peak ${w.peak})` : '?');
    log(`RSS: first minute ${minute(rss?.firstMinute)}, second ${minute(rss?.baselineAfterWarmup)}, last ${minute(rss?.lastMinute)}, slope ${rss?.slopeMBPerMinuteAfterFirstMinute ?? '?'} MB/min → ${verdict(rss?.flat)}`);
    const collection = (p: { t: number; value: number } | null) => (p ? `${p.value} MB at ${p.t} s` : '?');
    log(`live heap: ${heap.majorCollections.length} major collections; first after the warm-up ${collection(heap.firstAfterWarmup)}, last ${collection(heap.last)}, slope ${heap.slopeMBPerMinuteAfterFirstMinute ?? '?'} MB/min → ${verdict(heap.flat)}`);
    log(`memory: ${verdict(s.flatMemory)} (judged on ${s.flatMemoryJudgedOn})`);
    log(`results: ${options.out}`);
    if (!noLoss) failures.push('the soak lost packets');
    if (results.summary.flatMemory === false) failures.push("the sensor's memory grew");
  } catch (error) {
    failures.push(`run aborted: ${(error as Error).stack ?? String(error)}`);
  } finally {
    const report = lab ? await lab.down() : await Lab.down(options.prefix).catch(() => undefined);
    if (report && report.leftover.length > 0) failures.push(`lab down left namespaces behind: ${report.leftover.join(', ')}`);
    rmSync(workDir, { recursive: true, force: true });
  }
  for (const failure of failures) console.error(`FAILURE: ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
