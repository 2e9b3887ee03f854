import type { BlocklistSource } from '../uplink/blocklist.js';

/**
 * What /health/ready of a sensor waits for: its queue bound, its rules in place (or left to
 * someone else), and a blocklist to enforce. Not NATS or Redis connectivity: the sensor keeps
 * enforcing without them, and an outage must not fail readiness and stall a DaemonSet rollout;
 * p2pwall_sensor_uplink_connected shows the links instead.
 */
export const SENSOR_COMPONENTS = ['nfqueue', 'rules', 'blocklist'] as const;

export type SensorComponent = (typeof SENSOR_COMPONENTS)[number];

export interface ComponentState {
  ok: boolean;
  detail: string;
}

export function rulesState(managed: boolean): ComponentState {
  return { ok: true, detail: managed ? 'installed' : 'not managed by this process (--no-rules)' };
}

/** The blocklist component: `redisConfigured` false means a standalone sensor, ready at once. */
export function blocklistState(redisConfigured: boolean, loadedFrom: BlocklistSource | null): ComponentState {
  if (!redisConfigured) return { ok: true, detail: 'no shared blocklist (uplink.redis absent)' };
  switch (loadedFrom) {
    case 'redis':
      return { ok: true, detail: 'read from Redis' };
    case 'file':
      return { ok: true, detail: 'read from the snapshot file (Redis unreachable at start)' };
    default:
      return { ok: false, detail: 'Redis unreachable and no snapshot file: waiting for Redis' };
  }
}
