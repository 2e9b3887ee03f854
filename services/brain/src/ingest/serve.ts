import { CidrSet, connectionCause, connectionFailure, ConnectionLog, CONSUMERS, LogLimiter, redactUrlPasswords, REDIS_KEYS, STREAMS, SUBJECTS, type ConnectionFailure, type Logger, type Telemetry } from '@p2pwall/common';
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType, type Consumer, type ConsumerInfo, type ConsumerMessages, type JsMsg, type StreamInfo } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { trace, type Tracer } from '@opentelemetry/api';
import { connectionsReady, readinessFromHealth } from '../api/readiness.js';
import { apiPort, startApi } from '../api/server.js';
import { BlocklistWriter } from '../blocklist/writer.js';
import { IncidentHistory } from '../incidents/history.js';
import { IncidentStore } from '../incidents/store.js';
import { natsOptions, redisOptions } from '../connections.js';
import type { BrainConfig } from '../config.js';
import { Allowlist } from '../decide/allowlist.js';
import { SuspendedBlocks } from '../decide/suspended-blocks.js';
import { BlocklistReader } from '../api/blocklist-reader.js';
import { apiRequestRecorder } from '../telemetry/api-metrics.js';
import { registerBrainMetrics, type BatchOutcome, type BatchTimer } from '../telemetry/brain-metrics.js';
import { ActiveIncidents, readActiveIncidents } from '../telemetry/active-incidents.js';
import { DecisionTally } from '../telemetry/decision-tally.js';
import { IncidentTally } from '../telemetry/incident-tally.js';
import { readIngestBacklog } from '../telemetry/ingest-backlog.js';
import { ingestSpan } from '../telemetry/ingest-span.js';
import { watchNats, watchRedis } from '../telemetry/readiness.js';
import { readSharedState } from '../telemetry/shared-state.js';
import { p2pwall } from '@p2pwall/proto';
import { BatchProcessor } from './processor.js';
import { hostname } from 'node:os';
import { packageVersion } from '@p2pwall/common';
import { IncidentEvents } from '../notify/incident-events.js';
import { Notifications } from '../notify/notifier.js';
import { registerNotificationMetrics } from '../telemetry/notify-metrics.js';
import { LiveEvents } from '../console/live-events.js';
import { liveIncidents } from '../console/live-incidents.js';

/**
 * `p2pwall-brain serve`: JetStream (durable pull consumer shared by every replica, explicit ack)
 * → BatchProcessor → Redis. Malformed messages are acked and counted; a message whose processing
 * failed (Redis unreachable) is nak'ed with a delay and comes back.
 */

/** The wait before redelivery n + 1 of a failed message: 1 s, 2 s, 4 s ... at most a minute. */
export function redeliveryDelayMs(deliveries: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, Math.min(6, deliveries - 1)));
}

const HEARTBEAT_PREFIX = SUBJECTS.allHeartbeats.slice(0, -1);

/** Creates the stream when missing (or checks it exists), and the durable consumer; an existing one gets this brain's message-size and delivery limits. */
export async function ensureStream(nc: NatsConnection, config: BrainConfig): Promise<void> {
  const jsm = await jetstreamManager(nc);
  let stream: StreamInfo | undefined;
  try {
    stream = await jsm.streams.info(STREAMS.summaries);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || !config.stream.create) throw error;
    await jsm.streams.add({
      name: STREAMS.summaries,
      subjects: [SUBJECTS.allSummaries, SUBJECTS.allHeartbeats],
      retention: RetentionPolicy.Limits,
      storage: config.stream.storage === 'memory' ? StorageType.Memory : StorageType.File,
      max_age: nanos(config.stream.maxAgeSeconds * 1000),
      max_bytes: config.stream.maxBytes,
      max_msg_size: config.stream.maxMessageBytes,
      duplicate_window: nanos(config.stream.duplicateWindowSeconds * 1000),
      num_replicas: config.stream.replicas,
      discard: DiscardPolicy.Old,
    });
  }
  // A stream made before the message-size limit existed (or with another one) gets this brain's, when the brain manages it.
  if (stream && config.stream.create && stream.config.max_msg_size !== config.stream.maxMessageBytes) await jsm.streams.update(STREAMS.summaries, { ...stream.config, max_msg_size: config.stream.maxMessageBytes });
  let consumer: ConsumerInfo | undefined;
  try {
    consumer = await jsm.consumers.info(STREAMS.summaries, CONSUMERS.brain);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    await jsm.consumers.add(STREAMS.summaries, {
      durable_name: CONSUMERS.brain,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(config.consumer.ackWaitSeconds * 1000),
      max_ack_pending: Math.max(1000, config.consumer.fetchBatch * 8),
      max_deliver: config.consumer.maxDeliver,
    });
  }
  // A consumer made before the delivery limit existed would redeliver a poison message for ever: it gets this brain's.
  if (consumer && consumer.config.max_deliver !== config.consumer.maxDeliver) await jsm.consumers.update(STREAMS.summaries, CONSUMERS.brain, { max_deliver: config.consumer.maxDeliver });
}

export interface BrainStats {
  ingest: BatchProcessor['counters'];
  blocklist: BlocklistWriter['counters'];
  messages: number;
  failures: number;
  /** Messages that failed at their last delivery (consumer.maxDeliver): terminated, never redelivered. */
  deadLettered: number;
  /** Times this replica found the incident history gone from Redis (incidents/history.ts). */
  incidentHistoryLost: number;
}

export interface BrainServiceOptions {
  /** Metrics, traces and readiness (started by `serve` before the brain); absent: none (tests). */
  telemetry?: Telemetry;
}

/** A scrape reads the shared state from Redis at most this long (it is skipped when Redis is slower). */
const SHARED_STATE_TIMEOUT_MS = 1000;
/** Open incidents a scrape reads at most (the newest): p2pwall_brain_incidents_active. */
const ACTIVE_INCIDENTS_READ_MAX = 10_000;
/** A failing message is logged at most this often (every failure is counted: p2pwall_brain_messages). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Redis or NATS cannot be reached at start: the message names the service, the URL and the key. */
export class ServiceUnreachableError extends Error {
  override readonly name = 'ServiceUnreachableError';
}

const REDIS_WAIT = 'batches wait in the stream and decisions are not written until it is back';
/** What an operator checks when Redis refuses the brain, by kind of failure. */
const REDIS_REFUSED: Record<Exclude<ConnectionFailure, 'unreachable'>, string> = {
  credentials: 'Redis refused the brain\'s credentials (check redis.username and redis.password)',
  permission: 'the Redis ACL forbids a command the brain needs (see the README ACL for p2pwall-brain)',
  tls: 'TLS with Redis failed (check redis.tls: the CA that signed the server certificate, the client certificate)',
  file: 'a file of redis.tls cannot be read',
};

/** Losing and regaining NATS, as one line each (the client reconnects on its own). */
function followNats(nc: NatsConnection, natsLog: ConnectionLog): void {
  natsLog.up();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') natsLog.down(new Error('connection closed'), 'batches wait in the stream until it is back');
      else if (status.type === 'reconnect') natsLog.up();
    }
  })();
}

export class BrainService {
  private nc: NatsConnection | undefined;
  private redis: Redis | undefined;
  private writer: BlocklistWriter | undefined;
  private processor: BatchProcessor | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** The consumer's running pull (closed on stop). */
  private pulling: ConsumerMessages | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private incidents: IncidentStore | undefined;
  private incidentHistory: IncidentHistory | undefined;
  /** notifications sinks and the incident events that feed them (notify/). */
  private notifications: Notifications | undefined;
  private incidentEvents: IncidentEvents | undefined;
  private messages = 0;
  private failures = 0;
  private deadLettered = 0;
  /** Failed and dead-lettered messages are logged at most once per interval each, with the count left out since. */
  private readonly failureLog = new LogLimiter(FAILURE_LOG_INTERVAL_MS);
  private readonly deadLetterLog = new LogLimiter(FAILURE_LOG_INTERVAL_MS);
  private api: FastifyInstance | undefined;
  private readonly tracer: Tracer;
  private readonly decisions = new DecisionTally();
  private readonly incidentsOpened = new IncidentTally();
  /** The shared durable consumer, once the stream is ensured (its backlog is a metric). */
  private consumer: Consumer | undefined;
  private timeBatch: BatchTimer | undefined;
  /** What the web console hears live (GET /v1/events/stream). */
  private readonly events: LiveEvents;

  constructor(
    private readonly config: BrainConfig,
    private readonly log: Logger,
    private readonly options: BrainServiceOptions = {},
  ) {
    // Without telemetry: the API's global tracer, a no-op unless a provider was registered.
    this.tracer = options.telemetry?.tracer ?? trace.getTracer('p2pwall-brain');
    this.events = new LiveEvents(config.api.console.maxStreams);
  }

  stats(): BrainStats {
    return { ingest: { ...this.processor!.counters }, blocklist: { ...this.writer!.counters }, messages: this.messages, failures: this.failures, deadLettered: this.deadLettered, incidentHistoryLost: this.incidentHistory?.lost ?? 0 };
  }

  /** Active decisions this replica knows. */
  known() {
    return this.writer?.known() ?? [];
  }

  async start(): Promise<void> {
    const { config, log } = this;
    const telemetry = this.options.telemetry;
    this.redis = new Redis(config.redis.url, redisOptions(config.redis));
    const redisUrl = redactUrlPasswords(config.redis.url);
    const redisLog = new ConnectionLog(log, { service: 'Redis', context: { url: redisUrl } });
    this.redis.on('error', (error: Error) => {
      const failure = connectionFailure(error);
      redisLog.down(error, failure === 'unreachable' ? REDIS_WAIT : `${REDIS_REFUSED[failure]}; ${REDIS_WAIT}`, failure === 'unreachable' ? 'warn' : 'error');
    });
    this.redis.on('ready', () => redisLog.up());
    if (telemetry) watchRedis(this.redis, telemetry.health);
    await this.redis.connect().catch((error: unknown) => {
      throw new ServiceUnreachableError(`cannot reach Redis at ${redisUrl}: ${redisLog.lastCause ?? connectionCause(error)} (redis.url)`, { cause: error });
    });
    this.writer = new BlocklistWriter(this.redis, { changesMaxLen: config.blocklist.changesMaxLen, minExtendMs: config.blocklist.minExtendSeconds * 1000, evidenceMaxItems: config.correlation.evidenceMaxItems, log, tracer: this.tracer, onWritten: (decision) => {
      this.decisions.observe(decision);
      this.events.publish({ type: 'decision', id: decision.id, action: decision.action === p2pwall.v1.Action.ACTION_ALLOW ? 'allow' : 'block' });
    } });
    const notifications = (this.notifications = new Notifications(config.notifications, { version: packageVersion(new URL('../cli.js', import.meta.url).href), source: hostname(), log }));
    const incidents = (this.incidents = new IncidentStore(this.redis, { quietMs: config.incidents.quietSeconds * 1000, retentionMs: config.incidents.retentionDays * 86_400_000, maxPerSite: config.incidents.maxPerSite, maxTotal: config.incidents.maxTotal, maxSamples: config.incidents.samples, listItems: config.incidents.listItems, onOpened: (incident) => this.incidentsOpened.observe(incident) }));
    if (notifications.wants('incident-opened') || notifications.wants('incident-escalated')) {
      const events = (this.incidentEvents = new IncidentEvents(incidents, notifications, { escalations: notifications.wants('incident-escalated'), log }));
      incidents.onRecorded = (touched) => events.recorded(touched);
    }
    this.processor = new BatchProcessor(this.redis, this.writer, { rules: config, allowlist: new Allowlist(config.allowlist), dedupMs: config.ingest.dedupSeconds * 1000, dedupWindowBatches: config.ingest.dedupWindowBatches, maxNewDecisionsPerSensorPerMinute: config.ingest.maxNewDecisionsPerSensorPerMinute, sensorRetentionMs: config.ingest.sensorRetentionSeconds * 1000, incidents: { store: liveIncidents(incidents, this.events), maxSamples: config.incidents.samples }, simulatedSites: new Set(config.simulation.sites), insideNetworks: new CidrSet(config.insideNetworks), log });
    await this.writer.sweep();
    this.incidentHistory = new IncidentHistory(this.redis, { log });
    await this.incidentHistory.check();
    this.nc = await connect(natsOptions(config.nats)).catch((error: unknown) => {
      throw new ServiceUnreachableError(`cannot reach NATS at ${config.nats.servers.map(redactUrlPasswords).join(', ')}: ${connectionCause(error)} (nats.servers)`, { cause: error });
    });
    followNats(this.nc, new ConnectionLog(log, { service: 'NATS', context: { servers: config.nats.servers.map(redactUrlPasswords) } }));
    if (telemetry) {
      watchNats(this.nc, telemetry.health);
      this.registerMetrics(telemetry);
    }
    await ensureStream(this.nc, config);
    const consumer = (this.consumer = await jetstream(this.nc).consumers.get(STREAMS.summaries, CONSUMERS.brain));
    this.loop = this.run(consumer);
    this.sweepTimer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.writer!.sweep()
        .then(async (result) => {
          if (result.removed > 0 || result.republished > 0) log.info(result, 'blocklist sweep');
          // Blocks held by allow entries that expired come back.
          const restored = await new SuspendedBlocks(this.redis!, new BlocklistReader(this.redis!), this.writer!).restoreExpired();
          if (restored > 0) log.info({ restored }, 'blocks suspended by expired allow entries restored');
          // the same period as the blocklist epoch's check: Redis losing its data shows in both
          await this.incidentHistory!.check();
          const reevaluated = await this.processor!.reevaluateHosts();
          if (reevaluated > 0) log.info({ decisions: reevaluated }, 'host rules re-evaluated: decisions written');
        })
        .catch((error: unknown) => log.warn({ err: String(error) }, 'blocklist sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, config.blocklist.sweepSeconds * 1000);
    if (config.api.enabled) {
      // With telemetry, the API's /health/ready answers from the same registry as the telemetry port's.
      const ready = telemetry ? readinessFromHealth(telemetry.health) : () => connectionsReady(this.nc, this.redis);
      const history = this.incidentHistory;
      const warnings = (): Record<string, string> => {
        const warning = history.warning();
        return warning ? { incidentHistory: warning } : {};
      };
      this.api = await startApi({ redis: this.redis, writer: this.writer, incidents, ready, warnings, insideNetworks: config.insideNetworks, notifier: notifications, events: this.events }, config.api, log, telemetry ? { observeRequest: apiRequestRecorder(telemetry.meter) } : {});
    }
    log.info({ stream: STREAMS.summaries, consumer: CONSUMERS.brain, redis: REDIS_KEYS.decisions, telemetryPort: telemetry?.port ?? null }, 'brain serving');
  }

  private registerMetrics(telemetry: Telemetry): void {
    const redis = this.redis!;
    const active = new ActiveIncidents();
    this.timeBatch = registerBrainMetrics(telemetry.meter, {
      ingest: () => this.processor?.counters,
      failures: () => this.failures,
      deadLettered: () => this.deadLettered,
      incidentsEvicted: () => this.incidents?.evicted ?? 0,
      incidentHistoryLost: () => this.incidentHistory?.lost ?? 0,
      decisions: this.decisions,
      active: () => this.writer?.known() ?? [],
      shared: () => readSharedState(redis, SHARED_STATE_TIMEOUT_MS),
      incidentsOpened: () => this.incidentsOpened.entries(),
      incidentsActive: async () => active.update(await readActiveIncidents(redis, { quietMs: this.config.incidents.quietSeconds * 1000, max: ACTIVE_INCIDENTS_READ_MAX, timeoutMs: SHARED_STATE_TIMEOUT_MS })),
      ingestBacklog: async () => (this.consumer ? readIngestBacklog(this.consumer, SHARED_STATE_TIMEOUT_MS) : undefined),
      connected: () => {
        const { components } = telemetry.health.ready();
        return { nats: components['nats']?.ok === true, redis: components['redis']?.ok === true };
      },
    });
    if (this.notifications) registerNotificationMetrics(telemetry.meter, this.notifications.sinks);
  }

  /** The port the HTTP API listens on (undefined when it is off or not started). */
  apiPort(): number | undefined {
    return this.api ? apiPort(this.api) : undefined;
  }

  private async handle(msg: JsMsg): Promise<void> {
    this.messages += 1;
    try {
      if (msg.subject.startsWith(HEARTBEAT_PREFIX)) await this.processor!.heartbeat(msg.data, msg.subject);
      else await this.ingest(msg);
      msg.ack();
    } catch (error) {
      const err = error instanceof Error ? error.message : String(error);
      const deliveries = msg.info.deliveryCount;
      if (deliveries >= this.config.consumer.maxDeliver) {
        // A poison message: never redelivered (the server would stop at max_deliver anyway, silently).
        this.deadLettered += 1;
        const line = this.deadLetterLog.take('dead-lettered', Date.now());
        if (line) this.log.error({ err: err.slice(0, 300), subject: msg.subject.slice(0, 140), seq: msg.seq, deliveries, deadLettered: this.deadLettered, leftOut: line.leftOut }, 'processing failed at the last delivery: dead-lettered (terminated, not redelivered)');
        msg.term(`failed ${deliveries} times: ${err}`.slice(0, 200));
        return;
      }
      this.failures += 1;
      // Redis gone fails every message: one line per interval, with the count left out since
      const line = this.failureLog.take('failed', Date.now());
      if (line) this.log.warn({ err: err.slice(0, 300), subject: msg.subject.slice(0, 140), seq: msg.seq, deliveries, failures: this.failures, leftOut: line.leftOut }, 'processing failed: message will be redelivered');
      msg.nak(redeliveryDelayMs(deliveries));
    }
  }

  /** One summary batch: timed, and traced as a continuation of the sensor's publish span. */
  private async ingest(msg: JsMsg): Promise<void> {
    const started = performance.now();
    let outcome: BatchOutcome = 'failed';
    try {
      outcome = await ingestSpan(this.tracer, msg, () => this.processor!.summary(msg.data, msg.subject));
    } finally {
      this.timeBatch?.((performance.now() - started) / 1000, outcome);
    }
  }

  private async run(consumer: Consumer): Promise<void> {
    while (!this.stopping) {
      try {
        // A continuous pull, topped up as messages are taken: no gap between one fetch's last
        // messages and the next fetch's first.
        const messages = await consumer.consume({ max_messages: this.config.consumer.fetchBatch, expires: this.config.consumer.fetchExpiresMs });
        this.pulling = messages;
        if (this.stopping) await messages.close();
        // Several messages at once: every state update is atomic per Redis key, so messages in
        // flight together are as safe as messages handled by two replicas.
        const inFlight = new Set<Promise<void>>();
        for await (const msg of messages) {
          const handled: Promise<void> = this.handle(msg).finally(() => inFlight.delete(handled));
          inFlight.add(handled);
          if (inFlight.size >= this.config.consumer.concurrency) await Promise.race(inFlight);
          if (this.stopping) break;
        }
        await Promise.all(inFlight);
      } catch (error) {
        if (this.stopping) break;
        this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'fetch failed: retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.api?.close().catch((error: unknown) => this.log.warn({ err: String(error) }, 'HTTP API close failed'));
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.pulling?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    await this.sweeping;
    await this.incidentEvents?.close();
    await this.notifications?.close();
    await this.nc?.drain().catch(() => undefined);
    await this.nc?.closed();
    this.redis?.disconnect();
    this.log.info(this.processor ? this.stats() : {}, 'brain stopped');
  }
}
