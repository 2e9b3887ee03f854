import { REDIS_KEYS, sensorName } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import { boundedRead } from './bounded-read.js';

/** What every replica sees alike in Redis: the shared blocklist version and each sensor's last heartbeat. */
export interface SharedState {
  version: number;
  beats: p2pwall.v1.Heartbeat[];
  /** Heartbeats in the hash that could not be decoded (skipped). */
  unreadable: number;
}

export interface SensorLag {
  sensor: string;
  /** The shared version minus the version the sensor last reported applying (0 when it is ahead: Redis counted again). */
  lag: number;
  /** Seconds since the sensor sent that heartbeat, as of nowMs. */
  ageSeconds: number;
}

/**
 * How far each sensor's blocklist is behind, from its last heartbeat. A heartbeat is up to
 * heartbeatSeconds old, so a sensor that is in step shows a small lag right after a change; a
 * sensor that is gone keeps its last lag, and its age grows.
 */
export function sensorLags(state: SharedState, nowMs: number): SensorLag[] {
  const lags: SensorLag[] = [];
  for (const beat of state.beats) {
    const s = beat.sensor;
    if (!s?.site || !s.gateway) continue;
    lags.push({
      sensor: sensorName(s.site, s.gateway, s.queue ?? 0),
      lag: Math.max(0, state.version - Number(beat.blocklistVersion ?? 0)),
      ageSeconds: Math.max(0, (nowMs - Number(beat.sentMs ?? 0)) / 1000),
    });
  }
  return lags.sort((a, b) => a.sensor.localeCompare(b.sensor));
}

/**
 * One read of the shared state for a scrape (GET version + HGETALL sensors, one round trip),
 * bounded in time (boundedRead).
 */
export function readSharedState(redis: Redis, timeoutMs: number): Promise<SharedState | undefined> {
  return boundedRead(redis, timeoutMs, async () => {
    const results = await redis.pipeline().get(REDIS_KEYS.blocklistVersion).hgetallBuffer(REDIS_KEYS.sensors).exec();
    return results ? decodeSharedState(results) : undefined;
  });
}

function decodeSharedState(results: [Error | null, unknown][]): SharedState | undefined {
  const [[versionError, version], [beatsError, beats]] = results as [[Error | null, unknown], [Error | null, unknown]];
  if (versionError || beatsError) return undefined;
  const state: SharedState = { version: Number(version ?? 0) || 0, beats: [], unreadable: 0 };
  for (const value of Object.values((beats ?? {}) as Record<string, Buffer>)) {
    try {
      state.beats.push(p2pwall.v1.Heartbeat.decode(value));
    } catch {
      state.unreadable += 1;
    }
  }
  return state;
}
