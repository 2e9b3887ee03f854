import { createLogger, type Logger } from '@p2pwall/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNats, startRedis, type NatsServer, type RedisServer } from '@p2pwall/lab';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { p2pwall } from '@p2pwall/proto';
import { DEFAULT_RULES, parseIp, type RulesConfig } from '@p2pwall/common/correlate';
import { loadBrainConfig, type BrainConfig } from '../src/config.js';
import { BrainService } from '../src/ingest/serve.js';

export const ip = (text: string): Uint8Array => {
  const bytes = parseIp(text);
  if (!bytes) throw new Error(`bad ip ${text}`);
  return bytes;
};

export interface FlowSpec {
  host: string;
  to: string;
  port: number;
  proto?: 'tcp' | 'udp';
  answered?: boolean;
  app?: string;
  rules?: string[];
  ts?: number;
  inbound?: boolean;
}

export function flow(spec: FlowSpec): p2pwall.v1.IFlowSummary {
  const ts = spec.ts ?? 1_000_000;
  return {
    insideIp: ip(spec.host),
    insidePort: 40000,
    outsideIp: ip(spec.to),
    outsidePort: spec.port,
    protocol: spec.proto === 'udp' ? 17 : 6,
    initiatorInside: !spec.inbound,
    firstSeenMs: ts - 10,
    lastSeenMs: ts,
    packetsOut: 1,
    bytesOut: 60,
    answered: spec.answered ?? false,
    app: spec.app ?? '',
    rules: spec.rules ?? [],
  };
}

export interface BatchSpec {
  site?: string;
  gateway?: string;
  instance?: string;
  sequence?: number;
  created?: number;
  flows?: p2pwall.v1.IFlowSummary[];
  clients?: { host: string; protocol?: string; rule?: string; ts?: number }[];
  peers?: { ip: string; port: number; from?: string; protocol?: string; via?: string; transport?: p2pwall.v1.Transport; ts?: number }[];
}

export function batch(spec: BatchSpec): p2pwall.v1.ISummaryBatch {
  const created = spec.created ?? 1_000_000;
  return {
    sensor: { site: spec.site ?? 'site-a', gateway: spec.gateway ?? 'gw1', queue: 0, instance: spec.instance ?? 'inst-1' },
    sequence: spec.sequence ?? 1,
    createdMs: created,
    flows: spec.flows ?? [],
    events: [
      ...(spec.clients ?? []).map((c) => ({ client: { host: ip(c.host), protocol: c.protocol ?? 'fasttrack', evidence: [{ protocol: c.protocol ?? 'fasttrack', rule: c.rule ?? 'fasttrack/udp-ping', supporting: true }], tsMs: c.ts ?? created } })),
      ...(spec.peers ?? []).map((p) => ({ peer: { ip: ip(p.ip), port: p.port, protocol: p.protocol ?? 'fasttrack', via: p.via ?? 'fasttrack/udp-ping', learnedFrom: p.from ? ip(p.from) : new Uint8Array(0), tsMs: p.ts ?? created, transport: p.transport } })),
    ],
  };
}

export function encodeBatch(spec: BatchSpec): Uint8Array {
  return p2pwall.v1.SummaryBatch.encode(batch(spec)).finish();
}

export function rules(overrides: { allowlist?: RulesConfig['allowlist'] } = {}): RulesConfig {
  const copy = structuredClone(DEFAULT_RULES);
  if (overrides.allowlist) copy.allowlist = overrides.allowlist;
  return copy;
}

/** The summaries subject of a sensor (what NATS permissions let that sensor publish to). */
export function summariesSubject(site = 'site-a', gateway = 'gw1'): string {
  return `p2pwall.v1.summaries.${site}.${gateway}`;
}

/** A batch as its own sensor sends it: the encoded batch and the subject of the site and gateway it names. */
export function sent(spec: BatchSpec): [Uint8Array, string] {
  return [encodeBatch(spec), summariesSubject(spec.site, spec.gateway)];
}

/**
 * A redis-server of the test file's own, for all of its tests: `connected` gets the client and the
 * server once it runs; it is disconnected and stopped after the file's tests, even when they fail.
 */
export function useRedisServer(connected: (redis: Redis, server: RedisServer) => void): void {
  let server: RedisServer | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    connected(redis, server);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.cleanup();
  });
}

/** A brain's config for tests of its API: these servers, an in-memory stream, the API on a free port of 127.0.0.1 with these tokens. */
export function apiTestConfig(servers: { nats: string; redis: string }, tokens: { read: string[]; admin: string[] }): BrainConfig {
  const config = loadBrainConfig(undefined, {});
  config.nats.servers = [servers.nats];
  config.redis.url = servers.redis;
  config.stream.storage = 'memory';
  config.api.listen = { host: '127.0.0.1', port: 0 };
  config.api.tokens = tokens;
  return config;
}

/** A running brain with its own nats-server and redis-server, for tests of its API and CLI. */
export interface BrainRig {
  nats: NatsServer;
  redisServer: RedisServer;
  /** A client of the rig's Redis, for the test to read and write; errors ignored (tests restart Redis on purpose). */
  redis: Redis;
  nc: NatsConnection;
  brain: BrainService;
  /** http://127.0.0.1:<the API's port> */
  base: string;
  /** Stops the brain, closes the clients and removes both servers; safe after a failed start. */
  stop(): Promise<void>;
}

export interface BrainRigOptions {
  tokens: { read: string[]; admin: string[] };
  /** Changes to apiTestConfig before the brain starts. */
  adjust?: (config: BrainConfig) => void;
  logger?: Logger;
  redis?: { persistent?: boolean };
  /** Runs against the rig's Redis before the brain starts (seeding). */
  seed?: (redis: Redis) => Promise<void>;
}

export async function startBrainRig(options: BrainRigOptions): Promise<BrainRig> {
  const [nats, redisServer] = await Promise.all([startNats(), startRedis(options.redis ?? {})]);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  let nc: NatsConnection | undefined;
  let brain: BrainService | undefined;
  const stop = async (): Promise<void> => {
    await brain?.stop();
    await nc?.close();
    redis.disconnect();
    await nats.cleanup();
    await redisServer.cleanup();
  };
  try {
    nc = await connect({ servers: nats.url });
    await options.seed?.(redis);
    const config = apiTestConfig({ nats: nats.url, redis: redisServer.url }, options.tokens);
    options.adjust?.(config);
    brain = new BrainService(config, options.logger ?? createLogger({ name: 'brain-test', level: 'error' }));
    await brain.start();
    return { nats, redisServer, redis, nc, brain, base: `http://127.0.0.1:${brain.apiPort()}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
