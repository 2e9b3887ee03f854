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
 *      from a client to the internet's addresses, at rising paced rates, through each queue
 *      consumer with the sensor's rules: a C reference consumer of libnetfilter_queue (compiled
 *      here, copy range, batch verdicts), the bare p2pwall addon (@p2pwall/nfq), the bare
 *      `nfqueue` binding, and the sensor on each of the two bindings. Each ladder stops at its
 *      first step with drops (or when the generator falls short: then the rate is "at least").
 *      Then an unpaced flood shows what each consumer sustains when overloaded (plus the bare
 *      bindings answering NF_REPEAT as the sensor does, to split the kernel's share from the
 *      engine's), and an unpaced flood with no rules shows the generator's own ceiling. The Node
 *      consumers run under --trace-gc, so each step records the GC pauses that stood against the
 *      kernel queue.
 *
 * Configurations are interleaved in rounds (their order rotating); figures are medians over the
 * rounds, spread = (max − min) / median, ratios taken within a round. Results go to
 * bench/results/gateway.json and a table to stdout. The exit code is non-zero only on a sanity
 * failure (no traffic, a lab that would not come up, datagrams that did not meet the queue rule,
 * a consumer that did not answer what the kernel queued, a sensor that dropped benign traffic),
 * never on a missed goal.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BULK_PORT, LAB_HOSTS, Lab, sensorCliPath } from '@p2pwall/lab';
import { buildCConsumer } from './gateway/c-build.js';
import { ConsumerProcess } from './gateway/consumer.js';
import { FLOOD_PORT_BASE, FLOOD_PORT_COUNT, FLOOD_SOCKETS, FloodGenerator, floodLab } from './gateway/flood-lab.js';
import { CpuBudget } from './gateway/cpu-budget.js';
import { crowdedOut, fellBehind, figures } from './gateway/figures.js';
import {
  clockTicks,
  drainedQueue,
  flushConntrack,
  parseQueueCounters,
  processTicks,
  readConntrackDrops,
  readMachineCpu,
  readQueue,
  readSink,
  type MachineCpu,
  type QueueCounters,
} from './gateway/kernel.js';
import { REFERENCE_QUEUE, referenceQueueArgs, sensorQueueConfig } from './gateway/queue-settings.js';
import { goalsOf, formatK, limits, printTable } from './gateway/report.js';
import { CONSUMERS, isSensor, SENSORS, type BulkConfig, type BulkResult, type ConfigName, type Consumer, type ConsumerRun, type SensorConsumer, type StepKind, type StepResult } from './gateway/results.js';
import { PYTHON_BULK, pythonPath } from './gateway/scripts.js';
import { UplinkServer } from './gateway/uplink-server.js';
import { formatCount, median, round } from './measure.js';

const QUEUE = 0;
/** A step whose generator reached less than this share of the offered rate is generator-limited. */
const GENERATOR_SHORTFALL = 0.95;
/** The sensor's config: only the required keys (plus the queue's binding), so everything else is the default (connbytes 8, failOpen). */
const SENSOR_CONFIG = { site: 'bench', gateway: 'gw-bench' };
/** The groups a round runs, each with the consumers it measures (the bulk transfers run in the sensor's). */
const GROUPS: Record<string, Consumer[]> = {
  sensor: ['sensor'],
  'sensor-nfqueue': ['sensor-nfqueue'],
  'sensor-uplink': ['sensor-uplink'],
  c: ['c'],
  addon: ['addon', 'addon-repeat'],
  nfqueue: ['nfqueue', 'nfqueue-repeat'],
};

interface Options {
  rounds: number;
  bulkBytes: number;
  bulkSamples: number;
  /** `--no-bulk`: skip the bulk transfers (short development runs of the new-flow figures). */
  bulk: boolean;
  stepSeconds: number;
  floodSeconds: number;
  rates: number[];
  /** `--consumers`: which groups run (default all). */
  groups: string[];
  prefix: string;
  out: string;
  /** `--pin`: which processes taskset pins (generator to CPU 0, consumer to CPU 1). */
  pinMode: 'generator' | 'both' | 'none';
  pin: { generator: number | undefined; consumer: number | undefined } | undefined;
  /** `--consumer-cpu`: % of one core each queue consumer may use (100: no budget). */
  consumerCpuPercent: number;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
/** Bisecting steps after a ladder's first failing rung: the rungs' quantisation made the sensor-over-C ratio jump between 0.44 and 0.57 from run to run. */
const REFINE_STEPS = 2;
const log = (line: string): void => console.log(line);

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      'bulk-bytes': { type: 'string', default: '1000000000' },
      'bulk-samples': { type: 'string', default: '2' },
      // 4 s: the 16,384-packet queue bridges a deficit of at most 4,000/s through a step (at 1.5 s,
      // 11,000/s: the sensor passed 30,000/s steps and then held only about 21,000/s for ten
      // minutes in bench:soak), while 65,000 new flows/s for a step still fit nf_conntrack_max's
      // default 262,144 (the table is flushed between steps).
      'step-seconds': { type: 'string', default: '4' },
      'flood-seconds': { type: 'string', default: '1.5' },
      // Up to 400k/s: the generator sends ~490k/s unpaced, so the fastest consumers' ladders
      // end by drops or by the generator falling short, not by the ladder's top.
      rates: { type: 'string', default: '5000,10000,20000,30000,40000,50000,60000,80000,100000,120000,150000,200000,250000,300000,350000,400000' },
      consumers: { type: 'string', default: Object.keys(GROUPS).filter((group) => group !== 'sensor-uplink').join(',') },
      'no-bulk': { type: 'boolean', default: false },
      prefix: { type: 'string', default: 'p2pwbgw' },
      out: { type: 'string' },
      pin: { type: 'string', default: 'generator' },
      // A fifth of a core: below the generator's reach for every consumer on this machine kind (gateway/cpu-budget.ts).
      'consumer-cpu': { type: 'string', default: '20' },
    },
  });
  const here = dirname(fileURLToPath(import.meta.url));
  const options: Options = {
    rounds: Number(values.rounds),
    bulkBytes: Number(values['bulk-bytes']),
    bulkSamples: Number(values['bulk-samples']),
    bulk: !values['no-bulk'],
    stepSeconds: Number(values['step-seconds']),
    floodSeconds: Number(values['flood-seconds']),
    rates: values.rates.split(',').map((rate) => Number(rate.trim())),
    groups: values.consumers.split(',').map((group) => group.trim()),
    prefix: values.prefix,
    out: resolve(values.out ?? resolve(here, '../results/gateway.json')),
    pinMode: values.pin as Options['pinMode'],
    pin: undefined,
    consumerCpuPercent: Number(values['consumer-cpu']),
  };
  if (!(Number.isInteger(options.consumerCpuPercent) && options.consumerCpuPercent >= 5 && options.consumerCpuPercent <= 100)) throw new RangeError('--consumer-cpu: a whole percentage of one core, 5 to 100 (100: no budget)');
  if (!['generator', 'both', 'none'].includes(options.pinMode)) throw new RangeError('--pin: generator, both or none');
  if (options.pinMode !== 'none' && cpus().length >= 2) options.pin = { generator: 0, consumer: options.pinMode === 'both' ? 1 : undefined };
  if (!(Number.isInteger(options.rounds) && options.rounds >= 1)) throw new RangeError('--rounds: a whole number ≥ 1');
  if (!(Number.isInteger(options.bulkSamples) && options.bulkSamples >= 1 && options.bulkSamples <= 10)) throw new RangeError('--bulk-samples: 1 to 10');
  if (!(Number.isInteger(options.bulkBytes) && options.bulkBytes >= 1_000_000 && options.bulkBytes <= 4_000_000_000)) throw new RangeError('--bulk-bytes: 1e6 to 4e9');
  if (!(options.stepSeconds >= 0.5 && options.stepSeconds <= 10) || !(options.floodSeconds >= 0.5 && options.floodSeconds <= 10)) throw new RangeError('--step-seconds, --flood-seconds: 0.5 to 10');
  if (options.rates.length === 0 || options.rates.some((rate) => !(rate >= 100 && rate <= 1_000_000))) throw new RangeError('--rates: comma-separated rates, each 100 to 1,000,000 per second');
  const unknown = options.groups.filter((group) => !(group in GROUPS));
  if (unknown.length > 0 || options.groups.length === 0) throw new RangeError(`--consumers: a comma-separated list of ${Object.keys(GROUPS).join(', ')}`);
  options.rates.sort((a, b) => a - b);
  return options;
}

/** Everything one run needs: the lab, its namespaces, files, and what was measured so far. */
class Bench {
  readonly gateway: string;
  readonly client: string;
  readonly inet: string;
  readonly steps: StepResult[] = [];
  readonly bulk: BulkResult[] = [];
  readonly consumers: ConsumerRun[] = [];
  readonly failures: string[] = [];
  readonly warnings: string[] = [];
  private readonly python = pythonPath();
  readonly generator: FloodGenerator;
  private readonly bulkScript: string;
  readonly rulesConfig: string;
  /** The nats-server the sensor-uplink variant publishes to (started when first needed). */
  uplink: UplinkServer | undefined;
  /** The compiled C reference consumer (built when the run includes it). */
  private cConsumer: string | undefined;
  /** Every consumer's share of a core (none at --consumer-cpu 100). */
  readonly budget: CpuBudget | undefined;

  constructor(
    readonly lab: Lab,
    readonly options: Options,
    readonly workDir: string,
  ) {
    const site = lab.site('a');
    this.gateway = site.gateway;
    this.client = site.clients[0]!.ns;
    this.inet = lab.inet;
    this.generator = new FloodGenerator(lab, workDir, options.pin?.generator);
    this.budget = options.consumerCpuPercent < 100 ? CpuBudget.create(`${options.prefix}-consumers`, options.consumerCpuPercent) : undefined;
    this.bulkScript = join(workDir, 'bulk.py');
    this.rulesConfig = join(workDir, 'rules.yaml');
    writeFileSync(this.bulkScript, PYTHON_BULK);
    // JSON is YAML: the sensor's loader reads it. No storefile for the rules commands.
    writeFileSync(this.rulesConfig, `${JSON.stringify({ ...SENSOR_CONFIG, storefile: null })}\n`);
  }

  /** The sensor variant's config file: its binding, and the uplink to the lab's nats-server when it has one. */
  private async sensorConfig(variant: SensorConsumer): Promise<string> {
    const { binding, uplink } = SENSORS[variant];
    const file = join(this.workDir, `${variant}.yaml`);
    const config: Record<string, unknown> = { ...SENSOR_CONFIG, storefile: join(this.workDir, `${variant}.store`), queue: sensorQueueConfig(binding) };
    if (uplink) {
      this.uplink ??= await UplinkServer.start(this.lab);
      config.uplink = { nats: { servers: [this.uplink.url] } };
    }
    writeFileSync(file, `${JSON.stringify(config)}\n`);
    return file;
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
    if (withQueue && !queueBefore) {
      const exit = consumer && !consumer.running ? await consumer.stop(0) : undefined;
      throw new Error(`${config}: no program is bound to queue ${QUEUE} in ${gateway}: ${consumer?.describe() ?? 'no consumer'}${exit ? `; exit ${exit.code ?? exit.signal}: ${exit.stderrTail}` : ''}`);
    }
    const consumerPid = consumer?.pid;
    const cpuBefore = readMachineCpu();
    const consumerBefore = processTicks(consumerPid);
    const startedAt = Date.now();

    const sampler = consumer ? new QueueSampler(consumer.pid, QUEUE) : undefined;
    const report = await this.generator.run(offeredRate, seconds).finally(() => sampler?.stop());
    const cpuAfter = readMachineCpu();
    const consumerAfter = processTicks(consumerPid);

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
      cpu: { ...cpuShares(cpuBefore, cpuAfter, consumerBefore, consumerAfter, report.seconds), consumerBudgetPercent: this.options.consumerCpuPercent },
      consumerGc,
      peakQueued: sampler?.peak ?? null,
      queuedAtEnd: sampler?.last ?? null,
      lowestQueuedInFinalThird: sampler?.lowestInFinalThird() ?? null,
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
      if (crowdedOut(step)) {
        this.warnings.push(`${where}: the overloaded consumer got only ${step.cpu.consumerPercentOfCore}% of a core (machine ${step.cpu.machineBusyPercent}% busy): other load on this machine; left out of the overloaded figures`);
      }
    } else if (step.delivered < sent * 0.99) {
      this.warnings.push(`${where}: only ${step.delivered} of ${sent} datagrams arrived without any rules`);
    }
  }

  /** `p2pwall-sensor run` in the gateway as one of its variants (it installs the rules), under --trace-gc. */
  async startSensor(variant: SensorConsumer): Promise<ConsumerProcess> {
    const sensor = await ConsumerProcess.sensor(this.lab, this.gateway, await this.sensorConfig(variant), this.options.pin?.consumer, variant);
    this.rulesInstalled = true;
    this.budget?.add(sensor.pid);
    return sensor;
  }

  async stopSensor(r: number, consumer: SensorConsumer, sensor: ConsumerProcess, queueAtStart: QueueCounters | undefined): Promise<void> {
    const queueAtEnd = await readQueue(this.lab, this.gateway, QUEUE);
    const stopped = await sensor.stop(5000);
    const line = stopped.logLines.find((l) => l.msg === 'sensor stopped');
    const engine = line?.counters as Record<string, number> | undefined;
    const run: ConsumerRun = { round: r, consumer, packets: engine?.packets ?? null, queueProcessed: processedBetween(queueAtStart, queueAtEnd), gc: sensor.pausesBetween(0, Date.now()) };
    if (engine) run.engine = engine;
    // The queue binding's own counters (the addon's: batches, ENOBUFS, unanswered, …; null on nfqueue).
    const binding = line?.binding as Record<string, unknown> | null | undefined;
    if (binding) run.counters = binding;
    if (SENSORS[consumer].uplink) {
      // Evidence that the uplink really published during the run (the stream only grows).
      const stored = await this.uplink?.stored().catch(() => undefined);
      run.counters = { ...run.counters, streamMessages: stored?.messages ?? null, streamBytes: stored?.bytes ?? null };
      if (!stored?.messages) this.failures.push(`${consumer} (round ${r}): nothing reached the NATS stream (did the uplink connect?)`);
    }
    this.checkEnobufs(`${consumer} (round ${r})`, binding ?? undefined, queueAtStart, queueAtEnd);
    this.consumers.push(run);
    const warnings = stopped.logLines.filter((l) => l.level === 'warn' || l.level === 'error').length;
    if (warnings > 0) run.logWarnings = warnings;
    if (!engine) this.failures.push(`${consumer} (round ${r}): no "sensor stopped" line with its counters (exit ${stopped.code ?? stopped.signal}; ${stopped.stderrTail})`);
    else {
      if ((engine.dropped ?? 0) > 0) this.failures.push(`${consumer} (round ${r}): the engine dropped ${engine.dropped} packets of benign traffic (clients ${engine.clients}, peers ${engine.peers})`);
      if ((engine.packets ?? 0) < run.queueProcessed) this.failures.push(`${consumer} (round ${r}): the engine judged ${engine.packets} packets, the queue handed it ${run.queueProcessed}`);
    }
  }

  /** A bare consumer: one of the two Node bindings answering NF_ACCEPT or NF_REPEAT + mark, or the compiled C reference. */
  async startBare(consumer: Exclude<Consumer, SensorConsumer>): Promise<ConsumerProcess> {
    const child = await this.spawnBare(consumer);
    this.budget?.add(child.pid);
    return child;
  }

  private spawnBare(consumer: Exclude<Consumer, SensorConsumer>): Promise<ConsumerProcess> {
    const logFile = join(this.workDir, `${consumer}-${Date.now()}.jsonl`);
    const cpu = this.options.pin?.consumer;
    if (consumer === 'c') {
      this.cConsumer ??= buildCConsumer(this.workDir);
      return ConsumerProcess.program(this.lab, this.gateway, 'c', this.cConsumer, ['--log', logFile, ...referenceQueueArgs(QUEUE)], logFile, cpu);
    }
    if (consumer === 'addon' || consumer === 'addon-repeat') return ConsumerProcess.bare(this.lab, this.gateway, 'addon', consumer === 'addon' ? 'accept' : 'repeat', logFile, cpu, referenceQueueArgs(QUEUE));
    // The nfqueue binding cannot set copy range, queue length or batch: whole packets, 1024, one at a time.
    return ConsumerProcess.bare(this.lab, this.gateway, 'nfqueue', consumer === 'nfqueue' ? 'accept' : 'repeat', logFile, cpu, ['--queue', String(QUEUE)]);
  }

  /**
   * Stops a bare consumer and checks its own count against the kernel's: it must have answered
   * every packet the queue handed it (Δid_sequence − Δuser_dropped over its life), and the
   * ENOBUFS it saw must match the kernel's user_dropped (a consumer that never saw one cannot
   * have lost packets to its socket buffer).
   */
  async stopBare(r: number, consumer: Consumer, child: ConsumerProcess, queueAtStart: QueueCounters | undefined): Promise<void> {
    const queueAtEnd = await readQueue(this.lab, this.gateway, QUEUE);
    const stopped = await child.stop(3000);
    const counters = stopped.summary;
    const packets = typeof counters?.packets === 'number' ? counters.packets : null;
    const queueProcessed = processedBetween(queueAtStart, queueAtEnd);
    const run: ConsumerRun = { round: r, consumer, packets, queueProcessed, gc: child.pausesBetween(0, Date.now()) };
    if (counters) run.counters = counters;
    this.consumers.push(run);
    const where = `${consumer} (round ${r})`;
    if (packets === null) this.failures.push(`${where}: no final count (exit ${stopped.code ?? stopped.signal}; ${stopped.stderrTail})`);
    else if (packets < queueProcessed) this.failures.push(`${where}: counted ${packets} packets, the queue handed it ${queueProcessed}`);
    else if (consumer === 'c' && packets !== queueProcessed) this.failures.push(`${where}: the C reference counted ${packets} packets, /proc says the queue handed it ${queueProcessed}`);
    this.checkEnobufs(where, counters, queueAtStart, queueAtEnd);
  }

  /** A consumer that saw no ENOBUFS cannot have lost packets to its socket buffer, and one that did must have: the kernel's user_dropped says. */
  private checkEnobufs(where: string, counters: Record<string, unknown> | undefined, queueAtStart: QueueCounters | undefined, queueAtEnd: QueueCounters | undefined): void {
    const userDropped = queueAtStart && queueAtEnd && queueAtStart.portId === queueAtEnd.portId ? queueAtEnd.userDropped - queueAtStart.userDropped : 0;
    const enobufs = typeof counters?.enobufs === 'number' ? counters.enobufs : undefined;
    if (enobufs !== undefined && enobufs > 0 !== userDropped > 0) this.warnings.push(`${where}: it saw ${enobufs} ENOBUFS, the kernel counted ${userDropped} packets lost to its socket buffer`);
  }

  /**
   * Rising rates until the first step with drops or a backlog that never emptied in its final third (fellBehind; or the
   * generator falls short); then REFINE_STEPS steps bisecting the gap between the last clean rate
   * and the first failing one (10,000/s between rungs becomes 2,500/s).
   */
  async ladder(r: number, consumer: Consumer, child: ConsumerProcess): Promise<string> {
    const line: string[] = [];
    const mark = (step: StepResult) =>
      `${formatK(step.offeredRate ?? 0)}${step.drops > 0 ? `✗${formatCount(step.drops)}` : fellBehind(step) ? `✗behind ${formatCount(step.lowestQueuedInFinalThird ?? step.queuedAtEnd ?? 0)}` : step.generatorLimited ? '(gen)' : '✓'}`;
    let lastClean = 0;
    for (const rate of this.options.rates) {
      const step = await this.step(r, consumer, 'ladder', rate, this.options.stepSeconds, child);
      line.push(mark(step));
      if (step.generatorLimited) break;
      if (step.drops === 0 && !fellBehind(step)) {
        lastClean = rate;
        continue;
      }
      let [clean, failing] = [lastClean, rate];
      for (let refined = 0; refined < REFINE_STEPS && clean > 0; refined++) {
        const middle = Math.round((clean + failing) / 1000) * 500;
        if (middle <= clean || middle >= failing) break;
        const refine = await this.step(r, consumer, 'refine', middle, this.options.stepSeconds, child);
        line.push(`(${mark(refine)})`);
        if (refine.generatorLimited) break;
        if (refine.drops === 0 && !fellBehind(refine)) clean = middle;
        else failing = middle;
      }
      break;
    }
    return line.join(' ');
  }
}

/** Samples queue_total through the consumer's /proc/PID/net (its namespace's view) every 5 ms. */
class QueueSampler {
  peak = 0;
  /** The queue read when the sampler stopped (the generator had just finished). */
  last = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly started = performance.now();
  /** Every reading: [ms since the start, packets waiting]. A 4 s step is about 800. */
  private readonly readings: [number, number][] = [];

  constructor(
    pid: number,
    private readonly queue: number,
    private readonly path = `/proc/${pid}/net/netfilter/nfnetlink_queue`,
  ) {
    this.timer = setInterval(() => this.sample(), 5);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** The fewest packets waiting over the final third of the sampled time; null with fewer than 10 readings there. */
  lowestInFinalThird(): number | null {
    const end = this.readings.at(-1)?.[0] ?? 0;
    const final = this.readings.filter(([at]) => at >= (end * 2) / 3);
    return final.length < 10 ? null : Math.min(...final.map(([, queued]) => queued));
  }

  private sample(): void {
    try {
      const counters = parseQueueCounters(readFileSync(this.path, 'utf8'), this.queue);
      if (!counters) return;
      this.last = counters.queueTotal;
      this.readings.push([performance.now() - this.started, counters.queueTotal]);
      if (counters.queueTotal > this.peak) this.peak = counters.queueTotal;
    } catch {
      // the consumer is gone; the step will say so
    }
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

function cpuShares(before: MachineCpu, after: MachineCpu, consumerBefore: number | undefined, consumerAfter: number | undefined, seconds: number): Omit<StepResult['cpu'], 'consumerBudgetPercent'> {
  const total = after.total - before.total;
  const consumer = consumerBefore !== undefined && consumerAfter !== undefined ? round(((consumerAfter - consumerBefore) / clockTicks() / seconds) * 100, 1) : null;
  return {
    machineBusyPercent: total > 0 ? round(((after.busy - before.busy) / total) * 100, 1) : 0,
    machineSoftirqPercent: total > 0 ? round(((after.softirq - before.softirq) / total) * 100, 1) : 0,
    consumerPercentOfCore: consumer,
  };
}

// ---------------------------------------------------------------------------------------------
// One round: every configuration once, in a rotating order.

async function runRound(bench: Bench, r: number): Promise<void> {
  const order = ['none', ...bench.options.groups];
  const rotated = order.map((_, k) => order[(r - 1 + k) % order.length]!);
  for (const group of rotated) {
    if (group === 'none') {
      const ceiling = await bench.step(r, 'none', 'ceiling', null, bench.options.floodSeconds, undefined);
      log(`  round ${r} no rules: generator ceiling ${formatCount(ceiling.generator.rate)} datagrams/s (${formatCount(ceiling.deliveredPerSecond)}/s arrived)`);
    } else if (isSensor(group)) {
      await runSensor(bench, r, group);
    } else {
      await runBare(bench, r, GROUPS[group]!);
    }
  }
}

/** One sensor variant: for the default one (the addon, no uplink) the bulk samples first, then its ladder and flood. */
async function runSensor(bench: Bench, r: number, consumer: SensorConsumer): Promise<void> {
  const sensor = await bench.startSensor(consumer);
  try {
    const start = await readQueue(bench.lab, bench.gateway, QUEUE);
    const bulk = consumer === 'sensor' && bench.options.bulk ? await bench.bulkSamples(r) : [];
    const ladder = await bench.ladder(r, consumer, sensor);
    const flood = await bench.step(r, consumer, 'saturation', null, bench.options.floodSeconds, sensor);
    await bench.stopSensor(r, consumer, sensor, start);
    if (bulk.length > 0) {
      const mb = (config: BulkConfig, direction: 'download' | 'upload') => formatCount(median(bulk.filter((b) => b.config === config && b.direction === direction).map((b) => b.megabytesPerSecond)));
      log(`  round ${r} bulk MB/s, no rules / conntrack only / sensor: down ${mb('none', 'download')} / ${mb('conntrack', 'download')} / ${mb('sensor', 'download')}, up ${mb('none', 'upload')} / ${mb('conntrack', 'upload')} / ${mb('sensor', 'upload')}`);
    }
    log(`  round ${r} ${consumer}: ladder ${ladder}; overloaded ${formatCount(flood.queue!.processedPerSecond)} pkt/s`);
  } finally {
    if (sensor.running) await sensor.stop(2000);
    await bench.rules('remove');
  }
}

/** Bare consumers one after the other under the sensor's rules (installed without a sensor). */
async function runBare(bench: Bench, r: number, consumers: readonly Consumer[]): Promise<void> {
  await bench.rules('install');
  let child: ConsumerProcess | undefined;
  try {
    for (const consumer of consumers) {
      if (isSensor(consumer)) throw new Error(`${consumer} is not a bare consumer`);
      child = await bench.startBare(consumer);
      const start = await readQueue(bench.lab, bench.gateway, QUEUE);
      const ladder = CONSUMERS[consumer].ladder ? await bench.ladder(r, consumer, child) : undefined;
      const flood = await bench.step(r, consumer, 'saturation', null, bench.options.floodSeconds, child);
      await bench.stopBare(r, consumer, child, start);
      log(`  round ${r} ${consumer}: ${ladder ? `ladder ${ladder}; ` : ''}overloaded ${formatCount(flood.queue!.processedPerSecond)} pkt/s${flood.drops === 0 ? ' (took the whole flood: generator-bound)' : ''}`);
    }
  } finally {
    if (child?.running) await child.stop(2000);
    await bench.rules('remove');
  }
}

async function main(): Promise<number> {
  const options = parseOptions();
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'p2pwall-bench-gateway-'));
  let lab: Lab | undefined;
  let interrupted = false;
  let bench: Bench | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: tearing the lab down`);
    void Promise.resolve(bench?.uplink?.nats.cleanup())
      .catch(() => undefined)
      .then(() => Lab.down(options.prefix))
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
    lab = await floodLab(options.prefix, log);
    log(`lab ${options.prefix} up in ${Date.now() - started} ms: client ${lab.site('a').clients[0]!.ns} → gateway ${lab.site('a').gateway} → ${lab.inet}`);
    bench = new Bench(lab, options, workDir);
    const servers = lab.emulate(bench.inet, 'benign-servers', ['--duration', '900']);
    await servers.ready();

    // Warm-up, not counted: the bulk server's JIT, the page cache of python and node.
    if (options.bulk) {
      for (let i = 0; i < 2; i++) {
        await bench.bulkTransfer(0, 0, 'none', 'download', false);
        await bench.bulkTransfer(0, 0, 'none', 'upload', false);
      }
      log(`warm-up done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }

    for (let r = 1; r <= options.rounds; r++) await runRound(bench, r);
    await servers.stop();

    const f = figures(bench.steps, bench.bulk, options.rounds);
    const cpuList = cpus();
    const cpuModel = cpuList[0]?.model ?? 'unknown';
    const kernel = release();
    const goals = goalsOf(f);
    failures.push(...bench.failures);
    for (const group of options.groups) {
      for (const consumer of GROUPS[group]!) {
        const kind = CONSUMERS[consumer].ladder ? 'ladder' : 'saturation';
        if (!bench.steps.some((s) => s.config === consumer && s.kind === kind)) failures.push(`no ${kind} step ran through ${consumer}`);
      }
    }
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
        order: `each round runs every group once (no rules; ${options.groups.join('; ')}), their order rotating; medians over rounds, spread = (max − min) / median, ratios within a round`,
        lab: `Lab.up({ sites: ['a'], clientsPerSite: 1 }): ${bench.client} → ${bench.gateway} (the rules and the consumer) → ${bench.inet}; benign-servers in ${bench.inet}`,
        sensorConfig: { ...SENSOR_CONFIG, queue: { addon: sensorQueueConfig('addon'), nfqueue: sensorQueueConfig('nfqueue') }, note: 'everything else default: queue 0, connbytes 8, failOpen true (--queue-bypass), 64 MiB socket buffer, security table, IPv4 + IPv6; whenFull drop so a full queue is counted (fail-open packets are counted nowhere)' },
        queueSettings: { ...REFERENCE_QUEUE, note: "the C reference's copy range, queue length and batch size: the addon's defaults; the nfqueue binding cannot set them (whole packets, 1024)" },
        consumers:
          '`node --trace-gc p2pwall-sensor run --config FILE` on each binding (as SensorProcess runs it, plus the flag, so GC pauses can be set against drops); `node --trace-gc dist/gateway/bare-addon-consumer.js` (the addon answering NF_ACCEPT, or NF_REPEAT with the accepted bit as the sensor does); `node --trace-gc dist/gateway/bare-consumer.js` (the nfqueue binding, createQueueHandler(0, 64 MiB), the same two verdicts); the C reference (src/gateway/c-consumer.c, compiled with cc -O2 at run time: mnl API, drains the socket per wake-up, one NFQNL_MSG_VERDICT_BATCH per wake-up); each as a lab process in the gateway namespace',
        bulk: `${options.bulkSamples} samples a round, each running three configurations back to back in a rotating order while the sensor stays bound to its queue (its rules removed and installed with p2pwall-sensor rules remove|install around the others): ${options.bulkBytes} bytes, GET (download) then PUT (upload), with no rules (A), with only a conntrack rule (filter FORWARD -m conntrack --ctstate INVALID -j DROP, the stateful baseline of most gateways) and with the sensor running (B), to ${LAB_HOSTS.web}:${BULK_PORT} (the lab's Node bulk service) from a CPython client; timed from the connection being up to the last byte (GET) or to the server's "OK n" (PUT)`,
        flows: `UDP, one datagram (42 payload bytes) per new 5-tuple, from ${FLOOD_SOCKETS} sockets in ${bench.client} to the internet's ${bench.generator.targetCount} IPv4 addresses × ports ${FLOOD_PORT_BASE}–${FLOOD_PORT_BASE + FLOOD_PORT_COUNT - 1}, dropped and counted by an iptables rule in ${bench.inet} (no listener, no ICMP back); the gateway's conntrack table is flushed before every step; paced in 1 ms ticks by a CPython sender`,
        ladder: `offered rates ${options.rates.join(', ')} /s, ${options.stepSeconds} s each, stopping at the first step with queue drops or when the generator reaches < ${GENERATOR_SHORTFALL * 100}% of the offered rate`,
        saturation: `an unpaced ${options.floodSeconds} s flood through each consumer (the ladder's, plus the bare bindings answering NF_REPEAT with the accepted mark bit); a consumer that took the whole flood without a drop is generator-bound there`,
        ceiling: `an unpaced ${options.floodSeconds} s flood with no p2pwall rules: the generator's own rate`,
        pinning: options.pin
          ? `taskset: the generator on CPU ${options.pin.generator} (the forwarding up to the queue runs in its context); ` +
            (options.pin.consumer === undefined
              ? 'the queue consumer left to the scheduler (its main thread lands on the other CPU; V8 GC helper threads may use both)'
              : `the queue consumer, all its threads, on CPU ${options.pin.consumer} (V8's concurrent GC threads then share its core)`) +
            '; bulk endpoints unpinned'
          : 'none: the scheduler places every process',
        consumerCpuPercent: options.consumerCpuPercent,
        cpuBudget:
          options.consumerCpuPercent < 100
            ? `every queue consumer (the C reference, the bare bindings, the sensor) held to ${options.consumerCpuPercent}% of one core by a cgroup CPU quota (10 ms period), so that each one's rates are set by its own cost a packet (the verdict's re-injection included, which runs in its system call) and stay below the generator's, which shares a core with the forwarding up to the queue; with --consumer-cpu 100 the fast consumers are generator-bound here`
            : 'none (--consumer-cpu 100): each consumer may use a whole core',
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
      // Before the lab: a server started with `ip netns exec` outlives its namespace.
      await bench?.uplink?.nats.cleanup().catch(() => undefined);
      const report = lab ? await lab.down() : await Lab.down(options.prefix).catch(() => undefined);
      bench?.budget?.remove();
      if (report && report.leftover.length > 0) failures.push(`lab down left namespaces behind: ${report.leftover.join(', ')}`);
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  if (interrupted) return 130;
  for (const failure of failures) console.error(`SANITY FAILURE: ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
