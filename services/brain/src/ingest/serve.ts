import { readFileSync } from 'node:fs';
import { CONSUMERS, REDIS_KEYS, STREAMS, SUBJECTS, type Logger } from '@p2pwall/common';
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { connect, credsAuthenticator, nanos, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { Redis, type RedisOptions } from 'ioredis';
import { BlocklistWriter } from '../blocklist/writer.js';
import type { BrainConfig } from '../config.js';
import { Allowlist } from '../decide/allowlist.js';
import { BatchProcessor } from './processor.js';

/**
 * `p2pwall-brain serve`: JetStream (durable pull consumer shared by every replica, explicit ack)
 * → BatchProcessor → Redis. Malformed messages are acked and counted; a message whose processing
 * failed (Redis unreachable) is nak'ed with a delay and comes back.
 */

const HEARTBEAT_PREFIX = SUBJECTS.allHeartbeats.slice(0, -1);

export function natsOptions(config: BrainConfig['nats']): NodeConnectionOptions {
  const options: NodeConnectionOptions = { servers: config.servers, name: 'p2pwall-brain', maxReconnectAttempts: -1, reconnectTimeWait: 500 };
  if (config.user !== null) {
    options.user = config.user;
    if (config.password !== null) options.pass = config.password;
  }
  if (config.token !== null) options.token = config.token;
  if (config.creds !== null) options.authenticator = credsAuthenticator(readFileSync(config.creds));
  if (config.tls.enabled) {
    options.tls = {
      ...(config.tls.ca ? { caFile: config.tls.ca } : {}),
      ...(config.tls.cert ? { certFile: config.tls.cert } : {}),
      ...(config.tls.key ? { keyFile: config.tls.key } : {}),
    };
  }
  return options;
}

export function redisOptions(config: BrainConfig['redis']): RedisOptions {
  const options: RedisOptions = { maxRetriesPerRequest: null, enableAutoPipelining: false, lazyConnect: true };
  if (config.username !== null) options.username = config.username;
  if (config.password !== null) options.password = config.password;
  if (config.tls.enabled) {
    options.tls = {
      rejectUnauthorized: config.tls.rejectUnauthorized,
      ...(config.tls.ca ? { ca: readFileSync(config.tls.ca) } : {}),
      ...(config.tls.cert ? { cert: readFileSync(config.tls.cert) } : {}),
      ...(config.tls.key ? { key: readFileSync(config.tls.key) } : {}),
    };
  }
  return options;
}

/** Creates the stream when missing (or checks it exists), and the durable consumer. */
export async function ensureStream(nc: NatsConnection, config: BrainConfig): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(STREAMS.summaries);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || !config.stream.create) throw error;
    await jsm.streams.add({
      name: STREAMS.summaries,
      subjects: [SUBJECTS.allSummaries, SUBJECTS.allHeartbeats],
      retention: RetentionPolicy.Limits,
      storage: config.stream.storage === 'memory' ? StorageType.Memory : StorageType.File,
      max_age: nanos(config.stream.maxAgeSeconds * 1000),
      max_bytes: config.stream.maxBytes,
      duplicate_window: nanos(config.stream.duplicateWindowSeconds * 1000),
      num_replicas: config.stream.replicas,
      discard: DiscardPolicy.Old,
    });
  }
  try {
    await jsm.consumers.info(STREAMS.summaries, CONSUMERS.brain);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    await jsm.consumers.add(STREAMS.summaries, {
      durable_name: CONSUMERS.brain,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(config.consumer.ackWaitSeconds * 1000),
      max_ack_pending: Math.max(1000, config.consumer.fetchBatch * 8),
    });
  }
}

export interface BrainStats {
  ingest: BatchProcessor['counters'];
  blocklist: BlocklistWriter['counters'];
  messages: number;
  failures: number;
}

export class BrainService {
  private nc: NatsConnection | undefined;
  private redis: Redis | undefined;
  private writer: BlocklistWriter | undefined;
  private processor: BatchProcessor | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private messages = 0;
  private failures = 0;

  constructor(
    private readonly config: BrainConfig,
    private readonly log: Logger,
  ) {}

  stats(): BrainStats {
    return { ingest: { ...this.processor!.counters }, blocklist: { ...this.writer!.counters }, messages: this.messages, failures: this.failures };
  }

  /** Active decisions this replica knows. */
  known() {
    return this.writer?.known() ?? [];
  }

  async start(): Promise<void> {
    const { config, log } = this;
    this.redis = new Redis(config.redis.url, redisOptions(config.redis));
    this.redis.on('error', (error: Error) => log.warn({ err: error.message }, 'redis error'));
    await this.redis.connect();
    this.writer = new BlocklistWriter(this.redis, { changesMaxLen: config.blocklist.changesMaxLen, minExtendMs: config.blocklist.minExtendSeconds * 1000, evidenceMaxItems: config.correlation.evidenceMaxItems, log });
    this.processor = new BatchProcessor(this.redis, this.writer, { rules: config, allowlist: new Allowlist(config.allowlist), dedupMs: config.ingest.dedupSeconds * 1000, log });
    await this.writer.sweep();
    this.nc = await connect(natsOptions(config.nats));
    await ensureStream(this.nc, config);
    const consumer = await jetstream(this.nc).consumers.get(STREAMS.summaries, CONSUMERS.brain);
    this.loop = this.run(consumer);
    this.sweepTimer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.writer!.sweep()
        .then(async (result) => {
          if (result.removed > 0 || result.republished > 0) log.info(result, 'blocklist sweep');
          const reevaluated = await this.processor!.reevaluateHosts();
          if (reevaluated > 0) log.info({ decisions: reevaluated }, 'host rules re-evaluated: decisions written');
        })
        .catch((error: unknown) => log.warn({ err: String(error) }, 'blocklist sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, config.blocklist.sweepSeconds * 1000);
    log.info({ stream: STREAMS.summaries, consumer: CONSUMERS.brain, redis: REDIS_KEYS.decisions }, 'brain serving');
  }

  private async handle(msg: JsMsg): Promise<void> {
    this.messages += 1;
    try {
      if (msg.subject.startsWith(HEARTBEAT_PREFIX)) await this.processor!.heartbeat(msg.data);
      else await this.processor!.summary(msg.data);
      msg.ack();
    } catch (error) {
      this.failures += 1;
      this.log.warn({ err: error instanceof Error ? error.message : String(error), subject: msg.subject, seq: msg.seq }, 'processing failed: message will be redelivered');
      msg.nak(1000);
    }
  }

  private async run(consumer: Consumer): Promise<void> {
    while (!this.stopping) {
      try {
        const batch = await consumer.fetch({ max_messages: this.config.consumer.fetchBatch, expires: this.config.consumer.fetchExpiresMs });
        // Several messages at once: every state update is atomic per Redis key, so messages in
        // flight together are as safe as messages handled by two replicas.
        const inFlight = new Set<Promise<void>>();
        for await (const msg of batch) {
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
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.loop?.catch(() => undefined);
    await this.sweeping;
    await this.nc?.drain().catch(() => undefined);
    await this.nc?.closed();
    this.redis?.disconnect();
    this.log.info(this.processor ? this.stats() : {}, 'brain stopped');
  }
}
