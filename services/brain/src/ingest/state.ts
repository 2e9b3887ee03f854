import type { ChainableCommander, Redis } from 'ioredis';
import type { Mark, TimedSet } from '../correlate/window.js';

/**
 * Correlation state in Redis: one hash per timed set (member → "ts:flags"), merged by one Lua
 * script per key — prune members older than the cutoff, add (max of times, OR of flags, bounded
 * member count), refresh the key's expiry, return the whole set. The script is the Redis twin of
 * correlate/window.ts mergeTimedSet, so a merge is atomic per key: two replicas never lose or
 * double-count a member, and a key disappears one window after its last addition.
 */

// KEYS[1]: the hash. ARGV: cutoff, ttl ms, max members, then (member, ts, flags) triples.
const MERGE_SCRIPT = `
local cutoff = tonumber(ARGV[1])
local max = tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
local cur = {}
local n = 0
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, ':', 1, true)
  local ts = sep and tonumber(string.sub(v, 1, sep - 1)) or nil
  if ts == nil or ts < cutoff then
    redis.call('HDEL', KEYS[1], all[i])
  else
    cur[all[i]] = { ts, tonumber(string.sub(v, sep + 1)) or 0 }
    n = n + 1
  end
end
for i = 4, #ARGV, 3 do
  local m = ARGV[i]
  local ts = tonumber(ARGV[i + 1])
  local fl = tonumber(ARGV[i + 2])
  if ts >= cutoff then
    local e = cur[m]
    if e then
      local nts = math.max(e[1], ts)
      local nfl = bit.bor(e[2], fl)
      if nts ~= e[1] or nfl ~= e[2] then
        e[1] = nts
        e[2] = nfl
        redis.call('HSET', KEYS[1], m, string.format('%.0f:%d', nts, nfl))
      end
    elseif n < max then
      cur[m] = { ts, fl }
      n = n + 1
      redis.call('HSET', KEYS[1], m, string.format('%.0f:%d', ts, fl))
    end
  end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
local out = {}
for m, e in pairs(cur) do
  out[#out + 1] = m
  out[#out + 1] = string.format('%.0f:%d', e[1], e[2])
end
return out`;

interface MergeCommand {
  p2pwallMergeTimedSet(key: string, cutoff: number, ttlMs: number, max: number, ...members: (string | number)[]): Promise<string[]>;
}

export function defineStateScripts(redis: Redis): void {
  if (!('p2pwallMergeTimedSet' in redis)) redis.defineCommand('p2pwallMergeTimedSet', { numberOfKeys: 1, lua: MERGE_SCRIPT });
}

/** Queues one merge on a pipeline (defineStateScripts must have run on its connection). */
export function queueMerge(pipeline: ChainableCommander, key: string, additions: readonly (readonly [string, Mark])[], cutoffMs: number, ttlMs: number, maxMembers: number): void {
  const args: (string | number)[] = [];
  for (const [member, mark] of additions) args.push(member, Math.round(mark.ts), mark.flags);
  (pipeline as unknown as MergeCommand).p2pwallMergeTimedSet(key, Math.round(cutoffMs), Math.max(1, Math.round(ttlMs)), maxMembers, ...args);
}

export function parseTimedSet(reply: unknown): TimedSet {
  const set: TimedSet = new Map();
  if (!Array.isArray(reply)) return set;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const value = String(reply[i + 1]);
    const sep = value.indexOf(':');
    set.set(String(reply[i]), { ts: Number(value.slice(0, sep)), flags: Number(value.slice(sep + 1)) });
  }
  return set;
}
