import { CidrError, listenHostProblem, parseNetwork, loadConfig, natsConnectionProblems, serverTlsProblems, redisConnectionProblems, TELEMETRY_CONFIG_SCHEMA, telemetryConfigProblems, type ConfigSchema, type TelemetryConfig } from '@p2pwall/common';
import { natsConnection, redisConnection } from './connections.js';
import { DEFAULT_RULES, type RulesConfig } from '@p2pwall/common/correlate';
import type { ApiLimits } from './api/limits.js';
import { Allowlist } from './decide/allowlist.js';
import { DEFAULT_MAX_NEW_DECISIONS_PER_SENSOR_PER_MINUTE } from './ingest/block-budget.js';
import { DEFAULT_DEDUP_WINDOW_BATCHES } from './ingest/dedup.js';
import { DEFAULT_MAX_INCIDENTS_PER_SITE, DEFAULT_MAX_INCIDENTS_TOTAL } from './incidents/record.js';
import { NOTIFICATIONS_CONFIG_SCHEMA, notificationsConfigProblems, type NotificationsConfig } from './notify/config.js';

/** brain.yaml; services/brain/brain.example.yaml explains every key. */
export interface BrainConfig extends RulesConfig {
  nats: {
    servers: string[];
    user: string | null;
    password: string | null;
    token: string | null;
    creds: string | null;
    tls: { enabled: boolean; ca: string | null; cert: string | null; key: string | null };
  };
  stream: { create: boolean; maxAgeSeconds: number; maxBytes: number; maxMessageBytes: number; duplicateWindowSeconds: number; replicas: number; storage: 'file' | 'memory' };
  consumer: { fetchBatch: number; fetchExpiresMs: number; ackWaitSeconds: number; concurrency: number; maxDeliver: number };
  redis: {
    url: string;
    username: string | null;
    password: string | null;
    tls: { enabled: boolean; ca: string | null; cert: string | null; key: string | null; rejectUnauthorized: boolean };
  };
  ingest: { dedupSeconds: number; dedupWindowBatches: number; maxNewDecisionsPerSensorPerMinute: number; sensorRetentionSeconds: number };
  incidents: { quietSeconds: number; retentionDays: number; maxPerSite: number; maxTotal: number; samples: number; listItems: number };
  /** Sites whose decisions are recorded (simulated), never enforced: for rollout. */
  simulation: { sites: string[] };
  /** The organisation's networks beyond the private ranges (public addresses used inside): never blocked as peers. */
  insideNetworks: string[];
  blocklist: { changesMaxLen: number; sweepSeconds: number; minExtendSeconds: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  /** /metrics, /health/live, /health/ready and OTLP export (@p2pwall/common's telemetry). */
  telemetry: TelemetryConfig;
  api: {
    enabled: boolean;
    listen: { host: string; port: number };
    tokens: { read: string[]; admin: string[] };
    tokenFiles: { read: string | null; admin: string | null };
    sensorStaleSeconds: number;
    /** Manual blocks without --expires end after this; 0: never. */
    manualExpirySeconds: number;
    /** The widest network a manual network block may name, per family (prefix lengths). */
    minNetworkPrefixLength: { ipv4: number; ipv6: number };
    /** HTTPS: the server's certificate chain and key (PEM files); both null: plain HTTP. */
    tls: { cert: string | null; key: string | null };
    /** What keeps many clients from starving ingest and the health probes (api/limits.ts). */
    limits: ApiLimits;
    /** The web console under / (console/): where its build is (null: beside the brain), how many live streams at once. */
    console: { enabled: boolean; dir: string | null; maxStreams: number };
  };
  /** Webhook, Slack, Teams and syslog sinks of incident and operator events (notify/config.ts). */
  notifications: NotificationsConfig;
}

export const BRAIN_ENV_PREFIX = 'P2PWALL_BRAIN_';

const int = (minimum: number, maximum: number, value: number, description: string): ConfigSchema => ({ type: 'integer', minimum, maximum, default: value, description });
const num = (minimum: number, maximum: number, value: number, description: string): ConfigSchema => ({ type: 'number', minimum, maximum, default: value, description });
const strOrNull = (description: string): ConfigSchema => ({ type: ['string', 'null'], default: null, description });
const obj = (properties: Record<string, ConfigSchema>, description?: string): ConfigSchema => ({ type: 'object', additionalProperties: false, default: {}, properties, ...(description ? { description } : {}) });
const ports = (value: number[], description: string): ConfigSchema => ({ type: 'array', items: { type: 'integer', minimum: 0, maximum: 65535 }, default: value, description });
const strings = (description: string): ConfigSchema => ({ type: 'array', items: { type: 'string' }, default: [], description });
const D = DEFAULT_RULES;
const DAY = 86_400;

export const BRAIN_CONFIG_SCHEMA: ConfigSchema = obj({
  nats: obj({
    servers: { type: 'array', items: { type: 'string' }, minItems: 1, default: ['nats://127.0.0.1:4222'] },
    user: strOrNull('user name (with password)'),
    password: strOrNull('password'),
    token: strOrNull('authentication token'),
    creds: strOrNull('path of a .creds file (JWT + nkey seed); at most one of user/password, token and creds'),
    tls: obj({ enabled: { type: 'boolean', default: false, description: 'TLS (tls:// servers ask for it too)' }, ca: strOrNull('PEM CA file (null: system CAs)'), cert: strOrNull('PEM client certificate file'), key: strOrNull('PEM client key file') }),
  }),
  stream: obj({
    create: { type: 'boolean', default: true, description: 'create the stream when missing' },
    maxAgeSeconds: int(60, 365 * DAY, DAY, 'summaries older than this are discarded'),
    maxBytes: int(-1, Number.MAX_SAFE_INTEGER, 1024 ** 3, 'stream size bound; -1 unlimited'),
    maxMessageBytes: int(1024, 64 * 1024 ** 2, 1024 ** 2, 'largest message the stream takes (a larger publish is refused)'),
    duplicateWindowSeconds: int(1, DAY, 120, 'Nats-Msg-Id de-duplication window'),
    replicas: int(1, 5, 1, 'stream replicas (clustered JetStream)'),
    storage: { enum: ['file', 'memory'], default: 'file' },
  }),
  consumer: obj({
    fetchBatch: int(1, 10_000, 256, 'messages pulled ahead (topped up as they are processed)'),
    concurrency: int(1, 256, 8, 'messages processed at once (state updates are atomic per key, as between replicas)'),
    fetchExpiresMs: int(1000, 60_000, 1000, 'how long one pull request waits for messages'),
    ackWaitSeconds: int(1, 3600, 30, 'redelivery after this long without an ack'),
    maxDeliver: int(2, 1000, 10, 'deliveries of a message that keeps failing; at the last it is dead-lettered (counted, logged, acknowledged as terminated)'),
  }),
  redis: obj({
    url: { type: 'string', default: 'redis://127.0.0.1:6379' },
    username: strOrNull('ACL user (with password)'),
    password: strOrNull('password of username, or requirepass'),
    tls: obj({ enabled: { type: 'boolean', default: false, description: 'TLS (rediss:// asks for it too)' }, ca: strOrNull('PEM CA file (null: system CAs)'), cert: strOrNull('PEM client certificate file'), key: strOrNull('PEM client key file'), rejectUnauthorized: { type: 'boolean', default: true, description: 'false: the server certificate is not verified (tests only)' } }),
  }),
  correlation: obj({
    fanout: obj({
      minHosts: int(1, 1_000_000, D.correlation.fanout.minHosts, 'K: distinct inside hosts reaching one endpoint with P2P evidence'),
      windowSeconds: int(1, 30 * DAY, D.correlation.fanout.windowSeconds, 'how long a host counts for an endpoint'),
      highPortMin: int(0, 65535, D.correlation.fanout.highPortMin, 'flows of known clients count from this port up'),
    }),
    host: obj({
      windowSeconds: int(1, DAY, D.correlation.host.windowSeconds, 'sliding window of the payload-free host rules'),
      maxEntries: int(16, 1_000_000, D.correlation.host.maxEntries, 'endpoints remembered per host and window'),
      udpFanout: obj({
        minEndpoints: int(1, 1_000_000, D.correlation.host.udpFanout.minEndpoints, 'N'),
        unansweredRatio: num(0, 1, D.correlation.host.udpFanout.unansweredRatio, 'share of those never answered'),
        highPortMin: int(0, 65535, D.correlation.host.udpFanout.highPortMin, 'high ports start here'),
      }),
      tcpUdpPairs: obj({
        minIps: int(1, 1_000_000, D.correlation.host.tcpUdpPairs.minIps, 'M'),
        excludePorts: ports(D.correlation.host.tcpUdpPairs.excludePorts, 'well-known dual TCP/UDP services'),
      }),
      blockedPeers: obj({ minPeers: int(1, 1_000_000, D.correlation.host.blockedPeers.minPeers, 'P') }),
    }),
    evidenceMaxItems: int(1, 10_000, D.correlation.evidenceMaxItems, 'hosts/sites/sensors listed per decision'),
  }),
  expiry: obj({
    signature: obj({ peerSeconds: int(1, 365 * DAY, D.expiry.signature.peerSeconds, ''), hostSeconds: int(1, 365 * DAY, D.expiry.signature.hostSeconds, '') }),
    correlation: obj({ peerSeconds: int(1, 365 * DAY, D.expiry.correlation.peerSeconds, ''), hostSeconds: int(1, 365 * DAY, D.expiry.correlation.hostSeconds, '') }),
  }),
  allowlist: obj({ hosts: strings('inside hosts never locked: CIDR or site/CIDR'), endpoints: strings('outside addresses never blocked: CIDR, ip:port, [v6]:port') }),
  ingest: obj({
    dedupSeconds: int(60, 30 * DAY, DAY, 'how long the batches a sensor instance (site, gateway, instance) had counted are remembered after its last batch'),
    dedupWindowBatches: int(1024, 16_777_216, DEFAULT_DEDUP_WINDOW_BATCHES, 'batches per sensor instance told apart below its newest (one bit each in Redis); an older redelivery is not counted again'),
    sensorRetentionSeconds: int(60, 365 * DAY, 7 * DAY, 'a sensor not heard from for this long leaves the sensors list (/v1/sensors, metrics)'),
    maxNewDecisionsPerSensorPerMinute: int(1, 1_000_000, DEFAULT_MAX_NEW_DECISIONS_PER_SENSOR_PER_MINUTE, 'new decisions one sensor (site/gateway) may cause per minute; the excess is counted and not written'),
  }),
  incidents: obj({
    quietSeconds: int(10, 30 * DAY, 1800, 'a gap in evidence longer than this closes an incident'),
    retentionDays: int(1, 3650, 90, 'incidents are kept this long after they were last seen'),
    maxPerSite: int(1, 100_000_000, DEFAULT_MAX_INCIDENTS_PER_SITE, 'incidents kept per site: past it, the one last seen longest ago goes (counted: p2pwall_brain_incidents_evicted)'),
    maxTotal: int(1, 100_000_000, DEFAULT_MAX_INCIDENTS_TOTAL, 'incidents kept in all: past it, the one last seen longest ago goes (counted: p2pwall_brain_incidents_evicted)'),
    samples: int(0, 1000, 20, 'sample flows kept per incident'),
    listItems: int(1, 1000, 20, 'peers and decisions listed per incident (counts are always whole)'),
  }),
  simulation: obj({ sites: strings('sites in simulation: their decisions are recorded as simulated and never enforced') }),
  insideNetworks: strings('networks of the organisation beyond the private ranges (CIDR; public addresses used inside): never blocked as peers, whatever a sensor says'),
  blocklist: obj({
    changesMaxLen: int(100, 100_000_000, 100_000, 'XADD MAXLEN ~ of the change stream'),
    sweepSeconds: int(1, 3600, 5, 'expiry sweep and epoch check period'),
    minExtendSeconds: int(0, DAY, 10, 'an unchanged decision is rewritten only when its expiry moves by more than this'),
  }),
  log: obj({ level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' } }),
  telemetry: TELEMETRY_CONFIG_SCHEMA,
  api: obj({
    enabled: { type: 'boolean', default: true, description: 'serve the HTTP API (it needs at least one token)' },
    listen: obj({ host: { type: 'string', default: '0.0.0.0' }, port: int(0, 65535, 8080, 'TCP port; 0 picks a free one') }),
    tokens: obj({ read: strings('bearer tokens that may query'), admin: strings('bearer tokens that may also block, unblock and allow') }),
    tokenFiles: obj({ read: strOrNull('file of read tokens, one a line (# comments)'), admin: strOrNull('file of admin tokens, one a line (# comments)') }),
    sensorStaleSeconds: int(1, DAY, 30, 'a sensor without a heartbeat for this long is shown as stale'),
    manualExpirySeconds: int(0, 3650 * DAY, 30 * DAY, 'manual blocks given no expiry end after this (expires: never for none); 0: never'),
    minNetworkPrefixLength: obj(
      {
        ipv4: int(1, 32, 8, 'shortest prefix length of an IPv4 network block (decisions add NET/LEN): wider networks are refused'),
        ipv6: int(1, 128, 32, 'shortest prefix length of an IPv6 network block: wider networks are refused'),
      },
      'the widest network an operator may block in one decision: a slip of /8 for /28 must not cut off millions of addresses',
    ),
    tls: obj({ cert: strOrNull('PEM certificate (chain) file: the API serves HTTPS'), key: strOrNull('PEM private key file of cert') }),
    limits: obj({
      maxConcurrent: int(1, 10_000, 32, '/v1 requests handled at once; more get 503 (Retry-After) at once'),
      perTokenPerSecond: num(0.1, 100_000, 20, 'sustained /v1 requests per second of one token; more get 429 (Retry-After)'),
      perTokenBurst: int(1, 100_000, 40, 'requests one token may make at once above its rate'),
      requestTimeoutSeconds: int(1, 3600, 10, 'a request must arrive and be answered within this long; otherwise 503 (or the connection is closed)'),
    }),
    console: obj({
      enabled: { type: 'boolean', default: true, description: 'serve the web console under / (it asks for a token like any API client)' },
      dir: strOrNull('folder of the built console (null: the one built beside the brain, console/dist)'),
      maxStreams: int(1, 1000, 16, 'live event streams (GET /v1/events/stream) open at once; more get 503'),
    }),
  }),
  notifications: NOTIFICATIONS_CONFIG_SCHEMA,
});

/** A site name, as sensors name their site (a NATS subject token: @p2pwall/common SUBJECTS). */
const SITE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function checkBrainConfig(value: unknown): string[] {
  const config = value as BrainConfig;
  const problems = Allowlist.problems(config.allowlist);
  problems.push(...natsConnectionProblems(natsConnection(config.nats), { section: 'nats', credsFile: 'creds' }));
  problems.push(...redisConnectionProblems(redisConnection(config.redis), 'redis'));
  problems.push(...telemetryConfigProblems(config.telemetry));
  problems.push(...notificationsConfigProblems(config.notifications));
  if (config.api.enabled) problems.push(...serverTlsProblems('api', config.api.tls));
  const host = listenHostProblem('api.listen.host', config.api.listen.host);
  if (host !== null) problems.push(host);
  config.insideNetworks.forEach((cidr, i) => {
    try {
      parseNetwork(cidr);
    } catch (error) {
      if (!(error instanceof CidrError)) throw error;
      problems.push(`insideNetworks[${i}]: ${error.message}`);
    }
  });
  config.simulation.sites.forEach((site, i) => {
    if (!SITE_NAME.test(site)) problems.push(`simulation.sites[${i}]: ${JSON.stringify(site.length > 80 ? `${site.slice(0, 80)}...` : site)} is not a site name: lower-case letters, digits and dashes, as the sensors' site keys`);
  });
  return problems;
}

/** Loads and checks brain.yaml (undefined: defaults and environment only). Throws ConfigError. */
export function loadBrainConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): BrainConfig {
  return loadConfig<BrainConfig>({ path, schema: BRAIN_CONFIG_SCHEMA, envPrefix: BRAIN_ENV_PREFIX, env, check: checkBrainConfig });
}
