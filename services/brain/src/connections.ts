import { natsSecuritySettings, redisSecuritySettings, type NatsConnectionConfig, type RedisConnectionConfig } from '@p2pwall/common';
import { credsAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { RedisOptions } from 'ioredis';
import type { BrainConfig } from './config.js';

/**
 * The brain's NATS and Redis connection options. Login and TLS come from @p2pwall/common, as for
 * the sensor; brain.yaml spells two things its own way (`nats.creds`, and `tls.enabled` to ask
 * for TLS without files of ours), mapped here.
 */

export function natsConnection(config: BrainConfig['nats']): NatsConnectionConfig {
  return { servers: config.servers, user: config.user, password: config.password, token: config.token, credsFile: config.creds, tls: config.tls, tlsEnabled: config.tls.enabled };
}

export function redisConnection(config: BrainConfig['redis']): RedisConnectionConfig {
  return { url: config.url, username: config.username, password: config.password, tls: config.tls, tlsEnabled: config.tls.enabled };
}

/** Throws when the creds file can no longer be read: the brain cannot start without it. */
export function natsOptions(config: BrainConfig['nats']): NodeConnectionOptions {
  const { creds, ...security } = natsSecuritySettings(natsConnection(config));
  return { servers: config.servers, name: 'p2pwall-brain', maxReconnectAttempts: -1, reconnectTimeWait: 500, ...security, ...(creds ? { authenticator: credsAuthenticator(creds) } : {}) };
}

export function redisOptions(config: BrainConfig['redis']): RedisOptions {
  return { maxRetriesPerRequest: null, enableAutoPipelining: false, lazyConnect: true, ...redisSecuritySettings(redisConnection(config)) };
}
