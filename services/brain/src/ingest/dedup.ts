import type { Redis } from 'ioredis';

/**
 * Which summary batches of one sensor instance were already counted, in one Redis string per
 * instance (REDIS_KEYS.seenBatches) instead of one key per batch: about 8 KiB per sensor instance
 * at the default window, where one key per batch cost ~100 bytes each, 0.9 GB a day at the
 * ingest benchmark's rate (bench/src/redis-memory.ts measures both).
 *
 * A sensor numbers its batches 1, 2, 3, … per instance (a random id per process start) and
 * publishes them in order, but the brain may see them out of order: replicas and concurrent
 * messages finish in any order, and a batch whose processing failed is redelivered later. So the
 * string holds the highest sequence claimed so far and a ring of W bits (the window), bit s mod W
 * set when batch s, one of the W sequences up to the highest, was counted. A batch within the
 * window is told exactly; one more than W below the highest cannot be told and is not counted
 * again (the caller counts it as beyond the window: with the default W of 65,536 that is minutes
 * of batches of a busy sensor, far beyond a redelivery's delay). The key expires dedupMs after the
 * instance's last batch.
 *
 * Layout: bytes 0–15 the highest sequence and 16–23 W, both in decimal (readable with GETRANGE),
 * then the ring. The W a string was made with is kept until it is made anew, so brains with
 * another window setting read it alike. The string grows only as far as the bits set in it.
 */

/** Batches told apart per sensor instance when brain.yaml does not say (8 KiB a sensor instance). */
export const DEFAULT_DEDUP_WINDOW_BATCHES = 65_536;

/** What claiming a batch answers. */
export enum Claim {
  /** Already counted: a redelivery. */
  Duplicate = 0,
  /** Not counted before: it is now. */
  Claimed = 1,
  /** More than the window below the highest sequence seen: cannot be told, not counted again. */
  BeyondWindow = 2,
}

/**
 * Lua: `claim_batch(key, sequence, window, ttl_ms)` → a Claim, and `release_batch(key, sequence)`
 * (forgets a claim whose processing failed, so its redelivery is counted). Included by the ingest
 * script (ingest/scripts.ts) and by RELEASE_SCRIPT.
 */
export const SEEN_BATCHES_LUA = `
local SEEN_HEADER = 24
local function seen_header(high, window)
  return string.format('%016.0f%08.0f', high, window)
end
-- the highest sequence and the window of the ring at key, or nil when there is none
local function seen_ring(key)
  local header = redis.call('GETRANGE', key, 0, SEEN_HEADER - 1)
  if #header < SEEN_HEADER then return nil, nil end
  local high, window = tonumber(string.sub(header, 1, 16)), tonumber(string.sub(header, 17, 24))
  if high == nil or window == nil or window < 1 then return nil, nil end
  return high, window
end
-- clears ring bits [from, to) (0 <= from <= to <= window); bits past the string's end are 0 already
local function seen_clear(key, from, to)
  local stored = (redis.call('STRLEN', key) - SEEN_HEADER) * 8
  if to > stored then to = stored end
  while from < to and from % 8 ~= 0 do
    redis.call('SETBIT', key, SEEN_HEADER * 8 + from, 0)
    from = from + 1
  end
  while to > from and to % 8 ~= 0 do
    to = to - 1
    redis.call('SETBIT', key, SEEN_HEADER * 8 + to, 0)
  end
  if to > from then redis.call('SETRANGE', key, SEEN_HEADER + (from / 8), string.rep('\\0', (to - from) / 8)) end
end
local function claim_batch(key, seq, window, ttl)
  local high, w = seen_ring(key)
  if high == nil or seq - high >= w then
    -- a new instance, or one that jumped a whole window ahead: nothing below seq was counted in it
    redis.call('SET', key, seen_header(seq, window), 'PX', ttl)
    redis.call('SETBIT', key, SEEN_HEADER * 8 + seq % window, 1)
    return 1
  end
  if seq > high then
    -- high + 1 .. seq - 1 enter the window uncounted: clear the bits they share with older sequences
    local from, n = (high + 1) % w, seq - high - 1
    seen_clear(key, from, math.min(w, from + n))
    if from + n > w then seen_clear(key, 0, from + n - w) end
    redis.call('SETRANGE', key, 0, seen_header(seq, w))
    redis.call('SETBIT', key, SEEN_HEADER * 8 + seq % w, 1)
    redis.call('PEXPIRE', key, ttl)
    return 1
  end
  if seq <= high - w then return 2 end
  if redis.call('SETBIT', key, SEEN_HEADER * 8 + seq % w, 1) == 1 then return 0 end
  redis.call('PEXPIRE', key, ttl)
  return 1
end
local function release_batch(key, seq)
  local high, w = seen_ring(key)
  if high ~= nil and seq <= high and seq > high - w then redis.call('SETBIT', key, SEEN_HEADER * 8 + seq % w, 0) end
end`;

const RELEASE_SCRIPT = `${SEEN_BATCHES_LUA}
release_batch(KEYS[1], tonumber(ARGV[1]))
return 1`;

/** KEYS[1] the instance's string, ARGV: sequence, window, ttl ms. For tests and tools; ingest claims inside its own script. */
const CLAIM_SCRIPT = `${SEEN_BATCHES_LUA}
return claim_batch(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))`;

interface SeenBatchCommands {
  p2pwallReleaseBatch(key: string, sequence: number): Promise<unknown>;
  p2pwallClaimBatch(key: string, sequence: number, window: number, ttlMs: number): Promise<unknown>;
}

function commands(redis: Redis): SeenBatchCommands {
  if (!('p2pwallReleaseBatch' in redis)) {
    redis.defineCommand('p2pwallReleaseBatch', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    redis.defineCommand('p2pwallClaimBatch', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
  }
  return redis as unknown as SeenBatchCommands;
}

/** Forgets that batch `sequence` was counted (its processing failed after the claim): its redelivery is counted. */
export async function releaseBatch(redis: Redis, key: string, sequence: number): Promise<void> {
  await commands(redis).p2pwallReleaseBatch(key, sequence);
}

/** Claims batch `sequence` in the instance's string at `key` on its own (the ingest script does this together with its merge). */
export async function claimBatch(redis: Redis, key: string, sequence: number, window: number, ttlMs: number): Promise<Claim> {
  return Number(await commands(redis).p2pwallClaimBatch(key, sequence, window, Math.max(1, Math.round(ttlMs)))) as Claim;
}
