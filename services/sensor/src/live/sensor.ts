import type { Logger, Telemetry } from '@p2pwall/common';
import { openQueue, optionsNfqueueIgnores } from '../capture/open-queue.js';
import { DROP_PACKET, type BoundQueue } from '../capture/queue-binding.js';
import { engineConfigFrom, type SensorConfig } from '../config.js';
import { Engine, Verdict } from '../engine.js';
import type { EngineEvent } from '../events.js';
import { eventLogger, parseEventLetters } from '../event-log.js';
import { KernelSets, type SetFill } from '../enforce/kernel-sets.js';
import { installRules, removeRules } from '../enforce/iptables.js';
import { QueueStatsMonitor, readQueueStats, type QueueStats } from '../enforce/queue-stats.js';
import { Storefile } from '../enforce/storefile.js';
import { EventTally } from '../telemetry/event-tally.js';
import { propagationRecorder } from '../telemetry/propagation.js';
import { blocklistState, rulesState, type ComponentState, type SensorComponent } from '../telemetry/readiness.js';
import { registerSensorMetrics } from '../telemetry/sensor-metrics.js';
import { Uplink } from '../uplink/uplink.js';
import { decisionEffect } from './decisions.js';
import { kernelPolicyFrom } from './policy.js';
import type { p2pwall } from '@p2pwall/proto';

export interface LiveSensorOptions {
  config: SensorConfig;
  /** The NFQUEUE number this process serves (one of config.queue.numbers). */
  queue: number;
  /** Install the rules at start (and remove them at exit when config.onExit is remove). */
  manageRules: boolean;
  logger: Logger;
  /** Metrics, the publish spans and readiness go here (started by the caller, before this). */
  telemetry?: Telemetry;
}

const HOUSEKEEPING_MS = 1000;
/** Well within ipset's longest timeout (24.8 days): set entries of long decisions are added again this often. */
const KERNEL_REARM_MS = 6 * 3_600_000;
const STOREFILE_COMPACTION_MS = 60_000;
const DRAIN_LIMIT_MS = 500;

function secondsUntil(ms: number, now: number): number {
  return Math.max(1, Math.ceil((ms - now) / 1000));
}

/**
 * The live sensor: packets from NFQUEUE through the engine, verdicts back at once; learned
 * peers and locks into the kernel sets and the storefile; kernel queue counters watched.
 */
export class LiveSensor {
  readonly engine: Engine;
  private readonly kernelSets: KernelSets;
  private readonly storefile: Storefile | null;
  private readonly queueMonitor = new QueueStatsMonitor();
  private readonly timers: NodeJS.Timeout[] = [];
  private uplink: Uplink | null = null;
  private boundQueue: BoundQueue | null = null;
  /** The sets' entries against maxelem, as last read (with the queue counters); empty until then. */
  private setFill: readonly SetFill[] = [];
  private readingSetFill = false;
  private stopping = false;
  /** This start installed the rules where there were none (so a failed start takes them away). */
  private installedFresh = false;
  /** Clients, peers and flow ends from the engine's events, for the metrics. */
  private readonly tally = new EventTally();
  private readonly startedMs = Date.now();
  private readonly recordPropagation: ((decision: p2pwall.v1.IDecision, appliedMs: number) => void) | null;

  private constructor(private readonly options: LiveSensorOptions) {
    const { config, logger } = options;
    const logEvents = eventLogger(logger, parseEventLetters(config.log.events));
    this.kernelSets = new KernelSets({
      prefix: config.kernel.setPrefix,
      ipv6: config.ipv6,
      flushIntervalMs: config.kernel.setFlushMs,
      onError: (message) => logger.error({ component: 'kernel-sets' }, message),
    });
    this.storefile = config.storefile === null ? null : new Storefile(config.storefile);
    this.recordPropagation = options.telemetry ? propagationRecorder(options.telemetry.meter, this.startedMs) : null;
    this.engine = new Engine(engineConfigFrom(config), (event) => {
      logEvents(event);
      this.tally.observe(event);
      this.follow(event);
      this.uplink?.onEngineEvent(event);
    });
  }

  static async start(options: LiveSensorOptions): Promise<LiveSensor> {
    const { config, logger } = options;
    const sensor = new LiveSensor(options);
    // Sources are read at scrape time: what is not there yet (the uplink, the queue) is left out.
    if (options.telemetry) {
      registerSensorMetrics(options.telemetry.meter, {
        engine: sensor.engine,
        tally: sensor.tally,
        kernelQueue: () => sensor.kernelQueue(),
        queueBinding: () => sensor.boundQueue?.stats() ?? null,
        uplink: () => sensor.uplink?.stats ?? null,
        kernelSets: () => ({ stats: sensor.kernelSets.stats, fill: sensor.setFill }),
      });
    }
    const policy = kernelPolicyFrom(config);
    if (options.manageRules) {
      sensor.installedFresh = (await installRules(policy)).fresh;
      logger.info({ queues: config.queue.numbers, failOpen: config.queue.failOpen, connbytes: config.queue.connbytes, mode: config.mode }, 'rules installed');
    }
    try {
      await sensor.connect();
    } catch (error) {
      await sensor.undoStart(error);
      throw error;
    }
    sensor.ready('nfqueue', { ok: true, detail: `queue ${options.queue} bound` });
    sensor.startTimers();
    logger.info(
      { site: config.site, gateway: config.gateway, queue: options.queue, binding: config.queue.binding, peersLoaded: sensor.engine.peers.size, socketBufferBytes: config.queue.socketBufferBytes, maxLength: config.queue.maxLength, whenFull: config.queue.whenFull, copyRange: config.queue.copyRange, telemetryPort: options.telemetry?.port ?? null },
      'sensor started',
    );
    return sensor;
  }

  /** Everything after the rules: storefile, uplink, kernel sets and the queue. */
  private async connect(): Promise<void> {
    const { config, logger } = this.options;
    const options = this.options;
    this.ready('rules', rulesState(options.manageRules));
    this.loadStorefile();
    const redisConfigured = config.uplink?.redis !== undefined;
    this.ready('blocklist', blocklistState(redisConfigured, null));
    this.uplink = await Uplink.start(config, {
      logger,
      identity: { queue: options.queue },
      onUpsert: (decision) => this.applyDecision(decision, false),
      onRemove: (decision) => this.applyDecision(decision, true),
      stats: () => this.heartbeatCounters(),
      onBlocklistLoaded: (source) => this.ready('blocklist', blocklistState(redisConfigured, source)),
      tracer: options.telemetry?.tracer,
    });
    await this.kernelSets.flush();
    this.boundQueue = this.openQueue();
  }

  /** Binds the queue: every packet through the engine, answered at once. */
  private openQueue(): BoundQueue {
    const { config, logger, queue } = this.options;
    const { binding, socketBufferBytes, maxLength, whenFull, copyRange, gso } = config.queue;
    const queueOptions = { socketBufferBytes, maxLength, whenFull, copyRange, gso };
    if (binding === 'nfqueue') {
      logger.warn({ queue, notApplied: optionsNfqueueIgnores(queueOptions) }, 'queue.binding nfqueue cannot set the kernel queue\'s length, flags or copy range: these queue keys do not apply');
    }
    const { markAccepted: accepted, markClean: clean, markPeer: peer } = config.kernel;
    const engine = this.engine;
    return openQueue(binding, queue, queueOptions, (buf, offset, length, wireLength, mark, now) => {
      if (engine.judgeIp(buf, offset, offset + length, now, wireLength) === Verdict.drop) return DROP_PACKET;
      // The peer chain queued it to be seen: the kernel drops it whatever the answer, so
      // dropping it here spares its second trip through the rules.
      if ((mark & peer) !== 0) return DROP_PACKET;
      // Accepted packets re-enter the hook marked, leave the p2pwall chain and meet the rest
      // of the operator's rules; a clean flow's connection is marked to skip the queue.
      return (mark | accepted | (engine.lastFlowClean ? clean : 0)) >>> 0;
    });
  }

  /**
   * A start that failed half-way leaves nothing behind: rules this start put in place are removed
   * (and with onExit: remove, whatever was there), and a started uplink is closed. Rules an
   * earlier run kept (onExit: keep) stay: they go on blocking what that run learned.
   */
  private async undoStart(cause: unknown): Promise<void> {
    const { config, logger } = this.options;
    this.stopping = true;
    try {
      await this.uplink?.stop(0);
      this.storefile?.close();
      if (this.options.manageRules && (this.installedFresh || config.onExit === 'remove')) await removeRules(kernelPolicyFrom(config));
    } catch (error) {
      logger.error({ err: error, cause }, 'cleaning up after a failed start failed too');
    }
  }

  /** Drains what is in flight, saves state, and handles the rules as configured. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { config, logger } = this.options;
    for (const timer of this.timers) clearInterval(timer);
    if (this.options.manageRules && config.onExit === 'remove') await removeRules(kernelPolicyFrom(config));
    await this.drain();
    // Between batches: every packet read so far is answered. With the rules kept, --queue-bypass
    // (failOpen) or the lack of it decides for packets that arrive from now on.
    const released = this.boundQueue?.close() ?? false;
    this.engine.flush(Date.now());
    await this.uplink?.stop();
    // A last reading, so the totals include what was lost since the previous poll.
    this.queueMonitor.update(readQueueStats());
    await this.kernelSets.flush();
    this.storefile?.close();
    logger.info({ reason, counters: { ...this.engine.counters }, queue: this.queueMonitor.totals(), binding: this.boundQueue?.stats() ?? null, queueReleased: released, rules: this.options.manageRules ? config.onExit : 'unmanaged' }, 'sensor stopped');
  }

  private ready(component: SensorComponent, state: ComponentState): void {
    this.options.telemetry?.health.setReady(component, state.ok, state.detail);
  }

  /** This process's queue in the kernel's counters, for the metrics; a read error is no reading. */
  private kernelQueue(): QueueStats | undefined {
    try {
      return readQueueStats().find((stats) => stats.queue === this.options.queue);
    } catch {
      return undefined;
    }
  }

  /** A decision from the shared blocklist, into the engine and the kernel sets. */
  private applyDecision(decision: p2pwall.v1.Decision, removed: boolean): void {
    const effect = decisionEffect(decision, this.options.config.site, removed);
    const now = Date.now();
    let applied = effect.kind !== 'none';
    switch (effect.kind) {
      case 'block-peer':
        applied = this.engine.loadPeer(effect.ip, effect.port, effect.transport, { protocol: 'shared', via: effect.via, learnedFrom: null, learnedAt: now, expiresAt: effect.expiresAt });
        if (applied) this.kernelSets.addPeer(effect.ip, effect.port, effect.transport, secondsUntil(effect.expiresAt, now));
        break;
      case 'unblock-peer':
        this.engine.removePeer(effect.ip, effect.port, effect.transport);
        this.kernelSets.removePeer(effect.ip, effect.port, effect.transport);
        break;
      case 'block-network':
        applied = effect.expiresAt > now;
        if (applied) this.kernelSets.addNetwork(effect.network, effect.transport, secondsUntil(effect.expiresAt, now));
        break;
      case 'unblock-network':
        this.kernelSets.removeNetwork(effect.network, effect.transport);
        break;
      case 'allow-peer': {
        const forgotten = this.engine.allowPeer(effect.ip, effect.port, effect.allowedUntil) ?? [];
        for (const peer of forgotten) this.kernelSets.removePeer(peer.ip, peer.port, peer.transport);
        // Shared blocks of other sensors' peers may sit in the kernel sets without this engine knowing them.
        this.kernelSets.removePeer(effect.ip, effect.port, 'both');
        // An exception inside any blocked network (the kernel's network rules skip it).
        this.kernelSets.exceptFromNetworks(effect.ip, effect.port, secondsUntil(effect.allowedUntil, now));
        break;
      }
      case 'disallow-peer':
        this.engine.disallowPeer(effect.ip, effect.port);
        this.kernelSets.endNetworkException(effect.ip, effect.port);
        break;
      case 'lock-host':
        applied = effect.lockedUntil > now && this.engine.lockHost(effect.ip, effect.lockedUntil);
        if (applied) this.kernelSets.lockClient(effect.ip, secondsUntil(effect.lockedUntil, now));
        break;
      case 'unlock-host':
        this.engine.unlockHost(effect.ip);
        this.kernelSets.unlockClient(effect.ip);
        break;
      case 'allow-host':
        this.engine.allowHost(effect.ip, effect.allowedUntil);
        this.kernelSets.unlockClient(effect.ip);
        break;
      case 'disallow-host':
        this.engine.disallowHost(effect.ip);
        break;
      case 'none':
        break;
    }
    // A removal has no evidence time to measure from; a new or changed entry has.
    if (applied && !removed) this.recordPropagation?.(decision, now);
    this.options.logger.debug({ id: decision.id, effect: effect.kind, applied, removed }, 'shared decision');
    // When a shared decision took effect here (propagation is measured from this line).
    this.options.logger.debug({ decision: decision.id, effect: effect.kind, removed, applied: now }, 'shared decision applied');
  }

  private heartbeatCounters() {
    const counters = this.engine.counters;
    return {
      queues: readQueueStats().map((q) => ({ queue: q.queue, queueTotal: q.queueTotal, queueDropped: q.queueDropped, userDropped: q.userDropped })),
      packets: counters.packets,
      dropped: counters.dropped,
      flows: this.engine.flows.size,
      peers: this.engine.peers.size,
      clients: this.engine.clients.size,
    };
  }

  private loadStorefile(): void {
    if (!this.storefile) return;
    const now = Date.now();
    const loaded = this.storefile.open(now);
    for (const peer of loaded.peers) {
      if (this.engine.loadPeer(peer.ip, peer.port, peer.transport, { ...peer, via: `storefile:${peer.via}` })) {
        this.kernelSets.addPeer(peer.ip, peer.port, peer.transport, secondsUntil(peer.expiresAt, now));
      }
    }
    if (loaded.invalidLines > 0) this.options.logger.warn({ storefile: this.storefile.path, invalidLines: loaded.invalidLines }, 'storefile had damaged lines; they were dropped');
  }

  /** Called for every engine event, a flow's end included (most of them): reads the clock only for those it acts on. */
  private follow(event: EngineEvent): void {
    switch (event.event) {
      case 'peer':
      case 'peer-refresh':
        this.kernelSets.addPeer(event.ip, event.port, event.transport, secondsUntil(event.expiresAt, Date.now()));
        this.storefile?.append({ ip: event.ip, port: event.port, transport: event.transport, protocol: event.protocol, via: event.via, learnedFrom: event.learnedFrom, learnedAt: event.ts, expiresAt: event.expiresAt });
        break;
      case 'client':
      case 'lock': {
        const now = Date.now();
        if (event.lockedUntil > now) this.kernelSets.lockClient(event.host, secondsUntil(event.lockedUntil, now));
        break;
      }
      default:
        break;
    }
  }

  private startTimers(): void {
    const { config, logger } = this.options;
    this.timers.push(setInterval(() => this.engine.housekeeping(Date.now()), HOUSEKEEPING_MS));
    this.timers.push(setInterval(() => this.kernelSets.rearmLongLived(), KERNEL_REARM_MS));
    this.timers.push(
      setInterval(() => {
        if (!this.storefile) return;
        const peers = this.engine.peers;
        this.storefile.compactIfWorthwhile(peers.size, () =>
          [...peers.values()].map((p) => ({ ip: p.ip, port: p.port, transport: p.transport, protocol: p.protocol, via: p.via, learnedFrom: p.learnedFrom, learnedAt: p.learnedAt, expiresAt: p.expiresAt })),
        );
      }, STOREFILE_COMPACTION_MS),
    );
    this.timers.push(
      setInterval(() => {
        for (const growth of this.queueMonitor.update(readQueueStats())) {
          logger.warn({ queue: growth.queue, queueDropped: growth.queueDropped, userDropped: growth.userDropped }, 'the kernel dropped queued packets: the sensor is not keeping up (queue full or socket buffer full)');
        }
        this.refreshSetFill();
      }, config.queueStatsIntervalSeconds * 1000),
    );
    for (const timer of this.timers) timer.unref();
  }

  /** Reads the sets' fill for the metrics, one reading at a time; warns once a set is nine tenths full. */
  private refreshSetFill(): void {
    if (this.readingSetFill) return;
    this.readingSetFill = true;
    const { logger } = this.options;
    this.kernelSets
      .readFill()
      .then((fill) => {
        for (const set of fill) {
          const wasFull = this.setFill.find((before) => before.name === set.name);
          const full = set.entries >= set.maxEntries * 0.9;
          if (full && !(wasFull && wasFull.entries >= wasFull.maxEntries * 0.9)) logger.warn({ set: set.name, entries: set.entries, maxEntries: set.maxEntries }, 'a kernel set is nine tenths full: past maxelem new peers do not reach the kernel');
        }
        this.setFill = fill;
      })
      .catch((error: unknown) => logger.warn({ error: String(error) }, 'cannot read the kernel sets\' fill'))
      .finally(() => {
        this.readingSetFill = false;
      });
  }

  /** Keeps answering queued packets until the kernel queue is empty, for at most DRAIN_LIMIT_MS. */
  private async drain(): Promise<void> {
    const deadline = Date.now() + DRAIN_LIMIT_MS;
    while (Date.now() < deadline) {
      const mine = readQueueStats().find((stats) => stats.queue === this.options.queue);
      if (!mine || mine.queueTotal === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
