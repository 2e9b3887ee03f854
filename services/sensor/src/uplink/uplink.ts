import { randomBytes } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import { packageVersion, type Logger } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { CidrSet } from '../decode/cidr.js';
import type { SensorConfig } from '../config.js';
import type { EngineEvent } from '../events.js';
import { Batcher } from './batcher.js';
import { BlocklistFollower, type BlocklistSource, type BlocklistStats } from './blocklist.js';
import { Publisher, type PublisherStats } from './publisher.js';
import { uplinkItem } from './summaries.js';

/** Counters the live sensor reports in each heartbeat. */
export interface HeartbeatCounters {
  queues: p2pwall.v1.IQueueCounters[];
  packets: number;
  dropped: number;
  flows: number;
  peers: number;
  clients: number;
}

export interface UplinkIdentity {
  /** The NFQUEUE number this process serves. */
  queue: number;
  /** Random per process start when absent. */
  instance?: string;
}

export interface UplinkHooks {
  logger: Logger;
  identity: UplinkIdentity;
  onUpsert: (decision: p2pwall.v1.Decision) => void;
  onRemove: (decision: p2pwall.v1.Decision) => void;
  stats: () => HeartbeatCounters;
  /** A whole blocklist was read (from Redis, or the snapshot file at start): see BlocklistOptions.onLoaded. */
  onBlocklistLoaded?: (source: BlocklistSource) => void;
  /** Makes the publisher's "summaries publish" spans. */
  tracer?: Tracer;
  /** Clock (ms since the epoch); tests only. */
  now?: () => number;
}

export interface UplinkStats {
  nats: PublisherStats | null;
  blocklist: BlocklistStats | null;
  /** Engine events whose addresses could not be mapped (never expected). */
  unmappable: number;
}

/**
 * The sensor's link to the rest of p2pwall: engine events → batches → NATS, heartbeats, and the
 * shared blocklist from Redis. Either half is off when its config section is absent.
 * onEngineEvent is synchronous and never throws.
 */
export class Uplink {
  private batchTimer: NodeJS.Timeout | null = null;
  private unmappable = 0;

  private constructor(
    private readonly inside: CidrSet,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly batcher: Batcher | null,
    private readonly publisher: Publisher | null,
    private readonly blocklist: BlocklistFollower | null,
  ) {}

  /** null when the config has no uplink section (a standalone sensor). */
  static async start(config: SensorConfig, hooks: UplinkHooks): Promise<Uplink | null> {
    const uplink = config.uplink;
    if (!uplink || (!uplink.nats && !uplink.redis)) return null;
    const now = hooks.now ?? Date.now;
    const instance = hooks.identity.instance ?? randomBytes(8).toString('hex');
    const sensor: p2pwall.v1.ISensorId = { site: config.site, gateway: config.gateway, queue: hooks.identity.queue, instance };
    const startedMs = now();
    const version = packageVersion(new URL('../', import.meta.url).href);
    const mode = config.mode === 'monitor' ? p2pwall.v1.Mode.MODE_MONITOR : p2pwall.v1.Mode.MODE_ENFORCE;
    const logger = hooks.logger;

    const blocklist = uplink.redis ? await BlocklistFollower.start({ config: uplink.redis, logger, onUpsert: hooks.onUpsert, onRemove: hooks.onRemove, onLoaded: hooks.onBlocklistLoaded, now }) : null;
    let publisher: Publisher | null = null;
    let batcher: Batcher | null = null;
    if (uplink.nats) {
      const nats = uplink.nats;
      batcher = new Batcher({ sensor, maxFlows: nats.batchMaxFlows, maxDelayMs: nats.batchMaxDelayMs, maxEventDelayMs: nats.batchMaxEventDelayMs });
      publisher = Publisher.start({
        config: nats,
        site: config.site,
        gateway: config.gateway,
        instance,
        logger,
        connectionName: `p2pwall-sensor ${config.site}/${config.gateway}/${hooks.identity.queue}`,
        tracer: hooks.tracer,
        heartbeat: () => {
          const counters = hooks.stats();
          const backlog = publisher!.stats;
          return {
            sensor,
            version,
            mode,
            sentMs: now(),
            startedMs,
            ...counters,
            blocklistVersion: blocklist?.version ?? 0,
            backlogBatches: backlog.backlog,
            shedBatches: backlog.shed,
          };
        },
      });
    }
    const instanceUplink = new Uplink(new CidrSet(config.inside), now, logger, batcher, publisher, blocklist);
    if (batcher) {
      instanceUplink.batchTimer = setInterval(() => instanceUplink.poll(), Math.max(5, Math.min(100, Math.floor(batcher.maxEventDelayMs / 2))));
      instanceUplink.batchTimer.unref();
    }
    return instanceUplink;
  }

  /** The engine's event sink: synchronous, cheap, never throws. */
  onEngineEvent(event: EngineEvent): void {
    if (!this.batcher || !this.publisher) return;
    try {
      const item = uplinkItem(event, this.inside);
      if (!item) return;
      const batch = this.batcher.add(item, this.now());
      if (batch) this.publisher.enqueue(batch);
    } catch (error) {
      if (this.unmappable++ === 0) this.logger.warn({ err: error instanceof Error ? error.message : String(error), event: event.event }, 'engine event not sent');
    }
  }

  /** The shared blocklist version applied (0: none). */
  get blocklistVersion(): number {
    return this.blocklist?.version ?? 0;
  }

  get stats(): UplinkStats {
    return { nats: this.publisher?.stats ?? null, blocklist: this.blocklist?.stats ?? null, unmappable: this.unmappable };
  }

  private poll(): void {
    const batch = this.batcher?.poll(this.now());
    if (batch) this.publisher?.enqueue(batch);
  }

  /** Sends what is waiting (up to drainMs), then closes NATS and Redis. */
  async stop(drainMs = 2000): Promise<void> {
    if (this.batchTimer) clearInterval(this.batchTimer);
    const batch = this.batcher?.flush(this.now());
    if (batch) this.publisher?.enqueue(batch);
    await Promise.all([this.publisher?.stop(drainMs), this.blocklist?.stop()]);
  }
}
