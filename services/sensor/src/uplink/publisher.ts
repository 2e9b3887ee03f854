import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, credsAuthenticator, headers, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { connectionFailure, injectTraceparent, natsSecuritySettings, SUBJECTS, type ConnectionFailure, type Logger } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { NatsUplinkConfig } from '../config.js';

/**
 * The NATS side of the uplink. Summary batches are encoded at enqueue (synchronous, never
 * throws, never waits) and published in order by one background pump to JetStream, with
 * `Nats-Msg-Id: <instance>:<sequence>` so the stream's duplicate window drops a batch sent
 * twice (a retry after a lost ack, a resend after reconnect). While NATS is unreachable or a
 * publish fails, batches wait in a bounded backlog; beyond the bound the oldest are shed,
 * counted and logged (at most one warning per shedWarnIntervalMs).
 *
 * Heartbeats use a core publish, not a JetStream one: a heartbeat is a sample of the current
 * state, replaced by the next one heartbeatSeconds later. Queued behind a backlog or retried it
 * would only arrive stale, so it is sent only while connected and otherwise skipped (counted).
 * A stream whose subjects cover the heartbeat subject still stores it (streams capture core
 * publishes), just without an acknowledgement.
 *
 * Each publish attempt of a batch is a span "summaries publish" (from the tracer given, no-op
 * without one), and its `traceparent` header carries that span, so the brain's ingest span joins
 * the sensor's trace. Without a tracer no header is written: there is no trace to join.
 */

export interface PublisherOptions {
  config: NatsUplinkConfig;
  site: string;
  gateway: string;
  /** Random per process start; with the batch sequence it names a batch (Nats-Msg-Id). */
  instance: string;
  logger: Logger;
  /** Builds the heartbeat to send every config.heartbeatSeconds; absent: no heartbeats. */
  heartbeat?: () => p2pwall.v1.IHeartbeat;
  /** Wait for a JetStream ack this long before counting the publish as failed (default 2000). */
  publishTimeoutMs?: number;
  /** Longest pause between retries (default 2000; the first retry waits 100 ms). */
  maxRetryDelayMs?: number;
  shedWarnIntervalMs?: number;
  /** Name of the connection as the server shows it. */
  connectionName?: string;
  /** Makes the "summaries publish" spans; absent: the API's no-op tracer (no spans, no traceparent). */
  tracer?: Tracer;
}

export interface PublisherStats {
  /** Batches acknowledged by JetStream (duplicates included). */
  published: number;
  /** Acks that said "duplicate": the stream already had that batch. */
  duplicates: number;
  /** Batches waiting (including one in flight). */
  backlog: number;
  /** Batches dropped because the backlog was full. */
  shed: number;
  /** Batches that could not be encoded (never expected; counted, not thrown). */
  encodeErrors: number;
  publishErrors: number;
  connectErrors: number;
  /** Reconnections after a lost connection. */
  reconnects: number;
  heartbeats: number;
  heartbeatsSkipped: number;
  connected: boolean;
}

interface Pending {
  sequence: number;
  data: Uint8Array;
  /** What the batch holds, for its publish span. */
  flows: number;
  events: number;
  /** When it was queued (ms), to show in the span how long it waited. */
  queuedMs: number;
}

/**
 * NATS connection options from the configuration: login (user/password, token or creds file)
 * and TLS as @p2pwall/common builds them for every service, and endless reconnects. Throws when
 * the creds file can no longer be read (counted and logged as a connect error by the caller).
 */
export function natsConnectionOptions(config: NatsUplinkConfig, name?: string): ConnectionOptions {
  const { creds, ...security } = natsSecuritySettings(config);
  return {
    servers: config.servers,
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    timeout: 5_000,
    ...security,
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
  };
}

/** The log line for a failed connect: refused credentials and TLS failures name the keys to check. */
function connectFailureMessage(failure: ConnectionFailure): { level: 'error' | 'warn'; message: string } {
  switch (failure) {
    case 'credentials':
      return { level: 'error', message: 'NATS refused the uplink credentials (check uplink.nats user/password, token or credsFile); summaries wait in the backlog' };
    case 'permission':
      return { level: 'error', message: 'NATS permissions forbid the uplink (the user needs publish rights on p2pwall.v1.> and JetStream API access); summaries wait in the backlog' };
    case 'tls':
      return { level: 'error', message: 'TLS with NATS failed (check uplink.nats.tls: the CA that signed the server certificate, the client certificate); summaries wait in the backlog' };
    case 'file':
      return { level: 'error', message: 'a file of uplink.nats (credsFile or tls) cannot be read; summaries wait in the backlog' };
    default:
      return { level: 'warn', message: 'NATS unreachable; summaries wait in the backlog' };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Publisher {
  private readonly backlog: Pending[] = [];
  private inFlight: Pending | null = null;
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private connected = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private pump: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastShedWarning = 0;
  private shedSinceWarning = 0;
  private readonly subject: string;
  private readonly heartbeatSubject: string;
  private readonly tracer: Tracer;
  private readonly counters = { published: 0, duplicates: 0, shed: 0, encodeErrors: 0, publishErrors: 0, connectErrors: 0, reconnects: 0, heartbeats: 0, heartbeatsSkipped: 0 };

  private constructor(private readonly options: PublisherOptions) {
    this.subject = SUBJECTS.summaries(options.site, options.gateway);
    this.heartbeatSubject = SUBJECTS.heartbeats(options.site, options.gateway);
    this.tracer = options.tracer ?? trace.getTracer('p2pwall-sensor');
  }

  /** Starts connecting in the background and returns at once: NATS may be down at start. */
  static start(options: PublisherOptions): Publisher {
    const publisher = new Publisher(options);
    publisher.pump = publisher.run();
    if (options.heartbeat) {
      publisher.heartbeatTimer = setInterval(() => publisher.sendHeartbeat(), options.config.heartbeatSeconds * 1000);
      publisher.heartbeatTimer.unref();
    }
    return publisher;
  }

  get stats(): PublisherStats {
    return { ...this.counters, backlog: this.backlog.length + (this.inFlight ? 1 : 0), connected: this.connected };
  }

  /** Queues a batch for publishing. Synchronous and cheap; never throws, never blocks. */
  enqueue(batch: p2pwall.v1.ISummaryBatch): void {
    if (this.stopped) return;
    let data: Uint8Array;
    try {
      data = p2pwall.v1.SummaryBatch.encode(batch).finish();
    } catch (error) {
      this.counters.encodeErrors++;
      this.options.logger.error({ err: error, sequence: batch.sequence }, 'summary batch cannot be encoded; dropped');
      return;
    }
    this.backlog.push({ sequence: Number(batch.sequence ?? 0), data, flows: batch.flows?.length ?? 0, events: batch.events?.length ?? 0, queuedMs: Date.now() });
    this.bound();
    this.notify();
  }

  /**
   * Publishes one heartbeat now (core publish; skipped while disconnected). `stopping`: the last
   * one before a clean stop, so the brain shows the sensor as stopped rather than stale.
   */
  sendHeartbeat(stopping = false): boolean {
    const build = this.options.heartbeat;
    if (!build || !this.nc || !this.connected) {
      this.counters.heartbeatsSkipped++;
      return false;
    }
    try {
      this.nc.publish(this.heartbeatSubject, p2pwall.v1.Heartbeat.encode({ ...build(), stopping }).finish());
      this.counters.heartbeats++;
      return true;
    } catch (error) {
      this.counters.heartbeatsSkipped++;
      this.options.logger.warn({ err: error }, 'heartbeat not sent');
      return false;
    }
  }

  /** Resolves true once the backlog is empty, false after timeoutMs. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.backlog > 0) {
      if (Date.now() > deadline || this.stopped) return false;
      await sleep(10);
    }
    return true;
  }

  /** Gives the backlog up to drainMs to go out, then closes the connection. */
  async stop(drainMs = 0): Promise<void> {
    if (drainMs > 0 && !this.stopped) await this.drain(drainMs);
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    // said before the connection closes: a sensor that goes quiet after this is stopped, not lost
    if (this.sendHeartbeat(true)) await this.nc?.flush().catch(() => undefined);
    this.notify();
    const nc = this.nc;
    this.nc = null;
    this.connected = false;
    if (nc) await nc.close().catch(() => undefined);
    await this.pump;
    if (this.stats.backlog > 0) this.options.logger.warn({ backlog: this.stats.backlog }, 'uplink stopped with summary batches not yet published');
  }

  /** Enforces maxBacklogBatches: the oldest waiting batches go first (the one in flight stays). */
  private bound(): void {
    const max = this.options.config.maxBacklogBatches;
    const excess = this.backlog.length + (this.inFlight ? 1 : 0) - max;
    if (excess <= 0) return;
    const shed = Math.min(excess, this.backlog.length);
    this.backlog.splice(0, shed);
    this.counters.shed += shed;
    this.shedSinceWarning += shed;
    const now = Date.now();
    if (now - this.lastShedWarning >= (this.options.shedWarnIntervalMs ?? 10_000)) {
      this.options.logger.warn({ shed: this.shedSinceWarning, shedTotal: this.counters.shed, maxBacklogBatches: max, connected: this.connected }, 'NATS backlog full: oldest summary batches shed');
      this.lastShedWarning = now;
      this.shedSinceWarning = 0;
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private idle(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? null : setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  private async connectOnce(): Promise<boolean> {
    try {
      const nc = await connect(natsConnectionOptions(this.options.config, this.options.connectionName));
      if (this.stopped) {
        await nc.close();
        return false;
      }
      this.nc = nc;
      this.js = jetstream(nc);
      this.connected = true;
      this.options.logger.info({ server: nc.getServer() }, 'uplink connected to NATS');
      void this.watch(nc);
      return true;
    } catch (error) {
      this.counters.connectErrors++;
      if (this.counters.connectErrors === 1 || this.counters.connectErrors % 60 === 0) {
        const { level, message } = connectFailureMessage(connectionFailure(error));
        this.options.logger[level]({ err: error instanceof Error ? error.message : String(error), attempts: this.counters.connectErrors, servers: this.options.config.servers }, message);
      }
      return false;
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then(() => {
      if (this.nc === nc) {
        this.nc = null;
        this.js = null;
        this.connected = false;
        this.notify();
      }
    });
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.connected = false;
        this.options.logger.warn({ server: status.server }, 'NATS connection lost; summaries wait in the backlog');
      } else if (status.type === 'reconnect') {
        this.connected = true;
        this.counters.reconnects++;
        this.options.logger.info({ server: status.server, backlog: this.stats.backlog }, 'NATS reconnected; sending the backlog');
        this.notify();
      }
    }
  }

  /** One publish attempt of a batch, as a span whose context travels in the traceparent header. */
  private async publishTraced(item: Pending): Promise<{ duplicate: boolean }> {
    const msgID = `${this.options.instance}:${item.sequence}`;
    const span = this.tracer.startSpan('summaries publish', {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': this.subject,
        'messaging.message.id': msgID,
        'messaging.message.body.size': item.data.length,
        'p2pwall.batch.sequence': item.sequence,
        'p2pwall.batch.flows': item.flows,
        'p2pwall.batch.events': item.events,
        'p2pwall.batch.queued_ms': Math.max(0, Date.now() - item.queuedMs),
      },
    });
    try {
      const h = headers();
      injectTraceparent((name, value) => h.set(name, value), trace.setSpan(context.active(), span));
      const ack = await this.js!.publish(this.subject, item.data, { msgID, headers: h, timeout: this.options.publishTimeoutMs ?? 2000 });
      if (ack.duplicate) span.setAttribute('p2pwall.publish.duplicate', true);
      return ack;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  private async run(): Promise<void> {
    let retryDelay = 100;
    const maxRetryDelay = this.options.maxRetryDelayMs ?? 2000;
    while (!this.stopped) {
      if (!this.nc) {
        if (!(await this.connectOnce())) {
          await this.idle(1000);
          continue;
        }
      }
      if (!this.connected) {
        await this.idle(1000);
        continue;
      }
      const item = this.backlog.shift();
      if (!item) {
        await this.idle();
        continue;
      }
      this.inFlight = item;
      try {
        const ack = await this.publishTraced(item);
        this.counters.published++;
        if (ack.duplicate) this.counters.duplicates++;
        this.inFlight = null;
        retryDelay = 100;
      } catch (error) {
        this.inFlight = null;
        this.backlog.unshift(item);
        this.bound();
        if (this.stopped) break;
        this.counters.publishErrors++;
        if (this.counters.publishErrors === 1 || this.counters.publishErrors % 50 === 0) {
          this.options.logger.warn({ err: error instanceof Error ? error.message : String(error), publishErrors: this.counters.publishErrors, backlog: this.stats.backlog }, 'summary batch not acknowledged; will retry');
        }
        await this.idle(retryDelay);
        retryDelay = Math.min(maxRetryDelay, retryDelay * 2);
      }
    }
  }
}
