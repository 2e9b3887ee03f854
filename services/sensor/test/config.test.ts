import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@p2pwall/common';
import { afterAll, describe, expect, it } from 'vitest';
import { SENSOR_CONFIG_SCHEMA, engineConfigFrom, loadSensorConfig, type SensorConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = fileURLToPath(new URL('../sensor.example.yaml', import.meta.url));

function file(text: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadSensorConfig(file(text), env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('sensor configuration', () => {
  it('fills every default from a minimal file', () => {
    const config = loadSensorConfig(file('site: a\ngateway: g1\n'), {});
    expect(config).toMatchObject({ mode: 'enforce', timeLockSeconds: 120, dropUdp: true, onExit: 'keep', queue: { numbers: [0], binding: 'addon', failOpen: true, maxLength: 16384, whenFull: 'drop', copyRange: 9216, gso: false, connbytes: 8, socketBufferBytes: 64 * 1024 * 1024 } });
    expect(config.inside).toContain('192.168.0.0/16');
  });

  it('the example shows each key with its default, as its header says: its sections written empty load the same', () => {
    const example = loadSensorConfig(EXAMPLE, {});
    // Every section the example shows, written empty: what an operator gets by adding the section.
    const empty = loadSensorConfig(file('site: site-a\ngateway: gw-1\nuplink:\n  nats: {}\n  redis: {}\n'), {});
    expect(empty).toEqual(example);
  });

  it('ships an example that loads and shows every key', () => {
    const example = loadSensorConfig(EXAMPLE, {});
    const keys = (schema: typeof SENSOR_CONFIG_SCHEMA, value: Record<string, unknown>, prefix = ''): string[] =>
      Object.entries(schema.properties ?? {}).flatMap(([key, child]) => {
        expect(value, `${prefix}${key} missing from sensor.example.yaml`).toHaveProperty(key);
        return child.properties ? keys(child, value[key] as Record<string, unknown>, `${prefix}${key}.`) : [key];
      });
    expect(keys(SENSOR_CONFIG_SCHEMA, example as unknown as Record<string, unknown>).length).toBeGreaterThan(20);
    expect(example.kernel.markAccepted).toBe(0x10000000);
  });

  it('names the key of every problem: unknown keys, wrong types, bad CIDRs, missing keys', () => {
    expect(problems('site: a\ngateway: g\nqueue:\n  conbytes: 4\n')).toEqual(['queue.conbytes: unknown key']);
    expect(problems('site: a\ngateway: g\ntimeLockSeconds: soon\n')).toEqual(['timeLockSeconds: must be integer, got "soon"']);
    expect(problems('site: a\ngateway: g\ninside: [192.168.0.0/16, 10.0.0.0/40]\n')).toEqual(['inside[1]: "10.0.0.0/40" has an invalid prefix length (0 to 32)']);
    // A bare address as an inside network is a slip for a network, not a single host: both readings are named.
    expect(problems('site: a\ngateway: g\ninside: [192.168.1.0]\nprotect: [192.168.1.53]\n')).toEqual([
      'inside[0]: "192.168.1.0" has no prefix length: write the network with one, e.g. 192.168.1.0/24 (a single host is 192.168.1.0/32)',
    ]);
    expect(problems('gateway: g\n')).toEqual(['site: required']);
    expect(problems('site: A b\ngateway: g\n')[0]).toMatch(/^site: must match pattern/);
    expect(problems('site: a\ngateway: g\nmode: block\n')).toEqual(['mode: must be one of "enforce", "monitor", got "block"']);
    expect(problems('site: a\ngateway: g\nqueue:\n  numbers: [0, 2]\n')[0]).toMatch(/^queue.numbers: must be consecutive/);
    expect(problems('site: a\ngateway: g\nkernel:\n  markClean: 3\n')[0]).toMatch(/^kernel.markClean: must be a single bit/);
    expect(problems('site: a\ngateway: g\nqueue:\n  socketBufferBytes: 65536\n')[0]).toMatch(/^queue.socketBufferBytes: must be >= 8388608/);
    expect(problems('site: a\ngateway: g\nqueue:\n  binding: libnfq\n')).toEqual(['queue.binding: must be one of "addon", "nfqueue", got "libnfq"']);
    expect(problems('site: a\ngateway: g\nqueue:\n  whenFull: bypass\n')).toEqual(['queue.whenFull: must be one of "accept", "drop", got "bypass"']);
    expect(problems('site: a\ngateway: g\nqueue:\n  copyRange: 40\n')[0]).toMatch(/^queue.copyRange: must be >= 128/);
    expect(problems('site: a\ngateway: g\nlog:\n  events: cz\n')[0]).toMatch(/^log.events: "z" is not an event letter/);
  });

  it('lets the environment override any key, with values read as YAML', () => {
    const config = loadSensorConfig(file('site: a\ngateway: g\n'), {
      P2PWALL_SENSOR_QUEUE__CONNBYTES: '4',
      P2PWALL_SENSOR_MODE: 'monitor',
      P2PWALL_SENSOR_TIME_LOCK_SECONDS: '0',
      P2PWALL_SENSOR_INSIDE: '[10.9.0.0/16]',
      P2PWALL_SENSOR_STOREFILE: 'null',
      UNRELATED: 'x',
    });
    expect(config).toMatchObject<Partial<SensorConfig>>({ mode: 'monitor', timeLockSeconds: 0, inside: ['10.9.0.0/16'], storefile: null });
    expect(config.queue.connbytes).toBe(4);
    expect(problems('site: a\ngateway: g\n', { P2PWALL_SENSOR_QUEUE__DEPTH: '1' })).toEqual(['P2PWALL_SENSOR_QUEUE__DEPTH: no configuration key queue.depth']);
  });

  it('reads the optional uplink section: absent means standalone; URLs and files are checked', () => {
    expect(loadSensorConfig(file('site: a\ngateway: g\n'), {}).uplink).toBeUndefined();
    const config = loadSensorConfig(file('site: a\ngateway: g\nuplink:\n  nats:\n    servers: [nats://127.0.0.1:4222]\n'), { P2PWALL_SENSOR_UPLINK__REDIS__URL: 'redis://r:6379' });
    expect(config.uplink?.nats).toMatchObject({ maxBacklogBatches: 10_000, batchMaxFlows: 500, batchMaxDelayMs: 250, heartbeatSeconds: 5, credsFile: null, tls: { ca: null } });
    expect(config.uplink?.redis).toMatchObject({ url: 'redis://r:6379', snapshotFile: '/var/lib/p2pwall/blocklist.snapshot' });
    expect(config.uplink?.interimSeconds).toBe(10);
    expect(problems('site: a\ngateway: g\nuplink:\n  nats:\n    servers: [http://x:1, "nats://"]\n    credsFile: /nonexistent.creds\n  redis:\n    url: nope\n    tls:\n      ca: /nonexistent.pem\n')).toEqual([
      'uplink.nats.servers[0]: "http://x:1" must use nats:// or tls://',
      'uplink.nats.servers[1]: "nats://" names no host',
      'uplink.nats.credsFile: file not found: /nonexistent.creds',
      'uplink.redis.url: "nope" is not a URL (redis://host:port)',
      'uplink.redis.tls.ca: file not found: /nonexistent.pem',
    ]);
    expect(problems('site: a\ngateway: g\nuplink:\n  nats:\n    servers: [n:4222]\n    user: u\n')).toEqual(['uplink.nats.password: user and password go together']);
    // An empty half takes the local default, as the example shows (and as nats and redis clients do).
    expect(loadSensorConfig(file('site: a\ngateway: g\nuplink:\n  redis: {}\n'), {}).uplink).toMatchObject({ redis: { url: 'redis://127.0.0.1:6379' } });
  });

  it('turns interim flow summaries on only for a sensor that publishes to NATS', () => {
    const withNats = 'site: a\ngateway: g\nuplink:\n  nats:\n    servers: [nats://127.0.0.1:4222]\n';
    expect(engineConfigFrom(loadSensorConfig(file(withNats), {})).interimMs).toBe(10_000);
    expect(engineConfigFrom(loadSensorConfig(file(`${withNats}  interimSeconds: 3\n`), {})).interimMs).toBe(3000);
    expect(engineConfigFrom(loadSensorConfig(file(withNats), { P2PWALL_SENSOR_UPLINK__INTERIM_SECONDS: '0' })).interimMs).toBe(0);
    expect(engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g\n'), {})).interimMs).toBe(0);
    expect(engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g\nuplink:\n  redis:\n    url: redis://r:6379\n'), {})).interimMs).toBe(0);
    expect(problems(`${withNats}  interimSeconds: -1\n`)).toEqual(['uplink.interimSeconds: must be >= 0 (got -1)']);
  });

  it('reads the telemetry section: defaults, a port per process from the environment, a checked OTLP endpoint', () => {
    expect(loadSensorConfig(file('site: a\ngateway: g\n'), {}).telemetry).toEqual({ enabled: true, listen: { host: '127.0.0.1', port: 9464 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } });
    const second = loadSensorConfig(file('site: a\ngateway: g\n'), { P2PWALL_SENSOR_TELEMETRY__LISTEN__PORT: '9465', P2PWALL_SENSOR_TELEMETRY__OTLP__ENDPOINT: 'http://collector:4318' });
    expect(second.telemetry).toMatchObject({ listen: { port: 9465 }, otlp: { endpoint: 'http://collector:4318' } });
    expect(problems('site: a\ngateway: g\ntelemetry:\n  otlp:\n    endpoint: ftp://x\n')).toEqual(['telemetry.otlp.endpoint: must be an http:// or https:// URL, got "ftp://x"']);
    expect(problems('site: a\ngateway: g\ntelemetry:\n  listen:\n    port: 70000\n')[0]).toMatch(/^telemetry.listen.port: must be <= 65535/);
    expect(problems('site: a\ngateway: g\ntelemetry:\n  prometheus: true\n')).toEqual(['telemetry.prometheus: unknown key']);
  });

  it('refuses a missing file, invalid YAML and a file that is not a mapping', () => {
    expect(() => loadSensorConfig(join(dir, 'absent.yaml'), {})).toThrow(/absent\.yaml: file not found/);
    expect(problems('site: [unclosed\n')[0]).toMatch(/^not valid YAML/);
    expect(problems('- a\n- b\n')[0]).toMatch(/must hold a mapping/);
  });
});

describe('protocol modules and trust settings', () => {
  it('runs every module by default, and takes enabled and inspectPackets per protocol', () => {
    const defaults = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\n'), {}));
    // Highest priority first: BitTorrent (20), Gnutella (15), eDonkey (12), Soulseek (11), FastTrack (10), Direct Connect (9), DNS names (0).
    expect(defaults.modules!.map((active) => [active.module.name, active.inspectPackets])).toEqual([
      ['bittorrent', 16],
      ['gnutella', 16],
      ['edonkey', 16],
      ['soulseek', 16],
      ['fasttrack', 16],
      ['direct-connect', 16],
      ['dns', 16],
    ]);
    const deeper = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\ndetectors:\n  fasttrack:\n    inspectPackets: 4\n  bittorrent:\n    inspectPackets: 8\n'), {}));
    expect(deeper.modules!.map((active) => active.inspectPackets)).toEqual([8, 16, 16, 16, 4, 16, 16]);
    const off = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\n'), { P2PWALL_SENSOR_DETECTORS__FASTTRACK__ENABLED: 'false' }));
    expect(off.modules!.map((active) => active.module.name)).toEqual(['bittorrent', 'gnutella', 'edonkey', 'soulseek', 'direct-connect', 'dns']);
    // A dashed protocol name is spelled with underscores in an environment variable.
    const dashed = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\n'), { P2PWALL_SENSOR_DETECTORS__DIRECT_CONNECT__ENABLED: 'false' }));
    expect(dashed.modules!.map((active) => active.module.name)).not.toContain('direct-connect');
    expect(dashed.modules).toHaveLength(6);
    const none = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\ndetectors:\n  bittorrent:\n    enabled: false\n  gnutella:\n    enabled: false\n  edonkey:\n    enabled: false\n  soulseek:\n    enabled: false\n  direct-connect:\n    enabled: false\n  dns:\n    enabled: false\n'), { P2PWALL_SENSOR_DETECTORS__FASTTRACK__ENABLED: 'false' }));
    expect(none.modules).toEqual([]);
  });

  it('caps a module’s depth by limits.inspectPackets', () => {
    const capped = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\nlimits:\n  inspectPackets: 3\n'), {}));
    expect(capped.modules!.map((active) => active.inspectPackets)).toEqual([3, 3, 3, 3, 3, 3, 3]);
  });

  it('gives the engine limits.moduleBufferBytes, 32 MiB unless set', () => {
    expect(engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\n'), {})).moduleBufferBytes).toBe(32 * 1024 * 1024);
    expect(engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\n'), { P2PWALL_SENSOR_LIMITS__MODULE_BUFFER_BYTES: '1048576' })).moduleBufferBytes).toBe(1_048_576);
    expect(problems('site: a\ngateway: g1\nlimits:\n  moduleBufferBytes: -1\n')).toHaveLength(1);
  });

  it('refuses an unknown protocol name, naming the key', () => {
    expect(problems('site: a\ngateway: g1\ndetectors:\n  napster:\n    enabled: true\n')).toEqual(['detectors.napster: unknown key']);
    expect(problems('site: a\ngateway: g1\ndetectors:\n  fasttrack:\n    depth: 3\n')).toEqual(['detectors.fasttrack.depth: unknown key']);
  });

  it('takes protect: networks, refusing a bad one by index', () => {
    const config = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\nprotect:\n  - 198.51.100.53/32\n  - 2001:db8::53/128\n'), {}));
    expect(config.protect!.containsBytes(Uint8Array.of(198, 51, 100, 53))).toBe(true);
    expect(config.protect!.containsBytes(Uint8Array.of(198, 51, 100, 54))).toBe(false);
    expect(problems('site: a\ngateway: g1\nprotect:\n  - 198.51.100.53/33\n')).toEqual([expect.stringMatching(/^protect\[0\]: /)]);
  });

  it('takes the peer caps', () => {
    const config = engineConfigFrom(loadSensorConfig(file('site: a\ngateway: g1\nlimits:\n  peersPerFlow: 10\n  peersPerHostPerMinute: 50\n'), {}));
    expect(config).toMatchObject({ maxPeersPerFlow: 10, maxPeersPerHostPerMinute: 50 });
  });
});
