import { REDIS_KEYS } from '@p2pwall/common';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { Claim, claimBatch, releaseBatch } from '../src/ingest/dedup.js';
import { BatchProcessor } from '../src/ingest/processor.js';
import { rules, sent, useRedisServer } from './support.js';

/** Issue 12 §8: which batches were counted, one bounded string per sensor instance (ingest/dedup.ts), against a real redis-server. */

let redis: Redis;
useRedisServer((client) => {
  redis = client;
});
beforeEach(async () => {
  await redis.flushall();
});

const KEY = REDIS_KEYS.seenBatches('site-a', 'gw1', 'inst-1');
const claim = (sequence: number, window = 1024) => claimBatch(redis, KEY, sequence, window, 60_000);

describe('seen batches of a sensor instance (ring of bits below the highest sequence)', () => {
  it('in order, out of order and redelivered: each batch is claimed once', async () => {
    for (const sequence of [1, 2, 3, 5, 4, 9, 6]) expect(await claim(sequence)).toBe(Claim.Claimed);
    for (const sequence of [1, 2, 3, 4, 5, 6, 9]) expect(await claim(sequence)).toBe(Claim.Duplicate);
    // 7 and 8 were skipped over when 9 came: still claimable
    expect(await claim(8)).toBe(Claim.Claimed);
    expect(await claim(7)).toBe(Claim.Claimed);
    expect(await claim(8)).toBe(Claim.Duplicate);
    expect(await redis.pttl(KEY)).toBeGreaterThan(59_000);
  });

  it('a released claim (processing failed) is claimed again by its redelivery; the others stay claimed', async () => {
    for (let sequence = 1; sequence <= 10; sequence += 1) await claim(sequence);
    await releaseBatch(redis, KEY, 10);
    await releaseBatch(redis, KEY, 4);
    expect(await claim(4)).toBe(Claim.Claimed);
    expect(await claim(10)).toBe(Claim.Claimed);
    expect(await claim(5)).toBe(Claim.Duplicate);
    expect(await claim(11)).toBe(Claim.Claimed);
  });

  it('the ring wraps: sequences a window apart share a bit, the older one is beyond the window and the newer one is told exactly', async () => {
    const window = 1024;
    for (let sequence = 1; sequence <= 3000; sequence += 1) expect(await claim(sequence, window)).toBe(Claim.Claimed);
    for (let sequence = 3000 - window + 1; sequence <= 3000; sequence += 17) expect(await claim(sequence, window)).toBe(Claim.Duplicate);
    expect(await claim(3000 - window, window)).toBe(Claim.BeyondWindow);
    expect(await claim(1, window)).toBe(Claim.BeyondWindow);
    // a gap of 900 (a sensor's shed backlog): the skipped sequences are claimable although their bits held older ones
    expect(await claim(3901, window)).toBe(Claim.Claimed);
    for (let sequence = 3001; sequence <= 3900; sequence += 1) expect(await claim(sequence, window)).toBe(Claim.Claimed);
    // a jump past a whole window starts afresh
    expect(await claim(10_000, window)).toBe(Claim.Claimed);
    expect(await claim(9_999, window)).toBe(Claim.Claimed);
    expect(await claim(3901, window)).toBe(Claim.BeyondWindow);
    // the string holds a 24-byte header and at most window bits
    expect(await redis.strlen(KEY)).toBeLessThanOrEqual(24 + window / 8);
  });

  it('a string keeps the window it was made with, whatever window a claim asks for', async () => {
    for (let sequence = 1; sequence <= 100; sequence += 1) await claim(sequence, 4096);
    expect(await claim(50, 1024)).toBe(Claim.Duplicate);
    expect(await redis.getrange(KEY, 0, 23)).toBe('0000000000000100' + '00004096');
  });
});

describe('Redis memory of the duplicate check', () => {
  it('20,000 batches of two sensor instances leave two small keys, not one per batch, and every redelivery is still a duplicate', async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32 }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 86_400_000 });
    const batches = 10_000;
    const usedBefore = usedMemory(await redis.info('memory'));
    for (let sequence = 1; sequence <= batches; sequence += 1) {
      for (const instance of ['inst-1', 'inst-2']) expect(await p.summary(...sent({ instance, sequence }))).toBe('processed');
    }
    const keys = await redis.keys('p2pwall:v1:ingest:*');
    expect(keys.sort()).toEqual([REDIS_KEYS.seenBatches('site-a', 'gw1', 'inst-1'), REDIS_KEYS.seenBatches('site-a', 'gw1', 'inst-2')]);
    let bytes = 0;
    for (const key of keys) bytes += Number(await redis.memory('USAGE', key));
    // one bit per batch and a header per instance (one key per batch took ~100 bytes each: 2 MB here)
    expect(bytes).toBeLessThan(2 * 4096);
    expect(usedMemory(await redis.info('memory')) - usedBefore).toBeLessThan(256 * 1024);
    for (let sequence = 1; sequence <= batches; sequence += 97) expect(await p.summary(...sent({ instance: 'inst-2', sequence }))).toBe('duplicate');
    // a restarted sensor is a new instance: its batches count from 1 again
    expect(await p.summary(...sent({ instance: 'inst-3', sequence: 1 }))).toBe('processed');
    expect(p.counters).toMatchObject({ batches: 2 * batches + 1, duplicates: Math.ceil(batches / 97) });
  }, 60_000);

  it('a batch older than the window is counted as beyond-window, not processed', async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32 }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 86_400_000, dedupWindowBatches: 1024 });
    expect(await p.summary(...sent({ sequence: 5000 }))).toBe('processed');
    expect(await p.summary(...sent({ sequence: 5000 - 1024 }))).toBe('beyond-window');
    expect(await p.summary(...sent({ sequence: 5000 - 1023 }))).toBe('processed');
    expect(p.counters).toMatchObject({ batches: 2, beyondDedupWindow: 1 });
  });
});

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}
