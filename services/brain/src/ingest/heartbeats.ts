import { REDIS_KEYS } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { isSaneSensorTime } from '@p2pwall/common/correlate';
import type { Redis } from 'ioredis';

const { Mode } = p2pwall.v1;

/**
 * Heartbeats: what one may hold and how it is stored (pure), and how the sensors list forgets sensors that went silent
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
/** NFQUEUE numbers are 16-bit. */
const MAX_QUEUE_NUMBER = 65_535;
/** Queues one heartbeat may report (a sensor process reads one queue; a few per gateway at most). */
export const MAX_HEARTBEAT_QUEUES = 64;
const MODES: ReadonlySet<number> = new Set([Mode.MODE_UNSPECIFIED, Mode.MODE_ENFORCE, Mode.MODE_MONITOR]);

/** Why a heartbeat (its site and gateway already checked against the subject) is not stored, or undefined. */
export function heartbeatProblem(beat: p2pwall.v1.IHeartbeat, bytes: number): string | undefined {
  if (bytes > MAX_HEARTBEAT_BYTES) return `heartbeat of ${bytes} bytes (at most ${MAX_HEARTBEAT_BYTES})`;
  if (!LABEL.test(beat.sensor?.instance ?? '')) return 'sensor instance is not 1 to 64 printable ASCII characters';
  if (beat.version && !LABEL.test(beat.version)) return 'version is not 1 to 64 printable ASCII characters';
  // the queue names the sensor (site/gateway/queue: a key of the sensors list and a metric label)
  if (!isQueueNumber(beat.sensor?.queue ?? 0)) return `sensor queue is not a queue number 0..${MAX_QUEUE_NUMBER}`;
  const queues = beat.queues ?? [];
  if (queues.length > MAX_HEARTBEAT_QUEUES) return `${queues.length} queues (at most ${MAX_HEARTBEAT_QUEUES})`;
  if (queues.some((q) => !isQueueNumber(q.queue ?? 0))) return `a queue number is not 0..${MAX_QUEUE_NUMBER}`;
  return undefined;
}

const isQueueNumber = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= MAX_QUEUE_NUMBER;

/** A counter as stored: an integer in [0, 2^53 − 1] (a non-number: 0). */
function counter(value: number | null | undefined): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return 0;
  return Math.min(Math.floor(value), Number.MAX_SAFE_INTEGER);
}

/**
 * The heartbeat as the brain stores it (pure; heartbeatProblem must have passed): its times and
 * counters bounded so that every reader (/v1/sensors, the CLI, the metrics) can show them. A send
 * time outside the sane window (correlate/sane-values.ts) becomes the brain's receive time, a
 * start time outside it or after the send time becomes unknown (0), an unknown mode unspecified,
 * counters integers in [0, 2^53 − 1]. `outOfRange`: how many values were replaced.
 */
export function boundedHeartbeat(beat: p2pwall.v1.IHeartbeat, nowMs: number): { beat: p2pwall.v1.IHeartbeat; outOfRange: number } {
  let outOfRange = 0;
  const count = (value: number | null | undefined): number => {
    const bounded = counter(value);
    if (bounded !== (value ?? 0)) outOfRange += 1;
    return bounded;
  };
  const sentMs = isSaneSensorTime(beat.sentMs ?? 0, nowMs) ? beat.sentMs! : nowMs;
  // an absent send time is not out of range, only unknown: the brain's time stands for it
  if (sentMs !== beat.sentMs && beat.sentMs) outOfRange += 1;
  const startedMs = beat.startedMs && isSaneSensorTime(beat.startedMs, nowMs) && beat.startedMs <= sentMs ? beat.startedMs : 0;
  if (startedMs !== (beat.startedMs ?? 0)) outOfRange += 1;
  const mode = MODES.has(beat.mode ?? 0) ? (beat.mode ?? Mode.MODE_UNSPECIFIED) : Mode.MODE_UNSPECIFIED;
  if (mode !== (beat.mode ?? 0)) outOfRange += 1;
  const bounded: p2pwall.v1.IHeartbeat = {
    sensor: { site: beat.sensor?.site ?? '', gateway: beat.sensor?.gateway ?? '', queue: beat.sensor?.queue ?? 0, instance: beat.sensor?.instance ?? '' },
    version: beat.version ?? '',
    mode,
    sentMs,
    startedMs,
    queues: (beat.queues ?? []).map((q) => ({ queue: q.queue ?? 0, queueTotal: count(q.queueTotal), queueDropped: count(q.queueDropped), userDropped: count(q.userDropped) })),
    packets: count(beat.packets),
    dropped: count(beat.dropped),
    flows: count(beat.flows),
    peers: count(beat.peers),
    clients: count(beat.clients),
    blocklistVersion: count(beat.blocklistVersion),
    backlogBatches: count(beat.backlogBatches),
    shedBatches: count(beat.shedBatches),
    stopping: beat.stopping === true,
  };
  return { beat: bounded, outOfRange };
}

const FORGET_SCRIPT = `
local names = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #names > 0 then
  redis.call('HDEL', KEYS[1], unpack(names))
  redis.call('ZREM', KEYS[2], unpack(names))
end
return #names`;

/** Removes one sensor from the sensors list (an operator retires it); whether it was there. */
export async function forgetSensor(redis: Redis, name: string): Promise<boolean> {
  const [[, removed]] = ((await redis.multi().hdel(REDIS_KEYS.sensors, name).zrem(REDIS_KEYS.sensorsSeen, name).exec()) ?? [[null, 0]]) as [[unknown, number]];
  return Number(removed) > 0;
}

/** Removes (at most PRUNE_LIMIT) sensors last heard from before `beforeMs`; returns how many. */
export async function forgetSilentSensors(redis: Redis, beforeMs: number): Promise<number> {
  return Number(await redis.eval(FORGET_SCRIPT, 2, REDIS_KEYS.sensors, REDIS_KEYS.sensorsSeen, Math.floor(beforeMs), PRUNE_LIMIT));
}
