/**
 * The blocks an allow entry lifts are suspended, not deleted: kept beside the entry, off the
 * blocklist (so the sensors unblock at once), and put back when the entry is deleted or expires
 * (those still unexpired, that no other allow entry covers). A manual block and its reason thus
 * survive an operator's temporary exception.
 */
import { REDIS_KEYS } from '@p2pwall/common';
import type { Redis } from 'ioredis';
import type { BlocklistReader } from '../api/blocklist-reader.js';
import type { BlocklistWriter } from '../blocklist/writer.js';
import { allowCovers, coveringAllowIds } from './allow-entries.js';
import { decodeDecision, encodeDecision, NEVER_EXPIRES_MS, type BrainDecision } from './decision.js';

/** How long past its entry's expiry a suspended set is kept, so the sweep that restores it finds it. */
const KEEP_PAST_EXPIRY_MS = 24 * 3_600_000;

export class SuspendedBlocks {
  constructor(
    private readonly redis: Redis,
    private readonly reader: BlocklistReader,
    private readonly writer: BlocklistWriter,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `blocks` off the blocklist, held under `allow`; returns the ids suspended. */
  async suspend(allow: BrainDecision, blocks: readonly BrainDecision[]): Promise<string[]> {
    if (blocks.length === 0) return [];
    const key = REDIS_KEYS.suspendedBlocks(allow.id);
    const pipeline = this.redis.multi();
    for (const block of blocks) pipeline.hset(key, block.id, Buffer.from(encodeDecision(block)));
    pipeline.zadd(REDIS_KEYS.suspendedByExpiry, allow.expiresMs, allow.id);
    if (allow.expiresMs < NEVER_EXPIRES_MS) pipeline.pexpireat(key, allow.expiresMs + KEEP_PAST_EXPIRY_MS);
    await pipeline.exec();
    const suspended: string[] = [];
    for (const block of blocks) if (await this.writer.remove(block.id)) suspended.push(block.id);
    return suspended.sort();
  }

  /** The ids `allowId` holds suspended. */
  async heldBy(allowId: string): Promise<string[]> {
    return (await this.redis.hkeys(REDIS_KEYS.suspendedBlocks(allowId))).sort();
  }

  /**
   * Puts back what `allowId` held: blocks still unexpired, not covered by another active allow
   * entry (those move to it) and not replaced meanwhile by a decision of the same id. Returns the ids restored.
   */
  async restore(allowId: string): Promise<string[]> {
    const key = REDIS_KEYS.suspendedBlocks(allowId);
    const held = await this.redis.hgetallBuffer(key);
    const now = this.now();
    const restored: string[] = [];
    for (const [id, bytes] of Object.entries(held)) {
      let block: BrainDecision;
      try {
        block = decodeDecision(bytes);
      } catch {
        continue; // unreadable: nothing to put back
      }
      if (block.expiresMs <= now) continue;
      const others = (await this.reader.get(coveringAllowIds(block))).filter((a) => a.id !== allowId && a.expiresMs > now && allowCovers(a, block));
      if (others.length > 0) {
        await this.suspendUnder(others[0]!, block);
        continue;
      }
      const [current] = await this.reader.get([id]);
      if (current && current.expiresMs > now) continue;
      await this.writer.replace(block);
      restored.push(id);
    }
    await this.redis.multi().del(key).zrem(REDIS_KEYS.suspendedByExpiry, allowId).exec();
    return restored.sort();
  }

  /** Restores what expired allow entries held (the brain's sweep); returns how many blocks came back. */
  async restoreExpired(): Promise<number> {
    const expired = await this.redis.zrangebyscore(REDIS_KEYS.suspendedByExpiry, '-inf', this.now());
    let restored = 0;
    for (const allowId of expired) restored += (await this.restore(allowId)).length;
    return restored;
  }

  private async suspendUnder(allow: BrainDecision, block: BrainDecision): Promise<void> {
    const key = REDIS_KEYS.suspendedBlocks(allow.id);
    const pipeline = this.redis.multi().hset(key, block.id, Buffer.from(encodeDecision(block))).zadd(REDIS_KEYS.suspendedByExpiry, allow.expiresMs, allow.id);
    if (allow.expiresMs < NEVER_EXPIRES_MS) pipeline.pexpireat(key, allow.expiresMs + KEEP_PAST_EXPIRY_MS);
    await pipeline.exec();
  }
}
