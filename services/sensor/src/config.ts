import { loadConfig, natsConnectionProblems, redisConnectionProblems, TELEMETRY_CONFIG_SCHEMA, telemetryConfigProblems, type ConfigSchema, type TelemetryConfig } from '@p2pwall/common';
import { CidrError, CidrSet, DEFAULT_INSIDE_NETWORKS, parseCidr, parseNetwork } from './decode/cidr.js';
import type { ModuleSettings } from './detect/module.js';
import { activeModules, moduleOptionsOf, protocolModules } from './detect/registry.js';
import { DEFAULT_MODULE_BUFFER_BYTES, DEFAULT_OPEN_PORTS, type EngineConfig } from './engine-config.js';
import { DEFAULT_CLEAN_CHECK_PERCENT } from './enforce/rules.js';
import { parseEventLetters, EventLettersError } from './event-log.js';

/** The sensor's configuration file (sensor.yaml); see deploy/examples/sensor.yaml for every key explained. */
export interface SensorConfig {
  site: string;
  gateway: string;
  inside: string[];
  /** Infrastructure never learned as a peer: the organisation's resolvers, proxies and servers (CIDR). */
  protect: string[];
  /** Per protocol module: on or off, and its inspection depth. */
  detectors: Record<string, ModuleSettings>;
  mode: 'enforce' | 'monitor';
  queue: {
    numbers: number[];
    /** addon: the project's batched binding (@p2pwall/nfq); nfqueue: the npm binding, kept to compare. */
    binding: 'addon' | 'nfqueue';
    socketBufferBytes: number;
    failOpen: boolean;
    /** Kernel queue length, packets (addon only). */
    maxLength: number;
    /** What the kernel does with packets while the queue is full (addon only). */
    whenFull: 'accept' | 'drop';
    /** Bytes of each packet copied to the sensor (addon only). */
    copyRange: number;
    /** Queue GSO packets unsegmented (addon only). */
    gso: boolean;
    connbytes: number;
  };
  hooks: { forward: boolean; input: boolean; output: boolean };
  ipv6: boolean;
  timeLockSeconds: number;
  openPorts: number[];
  dropUdp: boolean;
  peerTtlSeconds: number;
  storefile: string | null;
  kernel: { setPrefix: string; markAccepted: number; markClean: number; markPeer: number; setFlushMs: number; cleanCheckPercent: number };
  onExit: 'keep' | 'remove';
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'; events: string };
  limits: { maxFlows: number; maxPeers: number; maxClients: number; maxHosts: number; inspectPackets: number; moduleBufferBytes: number; peersPerFlow: number; peersPerHostPerMinute: number };
  queueStatsIntervalSeconds: number;
  /** /metrics, /health/live, /health/ready and OTLP export (@p2pwall/common's telemetry). */
  telemetry: TelemetryConfig;
  /** Absent: a standalone sensor (no NATS, no shared blocklist). */
  uplink?: UplinkConfig;
}

export interface TlsFilesConfig {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

/** Where the sensor publishes summaries and heartbeats (NATS JetStream). */
export interface NatsUplinkConfig {
  servers: string[];
  user: string | null;
  password: string | null;
  token: string | null;
  credsFile: string | null;
  tls: TlsFilesConfig;
  maxBacklogBatches: number;
  batchMaxFlows: number;
  batchMaxDelayMs: number;
  batchMaxEventDelayMs: number;
  heartbeatSeconds: number;
}

/** Where the sensor follows the shared blocklist (Redis). */
export interface RedisUplinkConfig {
  url: string;
  username: string | null;
  password: string | null;
  tls: TlsFilesConfig;
  snapshotFile: string | null;
}

/** Each half is optional: without nats nothing is published, without redis no blocklist is followed. */
export interface UplinkConfig {
  nats?: NatsUplinkConfig;
  redis?: RedisUplinkConfig;
  /** A live flow that changed is summarized again this often; 0: only when it ends (see EngineConfig interimMs). */
  interimSeconds: number;
}

export const SENSOR_ENV_PREFIX = 'P2PWALL_SENSOR_';

const integer = (minimum: number, maximum: number, defaultValue: number, description: string): ConfigSchema => ({ type: 'integer', minimum, maximum, default: defaultValue, description });
const boolean = (defaultValue: boolean, description: string): ConfigSchema => ({ type: 'boolean', default: defaultValue, description });
const optionalString = (description: string): ConfigSchema => ({ type: ['string', 'null'], default: null, description });
const tlsFiles = (what: string): ConfigSchema => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    ca: optionalString(`PEM file of the CA that signed the ${what} certificate (null: system CAs)`),
    cert: optionalString(`PEM client certificate for ${what} (mutual TLS)`),
    key: optionalString(`PEM key of the client certificate for ${what}`),
  },
});
const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

export const SENSOR_CONFIG_SCHEMA: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['site', 'gateway'],
  properties: {
    site: { type: 'string', pattern: NAME_PATTERN, description: 'site name: lower-case letters, digits and dashes' },
    gateway: { type: 'string', pattern: NAME_PATTERN, description: 'this gateway\'s id within its site' },
    inside: { type: 'array', items: { type: 'string' }, minItems: 1, default: [...DEFAULT_INSIDE_NETWORKS], description: 'inside (green) networks, CIDR' },
    protect: { type: 'array', items: { type: 'string' }, default: [], description: 'infrastructure never learned as a peer (resolvers, proxies, servers), CIDR' },
    detectors: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'protocol modules by name: enabled, inspectPackets (capped by limits.inspectPackets), and the options a module declares (e.g. dns: names, resolvers)',
      properties: Object.fromEntries(
        protocolModules.map((module) => [
          module.name,
          {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              enabled: boolean(true, `run the ${module.name} module`),
              inspectPackets: integer(1, 1000, module.inspectPackets, `payload packets per flow the ${module.name} module sees`),
              // The module's own options (detect/module.ts ModuleOptions), validated here like every key.
              ...module.options?.schema,
            },
          },
        ]),
      ),
    },
    mode: { enum: ['enforce', 'monitor'], default: 'enforce', description: 'monitor: detect and report, drop nothing' },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        numbers: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 65535 }, minItems: 1, default: [0], description: 'NFQUEUE numbers; several consecutive ones spread flows with --queue-balance' },
        binding: {
          enum: ['addon', 'nfqueue'],
          default: 'addon',
          description: 'addon: the project\'s batched NFQUEUE addon (@p2pwall/nfq); nfqueue: the npm nfqueue binding (one packet per call, kept to compare; maxLength, whenFull, copyRange and gso do not apply to it)',
        },
        socketBufferBytes: integer(8 * 1024 * 1024, 1024 * 1024 * 1024, 64 * 1024 * 1024, 'netlink receive buffer of the queue socket'),
        failOpen: boolean(true, 'about no listener: true: --queue-bypass, traffic passes while no sensor listens; false: queued traffic stops (see whenFull for a listener that is too slow)'),
        maxLength: integer(
          1,
          1024 * 1024,
          16 * 1024,
          'kernel queue length, packets (the kernel\'s default is 1,024: a stall of a few ms at tens of thousands of new flows a second, a GC pause or a burst, fills it); 16,384 rides out ~0.3 s at 50,000 packets/s and holds at most ~40 MB of queued packets in the kernel',
        ),
        whenFull: {
          enum: ['accept', 'drop'],
          default: 'drop',
          description:
            'about a listener that is too slow (failOpen is about none): what the kernel does with packets while the queue holds maxLength. drop (default): new connections fail under overload, so flooding the sensor cannot open unjudged paths, and the kernel counts each drop (queue_dropped); accept: packets pass unjudged (the kernel sets still block learned peers and locked clients) and the kernel counts none of them',
        },
        copyRange: integer(
          128,
          65531,
          9216,
          'bytes of each packet copied to the sensor: 9,216 holds a whole jumbo (9,000) frame, and so every segment a detector reads, and any UDP peer list the modules read (200 IPv6 peers from a tracker: ~3,700 bytes); longer packets are judged on their first copyRange bytes',
        ),
        gso: boolean(false, 'queue GSO packets whole (NFQA_CFG_F_GSO) instead of having the kernel segment them first; off: the detectors and connbytes count wire-sized segments, and the packets that reach the queue (the first of each flow) are rarely GSO'),
        connbytes: integer(1, 1000, 8, 'packets of each direction of a connection that reach the sensor'),
      },
    },
    hooks: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { forward: boolean(true, 'forwarded traffic'), input: boolean(false, "the gateway's own inbound traffic"), output: boolean(false, "the gateway's own outbound traffic") },
    },
    ipv6: boolean(true, 'also install ip6tables rules and IPv6 sets'),
    timeLockSeconds: integer(0, 86_400, 120, 'ftwall -t; 0 disables'),
    openPorts: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 }, maxItems: 15, default: [...DEFAULT_OPEN_PORTS], description: 'ports a locked client may still reach' },
    dropUdp: boolean(true, 'false is ftwall -n: never drop UDP'),
    peerTtlSeconds: integer(60, 2_147_483, 604_800, 'how long a learned peer stays blocked'),
    storefile: { type: ['string', 'null'], default: '/var/lib/p2pwall/peers.store', description: 'learned peers survive restarts here; null disables' },
    kernel: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        setPrefix: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,15}$', default: 'p2pwall', description: 'prefix of the ipset names' },
        markAccepted: integer(1, 0xffffffff, 0x10000000, 'packet mark bit of packets the sensor accepted'),
        markClean: integer(1, 0xffffffff, 0x20000000, 'mark bit of connections judged clean (they skip the queue)'),
        markPeer: integer(1, 0xffffffff, 0x40000000, 'packet mark bit of opening packets to or from a learned peer, queued so the sensor sees the attempt (always dropped)'),
        setFlushMs: integer(1, 10_000, 20, 'how often learned peers and locks are pushed into the kernel sets'),
        cleanCheckPercent: integer(
          1,
          100,
          DEFAULT_CLEAN_CHECK_PERCENT,
          'of the packets of a connection judged clean, the percentage that meet the set rules (the rest skip them); a peer learned after the connection was judged clean is cut off at the first packet that meets them, so 25 lets more than n packets pass with probability 0.75^n; 100: every packet meets them (bulk traffic pays a dozen set look-ups a packet)',
        ),
      },
    },
    onExit: { enum: ['keep', 'remove'], default: 'keep', description: 'rules and sets at shutdown: keep (kernel keeps enforcing) or remove' },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' },
        events: { type: 'string', default: 'cp', description: 'ftwall letters of events to log: c client, p peer, t/T u/U flows' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxFlows: integer(1, 16_777_216, 262_144, 'flow table bound'),
        maxPeers: integer(1, 16_777_216, 1_000_000, 'learned peer bound'),
        maxClients: integer(1, 16_777_216, 65_536, 'identified client bound'),
        maxHosts: integer(1, 16_777_216, 262_144, 'inside host bound'),
        inspectPackets: integer(1, 1000, 16, 'payload packets per flow any protocol module sees (each module\'s own depth is capped by it)'),
        moduleBufferBytes: integer(0, 17_179_869_184, DEFAULT_MODULE_BUFFER_BYTES, 'bytes all protocol modules\' per-flow buffers (header blocks that span segments) may hold together; past it a new buffer is not kept, and this is counted'),
        peersPerFlow: integer(1, 1_000_000, 256, 'peers one flow may teach; more are counted and ignored'),
        peersPerHostPerMinute: integer(1, 10_000_000, 2000, 'peers one inside host\'s traffic may teach per minute; more are counted and ignored'),
      },
    },
    queueStatsIntervalSeconds: integer(1, 3600, 5, 'how often the kernel queue counters are read'),
    telemetry: TELEMETRY_CONFIG_SCHEMA,
    uplink: {
      type: 'object',
      additionalProperties: false,
      description: 'absent: standalone sensor',
      properties: {
        interimSeconds: integer(0, 3600, 10, 'a live flow that changed is summarized again this often, and an attempt to a blocked peer at once; 0: flows are summarized only when they end'),
        nats: {
          type: 'object',
          additionalProperties: false,
          description: 'absent: nothing is published',
          properties: {
            servers: { type: 'array', items: { type: 'string' }, minItems: 1, default: ['nats://127.0.0.1:4222'], description: 'NATS server URLs, nats://host:port or tls://host:port' },
            user: optionalString('user name (with password)'),
            password: optionalString('password of user'),
            token: optionalString('authentication token'),
            credsFile: optionalString('NATS credentials file (JWT + nkey seed)'),
            tls: tlsFiles('NATS'),
            maxBacklogBatches: integer(1, 10_000_000, 10_000, 'summary batches kept while NATS is unreachable; beyond, the oldest are shed'),
            batchMaxFlows: integer(1, 100_000, 500, 'flows and events per summary batch'),
            batchMaxDelayMs: integer(1, 60_000, 250, 'oldest item of a batch waits at most this long'),
            batchMaxEventDelayMs: integer(1, 60_000, 20, 'a client or peer event waits at most this long (detections travel fast)'),
            heartbeatSeconds: integer(1, 3600, 5, 'heartbeat interval'),
          },
        },
        redis: {
          type: 'object',
          additionalProperties: false,
          description: 'absent: no shared blocklist is followed',
          properties: {
            url: { type: 'string', default: 'redis://127.0.0.1:6379', description: 'redis://host:port/db or rediss://host:port/db (TLS)' },
            username: optionalString('ACL user name'),
            password: optionalString('password (of username, or requirepass)'),
            tls: tlsFiles('Redis'),
            snapshotFile: { type: ['string', 'null'], default: '/var/lib/p2pwall/blocklist.snapshot', description: 'last applied blocklist, used at start when Redis is down; null disables' },
          },
        },
      },
    },
  },
};

function isSingleBit(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

function checkSensorConfig(value: unknown): string[] {
  const config = value as SensorConfig;
  const problems: string[] = [];
  for (const key of ['inside', 'protect'] as const) {
    config[key].forEach((cidr, index) => {
      try {
        // A protected host is often one address; an inside network never is.
        if (key === 'inside') parseNetwork(cidr);
        else parseCidr(cidr);
      } catch (error) {
        if (error instanceof CidrError) problems.push(`${key}[${index}]: ${error.message}`);
        else throw error;
      }
    });
  }
  for (const module of protocolModules) {
    const settings = config.detectors[module.name];
    if (module.options && settings) problems.push(...module.options.problems(moduleOptionsOf(settings)).map((problem) => `detectors.${module.name}.${problem}`));
  }
  const numbers = config.queue.numbers;
  if (numbers.some((n, i) => i > 0 && n !== numbers[0]! + i)) problems.push(`queue.numbers: must be consecutive (one queue, or a range for --queue-balance), got [${numbers.join(', ')}]`);
  const { markAccepted, markClean, markPeer } = config.kernel;
  if (!isSingleBit(markAccepted)) problems.push(`kernel.markAccepted: must be a single bit, e.g. 0x10000000, got 0x${markAccepted.toString(16)}`);
  if (!isSingleBit(markClean)) problems.push(`kernel.markClean: must be a single bit, e.g. 0x20000000, got 0x${markClean.toString(16)}`);
  if (!isSingleBit(markPeer)) problems.push(`kernel.markPeer: must be a single bit, e.g. 0x40000000, got 0x${markPeer.toString(16)}`);
  if (markAccepted === markClean) problems.push('kernel.markClean: must differ from kernel.markAccepted');
  if (markPeer === markAccepted || markPeer === markClean) problems.push('kernel.markPeer: must differ from kernel.markAccepted and kernel.markClean');
  try {
    parseEventLetters(config.log.events);
  } catch (error) {
    if (error instanceof EventLettersError) problems.push(`log.events: ${error.message}`);
    else throw error;
  }
  problems.push(...telemetryConfigProblems(config.telemetry));
  if (config.uplink) problems.push(...checkUplink(config.uplink));
  return problems;
}

/** URLs, login and TLS files: the checks every service shares (@p2pwall/common). */
function checkUplink(uplink: UplinkConfig): string[] {
  return [...(uplink.nats ? natsConnectionProblems(uplink.nats, { section: 'uplink.nats' }) : []), ...(uplink.redis ? redisConnectionProblems(uplink.redis, 'uplink.redis') : [])];
}

/** Loads and checks sensor.yaml (undefined: defaults and environment only). Throws ConfigError. */
export function loadSensorConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): SensorConfig {
  return loadConfig<SensorConfig>({ path, schema: SENSOR_CONFIG_SCHEMA, envPrefix: SENSOR_ENV_PREFIX, env, check: checkSensorConfig });
}

export function engineConfigFrom(config: SensorConfig): Partial<EngineConfig> {
  return {
    inside: new CidrSet(config.inside),
    protect: new CidrSet(config.protect),
    modules: activeModules(config.detectors, config.limits.inspectPackets),
    maxPeersPerFlow: config.limits.peersPerFlow,
    maxPeersPerHostPerMinute: config.limits.peersPerHostPerMinute,
    timeLockMs: config.timeLockSeconds * 1000,
    openPorts: config.openPorts,
    dropUdp: config.dropUdp,
    monitor: config.mode === 'monitor',
    peerTtlMs: config.peerTtlSeconds * 1000,
    maxFlows: config.limits.maxFlows,
    maxPeers: config.limits.maxPeers,
    maxClients: config.limits.maxClients,
    maxHosts: config.limits.maxHosts,
    inspectPackets: config.limits.inspectPackets,
    moduleBufferBytes: config.limits.moduleBufferBytes,
    // Interim summaries are for the brain: without a NATS uplink nobody would read them.
    interimMs: config.uplink?.nats ? config.uplink.interimSeconds * 1000 : 0,
  };
}
