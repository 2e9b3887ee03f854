import { REDIS_KEYS } from '@p2pwall/common';
import type { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';

/**
 * Heartbeats: what one may hold (pure), and how the sensors list forgets sensors that went silent
 * (one small script: the entries and their times go together).
 */

/** A heartbeat is small: a few counters per queue. */
export const MAX_HEARTBEAT_BYTES = 16 * 1024;
/** Sensors not heard from for this long leave the sensors list, unless brain.yaml says otherwise. */
export const DEFAULT_SENSOR_RETENTION_MS = 7 * 86_400_000;
/** How often one replica looks for silent sensors (on a heartbeat). */
export const SENSOR_PRUNE_INTERVAL_MS = 60_000;
/** Silent sensors removed per look. */
const PRUNE_LIMIT = 1000;

const LABEL = /^[\x21-\x7e]{1,64}$/;

/** Why a heartbeat (its site and gateway already checked against the subject) is not stored, or undefined. */
export function heartbeatProblem(beat: p2pwall.v1.IHeartbeat, bytes: number): string | undefined {
  if (bytes > MAX_HEARTBEAT_BYTES) return `heartbeat of ${bytes} bytes (at most ${MAX_HEARTBEAT_BYTES})`;
  if (!LABEL.test(beat.sensor?.instance ?? '')) return 'sensor instance is not 1 to 64 printable ASCII characters';
  if (beat.version && !LABEL.test(beat.version)) return 'version is not 1 to 64 printable ASCII characters';
  return undefined;
}

const FORGET_SCRIPT = `
local names = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #names > 0 then
  redis.call('HDEL', KEYS[1], unpack(names))
  redis.call('ZREM', KEYS[2], unpack(names))
end
return #names`;

/** Removes (at most PRUNE_LIMIT) sensors last heard from before `beforeMs`; returns how many. */
export async function forgetSilentSensors(redis: Redis, beforeMs: number): Promise<number> {
  return Number(await redis.eval(FORGET_SCRIPT, 2, REDIS_KEYS.sensors, REDIS_KEYS.sensorsSeen, Math.floor(beforeMs), PRUNE_LIMIT));
}
