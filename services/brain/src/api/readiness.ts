import type { HealthRegistry } from '@p2pwall/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';

/**
 * Whether the brain's connections work now: Redis has a ready connection, and NATS answers a
 * round trip (flush) within `timeoutMs` — a connection that is reconnecting does not.
 */
export async function connectionsReady(nc: NatsConnection | undefined, redis: Redis | undefined, timeoutMs = 1000): Promise<{ redis: boolean; nats: boolean }> {
  const redisReady = redis?.status === 'ready';
  if (!nc || nc.isClosed() || nc.isDraining()) return { redis: redisReady, nats: false };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const nats = await Promise.race([nc.flush().then(() => true, () => false), timedOut]);
  clearTimeout(timer);
  return { redis: redisReady, nats };
}

/**
 * GET /health/ready of the API from the telemetry's health registry, so the API port and the
 * telemetry port answer alike: every component (redis, nats, shutdown while stopping) as a check.
 */
export function readinessFromHealth(health: HealthRegistry): () => Promise<Record<string, boolean>> {
  return async () => Object.fromEntries(Object.entries(health.ready().components).map(([name, component]) => [name, component.ok]));
}
