import type { HealthRegistry } from '@p2pwall/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';

/**
 * What /health/ready of the brain waits for: both connections. The brain can do nothing without
 * either (summaries come from NATS, every decision goes to Redis), so unlike the sensor it is
 * not ready while one is down, and an orchestrator stops sending it API traffic.
 */
export const BRAIN_COMPONENTS = ['redis', 'nats'] as const;

/** The readiness of an ioredis client in one of its states; `lastError` says why it is reconnecting. */
export function redisHealth(status: string, lastError?: string): { ok: boolean; detail: string } {
  const why = lastError ? ` (${lastError})` : '';
  switch (status) {
    case 'ready':
      return { ok: true, detail: 'connected' };
    case 'wait':
    case 'connecting':
    case 'connect':
      return { ok: false, detail: 'connecting' };
    case 'reconnecting':
      return { ok: false, detail: `connection lost, reconnecting${why}` };
    default: // close, end
      return { ok: false, detail: `not connected${why}` };
  }
}

/** Keeps component `redis` in step with the client's connection events (from now on). */
export function watchRedis(redis: Redis, health: HealthRegistry): void {
  let lastError: string | undefined;
  const update = () => {
    const { ok, detail } = redisHealth(redis.status, lastError);
    if (ok) lastError = undefined;
    health.setReady('redis', ok, detail);
  };
  redis.on('error', (error: Error) => {
    lastError = error.message;
  });
  for (const event of ['connect', 'ready', 'close', 'reconnecting', 'end']) redis.on(event, update);
  update();
}

/**
 * Keeps component `nats` in step with a connection's status: ready while connected, not ready
 * from a disconnect until the reconnect, and after the connection closed for good.
 */
export function watchNats(nc: NatsConnection, health: HealthRegistry): void {
  health.setReady('nats', !nc.isClosed(), nc.isClosed() ? 'connection closed' : `connected to ${nc.getServer()}`);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') health.setReady('nats', false, `connection to ${status.server} lost, reconnecting`);
      else if (status.type === 'reconnect') health.setReady('nats', true, `connected to ${status.server}`);
    }
  })();
  void nc.closed().then(() => health.setReady('nats', false, 'connection closed'));
}
