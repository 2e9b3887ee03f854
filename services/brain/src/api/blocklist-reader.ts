import { REDIS_KEYS } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import { decodeDecision, type BrainDecision } from '../decide/decision.js';

/**
 * What the API reads from Redis: decisions from the blocklist hash by id (lists and searches walk
 * the BlocklistWriter's memory, never the whole hash), sensors' last heartbeats, the
 * blocklist version. Writes go through BlocklistWriter only. Entries that cannot be decoded are
 * skipped and counted (`unreadable`); the blocklist sweep removes unreadable decisions.
 */

export interface ReadCounters {
  unreadable: number;
}

function decode(value: Buffer, counters: ReadCounters): BrainDecision | undefined {
  try {
    return decodeDecision(value);
  } catch {
    counters.unreadable += 1;
    return undefined;
  }
}

export class BlocklistReader {
  readonly counters: ReadCounters = { unreadable: 0 };

  constructor(private readonly redis: Redis) {}

  /** Decisions stored under `ids` (absent and unreadable ones left out), expired or not. */
  async get(ids: readonly string[]): Promise<BrainDecision[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.hmgetBuffer(REDIS_KEYS.decisions, ...ids);
    return values.flatMap((value) => (value ? (decode(value, this.counters) ?? []) : []));
  }

  async blocklistVersion(): Promise<number> {
    return Number((await this.redis.get(REDIS_KEYS.blocklistVersion)) ?? 0) || 0;
  }

  /** One sensor's last heartbeat (by `site/gateway/queue`), undefined when it is not in the sensors list. */
  async heartbeat(name: string): Promise<p2pwall.v1.Heartbeat | undefined> {
    const value = await this.redis.hgetBuffer(REDIS_KEYS.sensors, name);
    if (!value) return undefined;
    try {
      return p2pwall.v1.Heartbeat.decode(value);
    } catch {
      this.counters.unreadable += 1;
      return undefined;
    }
  }

  /** Every sensor's last heartbeat. */
  async heartbeats(): Promise<p2pwall.v1.Heartbeat[]> {
    const all = await this.redis.hgetallBuffer(REDIS_KEYS.sensors);
    return Object.values(all).flatMap((value) => {
      try {
        return [p2pwall.v1.Heartbeat.decode(value)];
      } catch {
        this.counters.unreadable += 1;
        return [];
      }
    });
  }
}
