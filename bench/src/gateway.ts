/**
 * bench/gateway: the live sensor on a real gateway path, in the namespace lab (kernel NFQUEUE,
 * iptables in the security table, conntrack, veths), measured side by side in one run.
 *
 *   1. Bulk TCP through the gateway: a 1 GB download (`GET n`) and upload (`PUT n`) between a
 *      client and the lab's bulk service, with no p2pwall rules (A) and with the sensor running
 *      on the default config (B). Goal: B/A ≥ 0.9 — connbytes and the clean-flow connmark keep
 *      bulk traffic out of userspace. A third baseline, a conntrack rule alone, separates
 *      conntrack's cost (which the rules switch on) from the P2PWALL chain's. The three run back
 *      to back (the sensor stays up; its rules are removed and installed around it), twice a round.
 *   2. New flows per second judged with zero kernel queue drops: UDP datagrams, each a new flow,
 *      from a client to the internet's addresses, at rising paced rates, through the sensor and
 *      through an accept-everything consumer of the bare `nfqueue` binding (same rules). Each
 *      ladder stops at its first step with drops. Then an unpaced flood shows what each consumer
 *      sustains when overloaded (with a third consumer, the bare binding answering NF_REPEAT as
 *      the sensor does, to split the kernel's share from the engine's), and an unpaced flood with
 *      no rules shows the generator's own ceiling. The consumers run under --trace-gc, so each
 *      step records the GC pauses that stood against the kernel queue's 1024 packets.
 *
 * Configurations are interleaved in rounds (their order rotating); figures are medians over the
 * rounds, spread = (max − min) / median, ratios taken within a round. Results go to
 * bench/results/gateway.json and a table to stdout. The exit code is non-zero only on a sanity
 * failure (no traffic, a lab that would not come up, datagrams that did not meet the queue rule,
 * a sensor that dropped benign traffic), never on a missed goal.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BULK_PORT, LAB_HOSTS, Lab, LabExistsError, sensorCliPath } from '@p2pwall/lab';
import { ConsumerProcess, spawnPinned, type GcWindow } from './gateway/consumer.js';
import {
  clockTicks,
  drainedQueue,
  flushConntrack,
  installSink,
  parseQueueCounters,
  processTicks,
  readConntrackDrops,
  readMachineCpu,
  readQueue,
  readSink,
  type ConntrackDrops,
  type MachineCpu,
  type QueueCounters,
} from './gateway/kernel.js';
import { PYTHON_BULK, PYTHON_FLOOD, pythonPath } from './gateway/scripts.js';
import { formatCount, median, round, summarize, type Summary } from './measure.js';

const GOAL_BULK_RATIO = 0.9;
const QUEUE = 0;
/** Destination ports of the generator's datagrams; the internet namespace drops (and counts) them. */
const FLOOD_PORT_BASE = 20000;
const FLOOD_PORT_COUNT = 40000;
const FLOOD_SOCKETS = 8;
/** A step whose generator reached less than this share of the offered rate is generator-limited. */
const GENERATOR_SHORTFALL = 0.95;
/** An overloaded consumer below this share of a core was crowded out by other load. */
const UNCONTENDED_PERCENT = 90;
/** The sensor's config: only the required keys, so everything else is the default (connbytes 8, failOpen). */
const SENSOR_CONFIG = { site: 'bench', gateway: 'gw-bench' };

type Consumer = 'sensor' | 'bare' | 'bare-repeat';
type ConfigName = 'none' | Consumer;
type StepKind = 'ladder' | 'refine' | 'saturation' | 'ceiling';
type BulkConfig = 'none' | 'conntrack' | 'sensor';

interface Options {
  rounds: number;
  bulkBytes: number;
  bulkSamples: number;
  stepSeconds: number;
  floodSeconds: number;
  rates: number[];
  prefix: string;
  out: string;
  /** `--pin`: which processes taskset pins (generator to CPU 0, consumer to CPU 1). */
  pinMode: 'generator' | 'both' | 'none';
  pin: { generator: number | undefined; consumer: number | undefined } | undefined;
}

interface GeneratorReport {
  sent: number;
  errors: number;
  seconds: number;
  rate: number;
  cpuSeconds: number;
  maxBacklog: number;
  firstIndex: number;
  nextIndex: number;
}

interface StepResult {
  round: number;
  config: ConfigName;
  kind: StepKind;
  /** Offered new flows (datagrams) per second; null when unpaced. */
  offeredRate: number | null;
  generator: GeneratorReport & { cpuPercentOfCore: number };
  /** Reached less than 95 % of the offered rate: the figure is the generator's, not the queue's. */
  generatorLimited: boolean;
  /** Datagrams counted where they arrive (the internet namespace drops them there). */
  delivered: number;
  deliveredPerSecond: number;
  queue: {
    /** Packets that met the queue rule: handed to the queue or dropped because it was full. */
    metRule: number;
    queueDropped: number;
    userDropped: number;
    /** Packets the consumer received (and answered): queued and not lost to the socket buffer. */
    processed: number;
    processedPerSecond: number;
  } | null;
  drops: number;
  conntrack: ConntrackDrops | null;
  cpu: { machineBusyPercent: number; machineSoftirqPercent: number; consumerPercentOfCore: number | null };
  /** The consumer's GC pauses during the step (from --trace-gc). */
  consumerGc: GcWindow | null;
  /** The most packets seen waiting in the kernel queue (queue_total, sampled every 5 ms; the limit is 1024). */
  peakQueued: number | null;
}

interface BulkResult {
  round: number;
  /** Which A / conntrack / B set of the round (each set runs the three back to back). */
  sample: number;
  config: BulkConfig;
  direction: 'download' | 'upload';
  bytes: number;
  seconds: number;
  megabytesPerSecond: number;
  /** Packets that met the queue rule during the transfer (null when no consumer was bound). */
  queuedPackets: number | null;
}

interface ConsumerRun {
  round: number;
  consumer: Consumer;
  /** Packets the consumer says it judged (the sensor's engine counters, or the bare consumer's count). */
  packets: number | null;
  /** The sensor's engine counters at stop. */
  engine?: Record<string, number>;
  /** Packets the queue handed it, from the kernel counters, over its whole life. */
  queueProcessed: number;
  /** Its GC pauses over its whole life (from --trace-gc). */
  gc: GcWindow;
  /** Warnings and errors in the sensor's log (it warns when the kernel queue drops). */
  logWarnings?: number;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const log = (line: string): void => console.log(line);

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      'bulk-bytes': { type: 'string', default: '1000000000' },
      'bulk-samples': { type: 'string', default: '2' },
      'step-seconds': { type: 'string', default: '1.5' },
      'flood-seconds': { type: 'string', default: '1.5' },
      rates: { type: 'string', default: '5000,10000,20000,30000,40000,50000,60000,80000,100000,120000,150000' },
      prefix: { type: 'string', default: 'p2pwbgw' },
      out: { type: 'string' },
      pin: { type: 'string', default: 'generator' },
    },
  });
  const here = dirname(fileURLToPath(import.meta.url));
  const options: Options = {
    rounds: Number(values.rounds),
    bulkBytes: Number(values['bulk-bytes']),
    bulkSamples: Number(values['bulk-samples']),
    stepSeconds: Number(values['step-seconds']),
    floodSeconds: Number(values['flood-seconds']),
    rates: values.rates.split(',').map((rate) => Number(rate.trim())),
    prefix: values.prefix,
    out: resolve(values.out ?? resolve(here, '../results/gateway.json')),
    pinMode: values.pin as Options['pinMode'],
    pin: undefined,
  };
  if (!['generator', 'both', 'none'].includes(options.pinMode)) throw new RangeError('--pin: generator, both or none');
  if (options.pinMode !== 'none' && cpus().length >= 2) options.pin = { generator: 0, consumer: options.pinMode === 'both' ? 1 : undefined };
  if (!(Number.isInteger(options.rounds) && options.rounds >= 1)) throw new RangeError('--rounds: a whole number ≥ 1');
  if (!(Number.isInteger(options.bulkSamples) && options.bulkSamples >= 1 && options.bulkSamples <= 10)) throw new RangeError('--bulk-samples: 1 to 10');
  if (!(Number.isInteger(options.bulkBytes) && options.bulkBytes >= 1_000_000 && options.bulkBytes <= 4_000_000_000)) throw new RangeError('--bulk-bytes: 1e6 to 4e9');
  if (!(options.stepSeconds >= 0.5 && options.stepSeconds <= 10) || !(options.floodSeconds >= 0.5 && options.floodSeconds <= 10)) throw new RangeError('--step-seconds, --flood-seconds: 0.5 to 10');
  if (options.rates.length === 0 || options.rates.some((rate) => !(rate >= 100 && rate <= 1_000_000))) throw new RangeError('--rates: comma-separated rates, each 100 to 1,000,000 per second');
  options.rates.sort((a, b) => a - b);
  return options;
}

/** Everything one run needs: the lab, its namespaces, files, and what was measured so far. */
class Bench {
  readonly gateway: string;
  readonly client: string;
  readonly inet: string;
  readonly targets: string;
  readonly steps: StepResult[] = [];
  readonly bulk: BulkResult[] = [];
  readonly consumers: ConsumerRun[] = [];
  readonly failures: string[] = [];
  readonly warnings: string[] = [];
  private nextIndex = 0;
  private readonly python = pythonPath();
  private readonly floodScript: string;
  private readonly bulkScript: string;
  readonly rulesConfig: string;
  readonly sensorConfig: string;

  constructor(
    readonly lab: Lab,
    readonly options: Options,
    readonly workDir: string,
  ) {
    const site = lab.site('a');
    this.gateway = site.gateway;
    this.client = site.clients[0]!.ns;
    this.inet = lab.inet;
    this.targets = lab.plan.inet.ipv4.join(',');
    this.floodScript = join(workDir, 'flood.py');
    this.bulkScript = join(workDir, 'bulk.py');
    this.rulesConfig = join(workDir, 'rules.yaml');
    this.sensorConfig = join(workDir, 'sensor.yaml');
    writeFileSync(this.floodScript, PYTHON_FLOOD);
    writeFileSync(this.bulkScript, PYTHON_BULK);
    // JSON is YAML: the sensor's loader reads it. No storefile for the rules commands.
    writeFileSync(this.rulesConfig, `${JSON.stringify({ ...SENSOR_CONFIG, storefile: null })}\n`);
    writeFileSync(this.sensorConfig, `${JSON.stringify({ ...SENSOR_CONFIG, storefile: join(workDir, 'peers.store') })}\n`);
  }

  get targetCount(): number {
    return this.lab.plan.inet.ipv4.length;
  }

  /**
   * A stateful rule of the kind most gateways carry (filter FORWARD, drop INVALID), so conntrack
   * runs as it does under the sensor's rules: the bulk baseline that isolates p2pwall's own chain.
   */
  async conntrackRule(action: '-A' | '-D'): Promise<void> {
    this.conntrackRulePresent = action === '-A';
    await this.lab.exec(this.gateway, 'iptables', ['-w', action, 'FORWARD', '-m', 'conntrack', '--ctstate', 'INVALID', '-m', 'comment', '--comment', 'p2pwall-bench-conntrack', '-j', 'DROP']);
  }

  async rules(action: 'install' | 'remove'): Promise<void> {
    this.rulesInstalled = action === 'install';
    await this.lab.exec(this.gateway, process.execPath, [sensorCliPath(), 'rules', action, '--config', this.rulesConfig], { timeoutMs: 30_000 });
  }

  async bulkTransfer(r: number, sample: number, config: BulkConfig, direction: 'download' | 'upload', record = true): Promise<BulkResult> {
    const before = await readQueue(this.lab, this.gateway, QUEUE);
    const timeoutSeconds = 60;
    const child = this.lab.spawn(this.client, this.python, [this.bulkScript, LAB_HOSTS.web, String(BULK_PORT), direction === 'download' ? 'GET' : 'PUT', String(this.options.bulkBytes), String(timeoutSeconds)], { role: 'bench-bulk' });
    const exit = await child.wait((timeoutSeconds + 10) * 1000);
    const summary = exit.summary as { bytes?: number; seconds?: number; bytesPerSecond?: number } | undefined;
    const after = before ? await drainedQueue(this.lab, this.gateway, QUEUE) : undefined;
    const bytes = summary?.bytes ?? 0;
    const seconds = summary?.seconds ?? 0;
    const result: BulkResult = {
      round: r,
      sample,
      config,
      direction,
      bytes,
      seconds: round(seconds, 4),
      megabytesPerSecond: seconds > 0 ? round(bytes / seconds / 1e6, 1) : 0,
      queuedPackets: before && after ? after.idSequence - before.idSequence + (after.queueDropped - before.queueDropped) : null,
    };
    const where = `bulk ${direction} (${config}, round ${r}.${sample})`;
    if (bytes !== this.options.bulkBytes || !(seconds > 0)) {
      this.failures.push(`${where}: ${bytes} of ${this.options.bulkBytes} bytes (exit ${exit.code}; ${exit.stderr.trim().slice(-300)})`);
    }
    if (config !== 'sensor' && (result.queuedPackets ?? 0) > 0) this.failures.push(`${where}: ${result.queuedPackets} packets met a queue rule with no p2pwall rules installed`);
    if (config === 'sensor' && !result.queuedPackets) this.failures.push(`${where}: no packet of the transfer reached the sensor's queue (are the rules installed?)`);
    if (record) this.bulk.push(result);
    return result;
  }

  private rulesInstalled = false;
  private conntrackRulePresent = false;

  /** Puts the gateway's rules in the state a bulk configuration needs (the sensor stays bound to its queue throughout). */
  async bulkConfig(config: BulkConfig): Promise<void> {
    const wantRules = config === 'sensor';
    const wantConntrack = config === 'conntrack';
    if (this.rulesInstalled !== wantRules) await this.rules(wantRules ? 'install' : 'remove');
    if (this.conntrackRulePresent !== wantConntrack) await this.conntrackRule(wantConntrack ? '-A' : '-D');
  }

  /**
   * The bulk samples of a round, with the sensor running: each sample runs no rules (A), the
   * conntrack rule alone and the sensor's rules (B) back to back, in a rotating order, a download
   * and an upload each; the rules are toggled with `p2pwall-sensor rules remove|install` while
   * the sensor stays bound to its (then idle) queue. Returns with the sensor's rules installed.
   */
  async bulkSamples(r: number): Promise<BulkResult[]> {
    const results: BulkResult[] = [];
    const order: BulkConfig[] = ['sensor', 'none', 'conntrack'];
    for (let sample = 1; sample <= this.options.bulkSamples; sample++) {
      for (let k = 0; k < order.length; k++) {
        const config = order[(r + sample + k) % order.length]!;
        await this.bulkConfig(config);
        results.push(await this.bulkTransfer(r, sample, config, 'download'));
        results.push(await this.bulkTransfer(r, sample, config, 'upload'));
      }
    }
    await this.bulkConfig('sensor');
    return results;
  }

  /**
   * One generator run with the counters read around it. `consumerPid` is the queue consumer
   * (null without rules); with rules, conntrack is flushed first so every datagram is new.
   */
  async step(r: number, config: ConfigName, kind: StepKind, offeredRate: number | null, seconds: number, consumer: ConsumerProcess | undefined): Promise<StepResult> {
    const { lab, gateway } = this;
    const withQueue = config !== 'none';
    if (withQueue) await flushConntrack(lab, gateway);
    const [queueBefore, ctBefore, sinkBefore] = await Promise.all([
      withQueue ? readQueue(lab, gateway, QUEUE) : Promise.resolve(undefined),
      withQueue ? readConntrackDrops(lab, gateway) : Promise.resolve(undefined),
      readSink(lab, this.inet),
    ]);
    if (withQueue && !queueBefore) throw new Error(`${config}: no program is bound to queue ${QUEUE} in ${gateway}`);
    const consumerPid = consumer?.pid;
    const cpuBefore = readMachineCpu();
    const consumerBefore = processTicks(consumerPid);
    const startedAt = Date.now();

    const sampler = consumer ? new QueueSampler(consumer.pid, QUEUE) : undefined;
    const args = [this.floodScript, String(offeredRate ?? 0), String(seconds), String(this.nextIndex), String(FLOOD_SOCKETS), this.targets, String(FLOOD_PORT_BASE), String(FLOOD_PORT_COUNT)];
    const child = spawnPinned(this.lab, this.client, this.options.pin?.generator, this.python, args, { role: 'bench-flood' });
    const exit = await child.wait((seconds + 15) * 1000).finally(() => sampler?.stop());
    const cpuAfter = readMachineCpu();
    const consumerAfter = processTicks(consumerPid);
    const report = exit.summary as GeneratorReport | undefined;
    if (!report || typeof report.sent !== 'number') throw new Error(`the generator gave no report (exit ${exit.code}): ${exit.stderr.trim().slice(-500)}`);
    this.nextIndex = report.nextIndex % (this.targetCount * FLOOD_PORT_COUNT);

    const [queueAfter, ctAfter] = await Promise.all([
      withQueue ? drainedQueue(lab, gateway, QUEUE) : Promise.resolve(undefined),
      withQueue ? readConntrackDrops(lab, gateway) : Promise.resolve(undefined),
    ]);
    // Datagrams still in flight to the sink are a matter of microseconds once the queue is empty.
    await sleep(20);
    const sinkAfter = await readSink(lab, this.inet);
    const consumerGc = consumer ? consumer.pausesBetween(startedAt, Date.now()) : null;

    const delivered = sinkAfter - sinkBefore;
    const queue = queueBefore && queueAfter ? queueDelta(queueBefore, queueAfter, report.seconds) : null;
    if (withQueue && !queue) throw new Error(`${config}: queue ${QUEUE} went away during a step (did the consumer die?)`);
    const conntrack = ctBefore && ctAfter ? { drop: ctAfter.drop - ctBefore.drop, earlyDrop: ctAfter.earlyDrop - ctBefore.earlyDrop, insertFailed: ctAfter.insertFailed - ctBefore.insertFailed } : null;
    const drops = queue ? queue.queueDropped + queue.userDropped : 0;
    const result: StepResult = {
      round: r,
      config,
      kind,
      offeredRate,
      generator: { ...report, seconds: round(report.seconds, 4), rate: round(report.rate), cpuSeconds: round(report.cpuSeconds, 3), cpuPercentOfCore: round((report.cpuSeconds / report.seconds) * 100, 1) },
      generatorLimited: offeredRate !== null && report.rate < offeredRate * GENERATOR_SHORTFALL,
      delivered,
      deliveredPerSecond: round(delivered / report.seconds),
      queue,
      drops,
      conntrack,
      cpu: cpuShares(cpuBefore, cpuAfter, consumerBefore, consumerAfter, report.seconds),
      consumerGc,
      peakQueued: sampler?.peak ?? null,
    };
    this.checkStep(result);
    this.steps.push(result);
    return result;
  }

  private checkStep(step: StepResult): void {
    const where = `${step.config} ${step.kind}${step.offeredRate === null ? '' : ` ${step.offeredRate}/s`} (round ${step.round})`;
    const { sent } = step.generator;
    if (sent === 0) {
      this.failures.push(`${where}: the generator sent nothing`);
      return;
    }
    if (step.delivered === 0) this.failures.push(`${where}: nothing arrived at the internet namespace`);
    if (step.queue) {
      // Every datagram opens a new flow, so each one meets the queue rule exactly once.
      if (step.queue.metRule < sent * 0.98 || step.queue.metRule > sent * 1.02 + 100) {
        this.failures.push(`${where}: ${step.queue.metRule} packets met the queue rule for ${sent} datagrams sent (each should, once)`);
      }
      const expected = sent - step.drops;
      if (Math.abs(step.delivered - expected) > sent * 0.02 + 100) {
        this.failures.push(`${where}: ${step.delivered} datagrams arrived, ${expected} expected (sent − queue drops)`);
      }
      if (step.conntrack && step.conntrack.drop > 0) this.warnings.push(`${where}: conntrack dropped ${step.conntrack.drop} packets (table full?)`);
      // Overloaded, a consumer that has its core to itself runs at ~100 % of it. Much less means
      // something else on the machine took the CPU, and this step's figures say more about that.
      if (step.kind === 'saturation' && step.cpu.consumerPercentOfCore !== null && step.cpu.consumerPercentOfCore < UNCONTENDED_PERCENT) {
        this.warnings.push(`${where}: the overloaded consumer got only ${step.cpu.consumerPercentOfCore}% of a core (machine ${step.cpu.machineBusyPercent}% busy): other load on this machine; left out of the overloaded figures`);
      }
    } else if (step.delivered < sent * 0.99) {
      this.warnings.push(`${where}: only ${step.delivered} of ${sent} datagrams arrived without any rules`);
    }
  }

  /** `p2pwall-sensor run` in the gateway (it installs the rules), under --trace-gc. */
  async startSensor(): Promise<ConsumerProcess> {
    const sensor = await ConsumerProcess.sensor(this.lab, this.gateway, this.sensorConfig, this.options.pin?.consumer);
    this.rulesInstalled = true;
    return sensor;
  }

  async stopSensor(r: number, sensor: ConsumerProcess, queueAtStart: QueueCounters | undefined): Promise<void> {
    const queueAtEnd = await readQueue(this.lab, this.gateway, QUEUE);
    const stopped = await sensor.stop(5000);
    const line = stopped.logLines.find((l) => l.msg === 'sensor stopped');
    const engine = line?.counters as Record<string, number> | undefined;
    const run: ConsumerRun = { round: r, consumer: 'sensor', packets: engine?.packets ?? null, queueProcessed: processedBetween(queueAtStart, queueAtEnd), gc: sensor.pausesBetween(0, Date.now()) };
    if (engine) run.engine = engine;
    this.consumers.push(run);
    const warnings = stopped.logLines.filter((l) => l.level === 'warn' || l.level === 'error').length;
    if (warnings > 0) run.logWarnings = warnings;
    if (!engine) this.failures.push(`sensor (round ${r}): no "sensor stopped" line with its counters (exit ${stopped.code ?? stopped.signal}; ${stopped.stderrTail})`);
    else {
      if ((engine.dropped ?? 0) > 0) this.failures.push(`sensor (round ${r}): the engine dropped ${engine.dropped} packets of benign traffic (clients ${engine.clients}, peers ${engine.peers})`);
      if ((engine.packets ?? 0) < run.queueProcessed) this.failures.push(`sensor (round ${r}): the engine judged ${engine.packets} packets, the queue handed it ${run.queueProcessed}`);
    }
  }

  startBare(verdict: 'accept' | 'repeat'): Promise<ConsumerProcess> {
    return ConsumerProcess.bare(this.lab, this.gateway, verdict, join(this.workDir, `bare-${verdict}-${Date.now()}.jsonl`), this.options.pin?.consumer, QUEUE);
  }

  async stopBare(r: number, consumer: Consumer, child: ConsumerProcess, queueAtStart: QueueCounters | undefined): Promise<void> {
    const queueAtEnd = await readQueue(this.lab, this.gateway, QUEUE);
    const stopped = await child.stop(3000);
    const packets = typeof stopped.summary?.packets === 'number' ? stopped.summary.packets : null;
    const queueProcessed = processedBetween(queueAtStart, queueAtEnd);
    this.consumers.push({ round: r, consumer, packets, queueProcessed, gc: child.pausesBetween(0, Date.now()) });
    if (packets === null) this.failures.push(`${consumer} (round ${r}): no final count (exit ${stopped.code ?? stopped.signal}; ${stopped.stderrTail})`);
    else if (packets < queueProcessed) this.failures.push(`${consumer} (round ${r}): counted ${packets} packets, the queue handed it ${queueProcessed}`);
  }

  /**
   * Rising rates until the first step with drops (or the generator falls short); then one step
   * halfway between the last clean rate and the first dropping one, to halve the ladder's gap.
   */
  async ladder(r: number, consumer: Consumer, child: ConsumerProcess): Promise<string> {
    const line: string[] = [];
    const mark = (step: StepResult) => `${formatK(step.offeredRate ?? 0)}${step.drops > 0 ? `✗${formatCount(step.drops)}` : step.generatorLimited ? '(gen)' : '✓'}`;
    let lastClean = 0;
    for (const rate of this.options.rates) {
      const step = await this.step(r, consumer, 'ladder', rate, this.options.stepSeconds, child);
      line.push(mark(step));
      if (step.generatorLimited) break;
      if (step.drops === 0) {
        lastClean = rate;
        continue;
      }
      const middle = Math.round((lastClean + rate) / 2000) * 1000;
      if (lastClean > 0 && middle > lastClean && middle < rate) {
        const refine = await this.step(r, consumer, 'refine', middle, this.options.stepSeconds, child);
        line.push(`(${mark(refine)})`);
      }
      break;
    }
    return line.join(' ');
  }
}

/** Samples queue_total through the consumer's /proc/PID/net (its namespace's view) every 5 ms. */
class QueueSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number, queue: number) {
    const path = `/proc/${pid}/net/netfilter/nfnetlink_queue`;
    this.timer = setInterval(() => {
      try {
        const counters = parseQueueCounters(readFileSync(path, 'utf8'), queue);
        if (counters && counters.queueTotal > this.peak) this.peak = counters.queueTotal;
      } catch {
        // the consumer is gone; the step will say so
      }
    }, 5);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function queueDelta(before: QueueCounters, after: QueueCounters, seconds: number): NonNullable<StepResult['queue']> {
  const queueDropped = after.queueDropped - before.queueDropped;
  const userDropped = after.userDropped - before.userDropped;
  const ids = after.idSequence - before.idSequence;
  const processed = ids - userDropped;
  return { metRule: ids + queueDropped, queueDropped, userDropped, processed, processedPerSecond: round(processed / seconds) };
}

function processedBetween(before: QueueCounters | undefined, after: QueueCounters | undefined): number {
  if (!before || !after || before.portId !== after.portId) return after ? after.idSequence - after.userDropped : 0;
  return after.idSequence - before.idSequence - (after.userDropped - before.userDropped);
}

function cpuShares(before: MachineCpu, after: MachineCpu, consumerBefore: number | undefined, consumerAfter: number | undefined, seconds: number): StepResult['cpu'] {
  const total = after.total - before.total;
  const consumer = consumerBefore !== undefined && consumerAfter !== undefined ? round(((consumerAfter - consumerBefore) / clockTicks() / seconds) * 100, 1) : null;
  return {
    machineBusyPercent: total > 0 ? round(((after.busy - before.busy) / total) * 100, 1) : 0,
    machineSoftirqPercent: total > 0 ? round(((after.softirq - before.softirq) / total) * 100, 1) : 0,
    consumerPercentOfCore: consumer,
  };
}

function formatK(rate: number): string {
  return rate >= 1000 ? `${round(rate / 1000, 1)}k` : String(rate);
}

function formatMB(value: number): string {
  return `${formatCount(value)} MB/s`;
}

function rounded(summary: Summary, digits: number): Summary {
  return { median: round(summary.median, digits), min: round(summary.min, digits), max: round(summary.max, digits), spreadPercent: round(summary.spreadPercent, 1), values: summary.values.map((v) => round(v, digits)) };
}

// ---------------------------------------------------------------------------------------------
// One round: every configuration once, in a rotating order.

async function runRound(bench: Bench, r: number): Promise<void> {
  const order: ConfigName[] = ['none', 'sensor', 'bare'];
  const rotated = order.map((_, k) => order[(r - 1 + k) % order.length]!);
  for (const config of rotated) {
    if (config === 'none') {
      const ceiling = await bench.step(r, 'none', 'ceiling', null, bench.options.floodSeconds, undefined);
      log(`  round ${r} no rules: generator ceiling ${formatCount(ceiling.generator.rate)} datagrams/s (${formatCount(ceiling.deliveredPerSecond)}/s arrived)`);
    } else if (config === 'sensor') {
      const sensor = await bench.startSensor();
      try {
        const start = await readQueue(bench.lab, bench.gateway, QUEUE);
        const bulk = await bench.bulkSamples(r);
        const ladder = await bench.ladder(r, 'sensor', sensor);
        const flood = await bench.step(r, 'sensor', 'saturation', null, bench.options.floodSeconds, sensor);
        await bench.stopSensor(r, sensor, start);
        const mb = (config: BulkConfig, direction: 'download' | 'upload') => formatCount(median(bulk.filter((b) => b.config === config && b.direction === direction).map((b) => b.megabytesPerSecond)));
        log(`  round ${r} bulk MB/s, no rules / conntrack only / sensor: down ${mb('none', 'download')} / ${mb('conntrack', 'download')} / ${mb('sensor', 'download')}, up ${mb('none', 'upload')} / ${mb('conntrack', 'upload')} / ${mb('sensor', 'upload')}`);
        log(`  round ${r} sensor:   ladder ${ladder}; overloaded ${formatCount(flood.queue!.processedPerSecond)} pkt/s`);
      } finally {
        if (sensor.running) await sensor.stop(2000);
        await bench.rules('remove');
      }
    } else {
      await bench.rules('install');
      let child: ConsumerProcess | undefined;
      try {
        child = await bench.startBare('accept');
        let start = await readQueue(bench.lab, bench.gateway, QUEUE);
        const ladder = await bench.ladder(r, 'bare', child);
        const flood = await bench.step(r, 'bare', 'saturation', null, bench.options.floodSeconds, child);
        await bench.stopBare(r, 'bare', child, start);
        child = await bench.startBare('repeat');
        start = await readQueue(bench.lab, bench.gateway, QUEUE);
        const repeat = await bench.step(r, 'bare-repeat', 'saturation', null, bench.options.floodSeconds, child);
        await bench.stopBare(r, 'bare-repeat', child, start);
        log(`  round ${r} bare:     ladder ${ladder}; overloaded ${formatCount(flood.queue!.processedPerSecond)} pkt/s (NF_REPEAT + mark: ${formatCount(repeat.queue!.processedPerSecond)} pkt/s)`);
      } finally {
        if (child?.running) await child.stop(2000);
        await bench.rules('remove');
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Figures.

interface LadderFigure {
  /** Highest offered rate of the round's ladder (refinement step included) with zero queue drops; 0 when its first step dropped. */
  zeroDropRate: number;
  /** Queued packets/s the queue path carried at that step (one queued packet per new flow). */
  queuedPerSecond: number;
  /** Why the ladder ended: drops, the generator fell short, or the top of the ladder. */
  endedBy: 'drops' | 'generator' | 'ladder top';
  /** The lowest offered rate that dropped. */
  firstDropRate: number | null;
  dropsAtFirstDropRate: number | null;
  /** The consumer's GC pauses during that step. */
  gcAtFirstDrop: GcWindow | null;
  /** The longest GC pause during the steps without drops. */
  longestGcMsWithoutDrops: number;
  /** The fullest the kernel queue was seen (of 1024) in the steps without drops, and in the first dropping step. */
  peakQueuedWithoutDrops: number;
  peakQueuedAtFirstDrop: number | null;
  /** The consumer's CPU (% of one core) in the first dropping step: below 100, it was not out of CPU on average. */
  consumerCpuAtFirstDrop: number | null;
}

function ladderFigure(steps: readonly StepResult[]): LadderFigure {
  let best: StepResult | undefined;
  let endedBy: LadderFigure['endedBy'] = 'ladder top';
  let firstDrop: StepResult | undefined;
  for (const step of steps.filter((s) => s.kind === 'ladder')) {
    if (step.drops > 0) {
      endedBy = 'drops';
      firstDrop = step;
      break;
    }
    if (step.generatorLimited) {
      endedBy = 'generator';
      break;
    }
    best = step;
  }
  const refine = steps.find((s) => s.kind === 'refine');
  if (refine) {
    if (refine.drops === 0 && !refine.generatorLimited) best = refine;
    else if (refine.drops > 0) firstDrop = refine;
  }
  const clean = steps.filter((s) => s.drops === 0);
  return {
    zeroDropRate: best?.offeredRate ?? 0,
    queuedPerSecond: best?.queue?.processedPerSecond ?? 0,
    endedBy,
    firstDropRate: firstDrop?.offeredRate ?? null,
    dropsAtFirstDropRate: firstDrop?.drops ?? null,
    gcAtFirstDrop: firstDrop?.consumerGc ?? null,
    longestGcMsWithoutDrops: clean.reduce((max, s) => Math.max(max, s.consumerGc?.maxMs ?? 0), 0),
    peakQueuedWithoutDrops: clean.reduce((max, s) => Math.max(max, s.peakQueued ?? 0), 0),
    peakQueuedAtFirstDrop: firstDrop?.peakQueued ?? null,
    consumerCpuAtFirstDrop: firstDrop?.cpu.consumerPercentOfCore ?? null,
  };
}

function summaryOf(values: number[], digits = 0): Summary | null {
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

interface BulkFigure {
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

function figures(bench: Bench) {
  const { rounds } = bench.options;
  const samples = [...new Set(bench.bulk.map((b) => `${b.round}.${b.sample}`))];
  const bulkOf = (config: BulkConfig, direction: 'download' | 'upload', key: string) => bench.bulk.find((b) => b.config === config && b.direction === direction && `${b.round}.${b.sample}` === key)?.megabytesPerSecond;
  const pairRatio = (direction: 'download' | 'upload', numerator: BulkConfig, denominator: BulkConfig) => {
    const values: number[] = [];
    for (const key of samples) {
      const n = bulkOf(numerator, direction, key);
      const d = bulkOf(denominator, direction, key);
      if (n !== undefined && d !== undefined && d > 0) values.push(n / d);
    }
    return summaryOf(values, 3);
  };
  const bulk = Object.fromEntries(
    (['download', 'upload'] as const).map((direction) => {
      const of = (config: BulkConfig) => bench.bulk.filter((b) => b.config === config && b.direction === direction);
      return [
        direction,
        {
          noRulesMBps: summaryOf(of('none').map((b) => b.megabytesPerSecond), 1),
          conntrackOnlyMBps: summaryOf(of('conntrack').map((b) => b.megabytesPerSecond), 1),
          sensorMBps: summaryOf(of('sensor').map((b) => b.megabytesPerSecond), 1),
          ratio: pairRatio(direction, 'sensor', 'none'),
          sensorOverConntrackOnly: pairRatio(direction, 'sensor', 'conntrack'),
          conntrackOnlyOverNoRules: pairRatio(direction, 'conntrack', 'none'),
          queuedPacketsPerTransfer: summaryOf(of('sensor').map((b) => b.queuedPackets ?? 0)),
        },
      ];
    }),
  ) as Record<'download' | 'upload', BulkFigure>;

  const ladders = (consumer: Consumer): LadderFigure[] => {
    const result: LadderFigure[] = [];
    for (let r = 1; r <= rounds; r++) result.push(ladderFigure(bench.steps.filter((s) => s.round === r && s.config === consumer && (s.kind === 'ladder' || s.kind === 'refine'))));
    return result;
  };
  const sensorLadders = ladders('sensor');
  const bareLadders = ladders('bare');
  // An overloaded consumer's figure counts only when it had (nearly) a core to itself; when none
  // did, every step counts and `contended` says so.
  const floods = (config: ConfigName) => bench.steps.filter((s) => s.config === config && s.kind === 'saturation');
  const uncontended = (step: StepResult) => (step.cpu.consumerPercentOfCore ?? 100) >= UNCONTENDED_PERCENT;
  const counted = (config: ConfigName) => (floods(config).some(uncontended) ? floods(config).filter(uncontended) : floods(config));
  const saturation = (config: ConfigName, r: number) => counted(config).find((s) => s.round === r)?.queue?.processedPerSecond;
  const saturationSummary = (config: ConfigName) => summaryOf(counted(config).map((s) => s.queue!.processedPerSecond));
  const contended = Object.fromEntries((['sensor', 'bare', 'bare-repeat'] as const).map((c) => [c, floods(c).filter((s) => !uncontended(s)).map((s) => s.round)]));
  const ceilings = bench.steps.filter((s) => s.kind === 'ceiling');
  const consumerCpu = (config: ConfigName) => summaryOf(counted(config).filter((s) => s.cpu.consumerPercentOfCore !== null).map((s) => s.cpu.consumerPercentOfCore!), 1);
  const machineCpu = (config: ConfigName) => summaryOf(counted(config).map((s) => s.cpu.machineBusyPercent), 1);
  const generatorAtSaturation = (config: ConfigName) => summaryOf(counted(config).map((s) => s.generator.rate));

  return {
    bulk,
    newFlows: {
      sensor: {
        zeroDropFlowsPerSecond: summaryOf(sensorLadders.map((l) => l.zeroDropRate)),
        queuedPacketsPerSecondAtZeroDrop: summaryOf(sensorLadders.map((l) => l.queuedPerSecond)),
        perRound: sensorLadders,
      },
      bare: {
        zeroDropFlowsPerSecond: summaryOf(bareLadders.map((l) => l.zeroDropRate)),
        queuedPacketsPerSecondAtZeroDrop: summaryOf(bareLadders.map((l) => l.queuedPerSecond)),
        perRound: bareLadders,
      },
      zeroDropRatioSensorOverBare: perRoundRatio(rounds, (r) => sensorLadders[r - 1]?.zeroDropRate, (r) => bareLadders[r - 1]?.zeroDropRate),
    },
    saturation: {
      note: `unpaced flood, far above what any consumer takes; packets/s the consumer received and answered (id_sequence growth − user_dropped) over the generator run; only floods where the consumer got ≥ ${UNCONTENDED_PERCENT}% of a core count (all of them when none did)`,
      leftOutRounds: contended,
      sensorPacketsPerSecond: saturationSummary('sensor'),
      barePacketsPerSecond: saturationSummary('bare'),
      bareRepeatPacketsPerSecond: saturationSummary('bare-repeat'),
      sensorOverBare: perRoundRatio(rounds, (r) => saturation('sensor', r), (r) => saturation('bare', r)),
      bareRepeatOverBare: perRoundRatio(rounds, (r) => saturation('bare-repeat', r), (r) => saturation('bare', r)),
      sensorOverBareRepeat: perRoundRatio(rounds, (r) => saturation('sensor', r), (r) => saturation('bare-repeat', r)),
      microsecondsPerPacket: {
        bare: perPacketMicros(saturationSummary('bare')),
        bareRepeat: perPacketMicros(saturationSummary('bare-repeat')),
        sensor: perPacketMicros(saturationSummary('sensor')),
      },
      consumerCpuPercentOfCore: { sensor: consumerCpu('sensor'), bare: consumerCpu('bare'), bareRepeat: consumerCpu('bare-repeat') },
      machineBusyPercent: { sensor: machineCpu('sensor'), bare: machineCpu('bare'), bareRepeat: machineCpu('bare-repeat') },
      generatorDatagramsPerSecond: { sensor: generatorAtSaturation('sensor'), bare: generatorAtSaturation('bare'), bareRepeat: generatorAtSaturation('bare-repeat') },
    },
    generator: {
      note: 'unpaced, no p2pwall rules: what the generator (plus the forwarding path, which runs in its context) sends, and what arrives',
      sentPerSecond: summaryOf(ceilings.map((s) => s.generator.rate)),
      deliveredPerSecond: summaryOf(ceilings.map((s) => s.deliveredPerSecond)),
      cpuPercentOfCore: summaryOf(ceilings.map((s) => s.generator.cpuPercentOfCore), 1),
    },
  };
}

function perPacketMicros(summary: Summary | null): number | null {
  return summary && summary.median > 0 ? round(1e6 / summary.median, 2) : null;
}

type Figures = ReturnType<typeof figures>;

/** What limits each figure, read from the measurements rather than assumed. */
function limits(f: Figures, steps: readonly StepResult[], cores: number, bulkBytes: number): Record<string, string> {
  const bare = f.saturation.barePacketsPerSecond?.median ?? 0;
  const repeat = f.saturation.bareRepeatPacketsPerSecond?.median ?? 0;
  const sensor = f.saturation.sensorPacketsPerSecond?.median ?? 0;
  const generator = f.generator.sentPerSecond?.median ?? 0;
  const sensorCpu = f.saturation.consumerCpuPercentOfCore.sensor?.median ?? 0;
  const bareCpu = f.saturation.consumerCpuPercentOfCore.bare?.median ?? 0;
  const sensorZero = f.newFlows.sensor.zeroDropFlowsPerSecond?.median ?? 0;
  const bareEnded = f.newFlows.bare.perRound.map((l) => l.endedBy);
  const us = f.saturation.microsecondsPerPacket;
  const { download, upload } = f.bulk;
  const sensorRounds = f.newFlows.sensor.perRound;
  const dropGc = sensorRounds
    .filter((l) => l.firstDropRate !== null)
    .map((l) => `${formatK(l.firstDropRate!)}/s: ${formatCount(l.dropsAtFirstDropRate ?? 0)} dropped with the sensor at ${l.consumerCpuAtFirstDrop ?? '?'}% of a core, queue seen at ${l.peakQueuedAtFirstDrop ?? '?'}, longest GC pause ${l.gcAtFirstDrop?.maxMs ?? '?'} ms (${l.gcAtFirstDrop?.major ?? '?'} major) against ${round((1024 / l.firstDropRate!) * 1000, 1)} ms of queue`)
    .join('; ');
  const cleanGc = Math.max(0, ...sensorRounds.map((l) => l.longestGcMsWithoutDrops));
  const cleanPeak = Math.max(0, ...sensorRounds.map((l) => l.peakQueuedWithoutDrops));
  // Steps at 20k/s and more: how full the queue got with and without a major GC in the step.
  const busy = steps.filter((s) => s.config === 'sensor' && (s.kind === 'ladder' || s.kind === 'refine') && (s.offeredRate ?? 0) >= 20_000 && s.consumerGc && s.peakQueued !== null);
  const withMajor = busy.filter((s) => s.consumerGc!.major > 0);
  const withoutMajor = busy.filter((s) => s.consumerGc!.major === 0);
  const majorText =
    busy.length > 0
      ? `Sensor steps at ≥ 20k/s: with a major GC (${withMajor.length}) the queue peaked at a median ${withMajor.length ? median(withMajor.map((s) => s.peakQueued!)) : '—'} packets and ${withMajor.filter((s) => s.drops > 0).length} dropped; ` +
        `without one (${withoutMajor.length}) at ${withoutMajor.length ? median(withoutMajor.map((s) => s.peakQueued!)) : '—'} and ${withoutMajor.filter((s) => s.drops > 0).length} dropped (a major GC costs more than its main-thread pause: its concurrent marking takes CPU from the same process).`
      : '';
  return {
    bulk:
      `no userspace in the bulk path: ${download.queuedPacketsPerTransfer?.median ?? '?'} packets of a ${formatCount(bulkBytes / 1e6)} MB download and ${upload.queuedPacketsPerTransfer?.median ?? '?'} of the upload reached the queue. ` +
      `What the rules cost is kernel work per packet: conntrack alone gives ${download.conntrackOnlyOverNoRules?.median ?? '?'} (down) / ${upload.conntrackOnlyOverNoRules?.median ?? '?'} (up) of the rule-free rate, the P2PWALL chain on top of conntrack ${download.sensorOverConntrackOnly?.median ?? '?'} / ${upload.sensorOverConntrackOnly?.median ?? '?'}. ` +
      `All configurations are bound by the endpoints (CPython client, Node server) and veth forwarding sharing ${cores} cores`,
    generator:
      generator > bare * 1.5
        ? `the generator (${formatCount(generator)} datagrams/s with no rules) offers ${round(generator / Math.max(bare, 1), 1)}× what the bare binding takes, so the queue figures are not generator-bound`
        : `the generator (${formatCount(generator)} datagrams/s) is NOT far above the bare binding (${formatCount(bare)} pkt/s): the bare figures may be generator-bound`,
    bare:
      `the bare binding, one JS callback and one verdict syscall per packet on one core (${bareCpu}% of a core busy when overloaded): ${us.bare ?? '?'} µs a packet` +
      (bareEnded.includes('generator') ? '; its ladder ran out of generator before it dropped' : bareEnded.every((e) => e === 'ladder top') ? '; its ladder never dropped (raise --rates)' : ''),
    sensor:
      `the sensor process, at ${sensorCpu}% of a core when overloaded: ${us.sensor ?? '?'} µs a packet, of which the bare binding is ${us.bare ?? '?'}, NF_REPEAT + mark (the packet re-enters the hook) adds ${us.bareRepeat && us.bare ? round(us.bareRepeat - us.bare, 2) : '?'}, ` +
      `and the engine + the sensor's callback add ${us.sensor && us.bareRepeat ? round(us.sensor - us.bareRepeat, 2) : '?'}`,
    sensorZeroDrop:
      `the zero-drop rate (${formatCount(sensorZero)}/s) sits below the overloaded rate (${formatCount(sensor)} pkt/s) because the kernel queue holds 1024 packets (the binding cannot raise queue_maxlen; the 64 MiB socket buffer does not help past that), ` +
      `so any stall longer than 1024 / rate loses packets. First dropping steps: ${dropGc || 'none'}. In steps without drops: longest GC pause ${cleanGc} ms, fullest queue seen ${cleanPeak} packets. ${majorText}`,
    repeatShare: repeat > 0 && bare > 0 ? `NF_REPEAT + mark costs the bare binding ${round((1 - repeat / bare) * 100, 0)}% of its rate` : 'not measured',
  };
}

// ---------------------------------------------------------------------------------------------

function printTable(f: Figures, options: Options, cpuModel: string, cores: number, kernel: string, seconds: number, goals: Record<string, { goal: number | null; measured: number | null; met: boolean | null }>): void {
  const s = (summary: Summary | null, format: (v: number) => string = formatCount) => (summary ? `${format(summary.median)} (±${summary.spreadPercent.toFixed(0)}%)` : '—');
  const ratio = (summary: Summary | null) => (summary ? summary.median.toFixed(3) : '—');
  log('');
  log(`p2pwall gateway benchmark — node ${process.version}, ${cpuModel} × ${cores}, kernel ${kernel}, ${options.rounds} rounds, ${seconds.toFixed(0)} s`);
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
  log('');
  log('new UDP flows through NFQUEUE (one datagram = one new flow = one queued packet):');
  log(`  ${'consumer'.padEnd(30)}${'zero-drop flows/s'.padStart(20)}${'per round'.padStart(22)}${'overloaded pkt/s'.padStart(20)}${'µs/pkt'.padStart(8)}${'CPU'.padStart(7)}`);
  const rows: [string, Consumer][] = [
    ['sensor (p2pwall-sensor run)', 'sensor'],
    ['bare binding, NF_ACCEPT', 'bare'],
    ['bare binding, NF_REPEAT+mark', 'bare-repeat'],
  ];
  for (const [label, consumer] of rows) {
    const ladder = consumer === 'sensor' ? f.newFlows.sensor : consumer === 'bare' ? f.newFlows.bare : null;
    const sat = consumer === 'sensor' ? f.saturation.sensorPacketsPerSecond : consumer === 'bare' ? f.saturation.barePacketsPerSecond : f.saturation.bareRepeatPacketsPerSecond;
    const us = consumer === 'sensor' ? f.saturation.microsecondsPerPacket.sensor : consumer === 'bare' ? f.saturation.microsecondsPerPacket.bare : f.saturation.microsecondsPerPacket.bareRepeat;
    const cpu = consumer === 'sensor' ? f.saturation.consumerCpuPercentOfCore.sensor : consumer === 'bare' ? f.saturation.consumerCpuPercentOfCore.bare : f.saturation.consumerCpuPercentOfCore.bareRepeat;
    const perRound = ladder ? ladder.perRound.map((l) => `${formatK(l.zeroDropRate)}${l.endedBy === 'drops' ? '' : l.endedBy === 'generator' ? '(gen)' : '+'}`).join(' ') : '—';
    log(`  ${label.padEnd(30)}${(ladder ? s(ladder.zeroDropFlowsPerSecond) : '—').padStart(20)}${perRound.padStart(22)}${s(sat).padStart(20)}${String(us ?? '—').padStart(8)}${`${cpu?.median ?? '—'}%`.padStart(7)}`);
  }
  log(`  sensor / bare: zero-drop ${ratio(f.newFlows.zeroDropRatioSensorOverBare)}, overloaded ${ratio(f.saturation.sensorOverBare)} (NF_REPEAT alone: ${ratio(f.saturation.bareRepeatOverBare)}; engine vs bare NF_REPEAT: ${ratio(f.saturation.sensorOverBareRepeat)})`);
  log(`  generator with no rules: ${s(f.generator.sentPerSecond)} datagrams/s sent, ${s(f.generator.deliveredPerSecond)} arrived`);
  log('');
  for (const [name, goal] of Object.entries(goals)) {
    if (goal.goal === null) continue;
    log(`goal ${name} ≥ ${goal.goal}: ${goal.met ? 'met' : 'NOT met'} (${goal.measured ?? '—'})`);
  }
}

async function main(): Promise<number> {
  const options = parseOptions();
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'p2pwall-bench-gateway-'));
  let lab: Lab | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: tearing the lab down`);
    void Lab.down(options.prefix)
      .catch(() => undefined)
      .finally(() => {
        rmSync(workDir, { recursive: true, force: true });
        process.exit(130);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const failures: string[] = [];
  try {
    const loadBefore = loadavg();
    try {
      lab = await Lab.up({ prefix: options.prefix, sites: ['a'], clientsPerSite: 1 });
    } catch (error) {
      if (!(error instanceof LabExistsError)) throw error;
      log(`a lab "${options.prefix}" is left over from an earlier run: removing it`);
      await Lab.down(options.prefix);
      lab = await Lab.up({ prefix: options.prefix, sites: ['a'], clientsPerSite: 1 });
    }
    log(`lab ${options.prefix} up in ${Date.now() - started} ms: client ${lab.site('a').clients[0]!.ns} → gateway ${lab.site('a').gateway} → ${lab.inet}`);
    const bench = new Bench(lab, options, workDir);
    const probe = await lab.exec(bench.gateway, 'conntrack', ['-C'], { check: false });
    if (probe.code !== 0) throw new Error(`conntrack (the conntrack-tools program) is needed to flush the gateway's table between steps: ${probe.stderr.trim()}`);
    await installSink(lab, bench.inet, `${FLOOD_PORT_BASE}:${FLOOD_PORT_BASE + FLOOD_PORT_COUNT - 1}`);
    const servers = lab.emulate(bench.inet, 'benign-servers', ['--duration', '900']);
    await servers.ready();

    // Warm-up, not counted: the bulk server's JIT, the page cache of python and node.
    for (let i = 0; i < 2; i++) {
      await bench.bulkTransfer(0, 0, 'none', 'download', false);
      await bench.bulkTransfer(0, 0, 'none', 'upload', false);
    }
    log(`warm-up done (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    for (let r = 1; r <= options.rounds; r++) await runRound(bench, r);
    await servers.stop();

    const f = figures(bench);
    const cpuList = cpus();
    const cpuModel = cpuList[0]?.model ?? 'unknown';
    const kernel = release();
    const download = f.bulk.download.ratio?.median ?? null;
    const upload = f.bulk.upload.ratio?.median ?? null;
    const goals = {
      bulkRatio: { goal: GOAL_BULK_RATIO, measured: download, met: download === null ? null : download >= GOAL_BULK_RATIO, what: 'download MB/s with the sensor running ÷ with no p2pwall rules, per back-to-back sample, median' },
      bulkUploadRatio: { goal: GOAL_BULK_RATIO, measured: upload, met: upload === null ? null : upload >= GOAL_BULK_RATIO, what: 'the same for the upload' },
      newFlowsPerSecondZeroDrop: { goal: null, measured: f.newFlows.sensor.zeroDropFlowsPerSecond?.median ?? null, met: null, what: 'no goal set: compare with the bare binding (newFlows.bare) in the same run' },
    };
    failures.push(...bench.failures);
    if (!bench.steps.some((s) => s.config === 'sensor' && s.kind === 'ladder')) failures.push('no ladder step ran through the sensor');
    if (!bench.steps.some((s) => s.config === 'bare' && s.kind === 'ladder')) failures.push('no ladder step ran through the bare consumer');
    const seconds = (Date.now() - started) / 1000;
    const results = {
      benchmark: 'gateway',
      date: new Date().toISOString(),
      node: process.version,
      kernel,
      platform: `${process.platform} ${process.arch}`,
      cpu: { model: cpuModel, cores: cpuList.length },
      memoryBytes: totalmem(),
      loadAverage: { before: loadBefore.map((v) => round(v, 2)), after: loadavg().map((v) => round(v, 2)) },
      method: {
        rounds: options.rounds,
        warmup: 'two bulk downloads and uploads with no rules, not counted',
        order: 'each round runs the three configurations once (no rules; the sensor; the bare binding), their order rotating; medians over rounds, spread = (max − min) / median, ratios within a round',
        lab: `Lab.up({ sites: ['a'], clientsPerSite: 1 }): ${bench.client} → ${bench.gateway} (the rules and the consumer) → ${bench.inet}; benign-servers in ${bench.inet}`,
        sensorConfig: { ...SENSOR_CONFIG, note: 'everything else default: queue 0, connbytes 8, failOpen true (--queue-bypass), 64 MiB socket buffer, security table, IPv4 + IPv6' },
        consumers: '`node --trace-gc p2pwall-sensor run --config FILE` (as SensorProcess runs it, plus the flag, so GC pauses can be set against drops) and `node --trace-gc dist/gateway/bare-consumer.js` (createQueueHandler(0, 64 MiB) answering NF_ACCEPT, or NF_REPEAT with the accepted bit as the sensor does), each as a lab process in the gateway namespace',
        bulk: `${options.bulkSamples} samples a round, each running three configurations back to back in a rotating order while the sensor stays bound to its queue (its rules removed and installed with p2pwall-sensor rules remove|install around the others): ${options.bulkBytes} bytes, GET (download) then PUT (upload), with no rules (A), with only a conntrack rule (filter FORWARD -m conntrack --ctstate INVALID -j DROP, the stateful baseline of most gateways) and with the sensor running (B), to ${LAB_HOSTS.web}:${BULK_PORT} (the lab's Node bulk service) from a CPython client; timed from the connection being up to the last byte (GET) or to the server's "OK n" (PUT)`,
        flows: `UDP, one datagram (42 payload bytes) per new 5-tuple, from ${FLOOD_SOCKETS} sockets in ${bench.client} to the internet's ${bench.targetCount} IPv4 addresses × ports ${FLOOD_PORT_BASE}–${FLOOD_PORT_BASE + FLOOD_PORT_COUNT - 1}, dropped and counted by an iptables rule in ${bench.inet} (no listener, no ICMP back); the gateway's conntrack table is flushed before every step; paced in 1 ms ticks by a CPython sender`,
        ladder: `offered rates ${options.rates.join(', ')} /s, ${options.stepSeconds} s each, stopping at the first step with queue drops or when the generator reaches < ${GENERATOR_SHORTFALL * 100}% of the offered rate`,
        saturation: `an unpaced ${options.floodSeconds} s flood through each consumer (sensor, bare NF_ACCEPT, bare NF_REPEAT with the accepted mark bit)`,
        ceiling: `an unpaced ${options.floodSeconds} s flood with no p2pwall rules: the generator's own rate`,
        pinning: options.pin
          ? `taskset: the generator on CPU ${options.pin.generator} (the forwarding up to the queue runs in its context); ` +
            (options.pin.consumer === undefined
              ? 'the queue consumer left to the scheduler (its main thread lands on the other CPU; V8 GC helper threads may use both)'
              : `the queue consumer, all its threads, on CPU ${options.pin.consumer} (V8's concurrent GC threads then share its core)`) +
            '; bulk endpoints unpinned'
          : 'none: the scheduler places every process',
        counters: '/proc/net/netfilter/nfnetlink_queue in the gateway namespace before and after each step (after the queue drained): queue_dropped, user_dropped, id_sequence (a packet dropped for a full queue takes no id, so packets meeting the rule = Δid_sequence + Δqueue_dropped); conntrack -S drops; the sink rule\'s packet counter; /proc/stat and /proc/PID/stat for CPU',
      },
      figures: f,
      limits: limits(f, bench.steps, cpuList.length, options.bulkBytes),
      goals,
      bulk: bench.bulk,
      steps: bench.steps,
      consumers: bench.consumers,
      warnings: bench.warnings,
      sanity: { ok: failures.length === 0, failures },
      timings: { totalSeconds: round(seconds, 1) },
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    printTable(f, options, cpuModel, cpuList.length, kernel, seconds, goals);
    log('');
    for (const [name, text] of Object.entries(results.limits)) log(`limits, ${name}: ${text}`);
    for (const warning of bench.warnings) log(`warning: ${warning}`);
    log(`results: ${options.out}`);
  } catch (error) {
    // Interrupted: the signal handler tears down and exits; what failed meanwhile is its doing.
    if (!interrupted) failures.push(`run aborted: ${(error as Error).stack ?? String(error)}`);
  } finally {
    if (!interrupted) {
      const report = lab ? await lab.down() : await Lab.down(options.prefix).catch(() => undefined);
      if (report && report.leftover.length > 0) failures.push(`lab down left namespaces behind: ${report.leftover.join(', ')}`);
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  if (interrupted) return 130;
  for (const failure of failures) console.error(`SANITY FAILURE: ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
