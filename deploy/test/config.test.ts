import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRAIN_CONFIG_SCHEMA, loadBrainConfig } from '../../services/brain/src/config.js';
import { SENSOR_CONFIG_SCHEMA, loadSensorConfig } from '../../services/sensor/src/config.js';
import { startContainer, type PodFacts } from './container-command.js';
import { RELEASE, find, offlineChart, render, valuesFile, type Manifest, type OfflineChart } from './helm.js';
import { containers } from './pods.js';

// What the chart renders must start the real services: the sensor container's shell derives the
// gateway id from the node name and execs the sensor with the right queue; the ConfigMaps plus
// the environment the pods get load through the services' own config loaders.

const fullname = `${RELEASE}-p2pwall`;
let chart: OfflineChart;
let rendered: Manifest[];
let dir: string;

beforeAll(async () => {
  chart = await offlineChart();
  dir = await mkdtemp(join(tmpdir(), 'p2pwall-config-'));
  rendered = await render(chart, [
    await valuesFile(chart, 'config', {
      connections: { nats: { auth: { method: 'token', token: 'nats-token-1' } }, redis: { auth: { username: 'p2pwall', password: 'redis #1: secret' } } },
      sensor: {
        sites: [
          { name: 'hq', queues: [4, 5], inside: ['10.1.0.0/16'] },
          { name: 'lab', gatewayName: 'node', mode: 'monitor', failOpen: false, config: { timeLockSeconds: 30 } },
        ],
      },
    }),
  ]);
});
afterAll(async () => {
  await chart?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const secrets = () => rendered.filter((m) => m.kind === 'Secret');
const facts = (nodeName: string): PodFacts => ({ nodeName, hostIP: '192.0.2.10', secrets: secrets() });
const configFile = async (configMap: string, key: string) => {
  const path = join(dir, `${configMap}-${key}`);
  await writeFile(path, (find(rendered, 'ConfigMap', configMap)['data'] as Record<string, string>)[key]!);
  return path;
};
const only = (env: Record<string, string>, prefix: string) => Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith(prefix)));
const schemaKnows = (schema: { properties?: Record<string, unknown> }, ...keys: string[]) => keys.every((key) => key in (schema.properties ?? {}));

describe('the sensor container', () => {
  it('takes the gateway id from the node name up to the first dot, and runs one queue per container', async () => {
    const [first, second] = containers(find(rendered, 'DaemonSet', `${fullname}-sensor-hq`));
    const a = await startContainer(first!, facts('gw-1.hq.example.org'), 'p2pwall-sensor');
    expect(a.argv).toEqual(['run', '--config', '/etc/p2pwall/sensor.yaml', '--queue', '4']);
    expect(a.env['P2PWALL_SENSOR_GATEWAY']).toBe('gw-1');
    const b = await startContainer(second!, facts('gw-1.hq.example.org'), 'p2pwall-sensor');
    expect(b.argv).toEqual(['run', '--config', '/etc/p2pwall/sensor.yaml', '--queue', '5', '--no-rules']);
    expect(b.env['P2PWALL_SENSOR_TELEMETRY__LISTEN__PORT']).toBe('9465');
  });

  it('takes the whole node name, dots turned into dashes, with gatewayName: node', async () => {
    const [container] = containers(find(rendered, 'DaemonSet', `${fullname}-sensor-lab`));
    const started = await startContainer(container!, facts('gw1.lab.example.org'), 'p2pwall-sensor');
    expect(started.env['P2PWALL_SENSOR_GATEWAY']).toBe('gw1-lab-example-org');
  });

  it.skipIf(!schemaKnows(SENSOR_CONFIG_SCHEMA, 'telemetry'))('starts with a configuration the sensor accepts', async () => {
    const [container] = containers(find(rendered, 'DaemonSet', `${fullname}-sensor-hq`));
    const started = await startContainer(container!, facts('gw-1.hq.example.org'), 'p2pwall-sensor');
    const config = loadSensorConfig(await configFile(`${fullname}-sensor-hq`, 'sensor.yaml'), only(started.env, 'P2PWALL_SENSOR_'));
    expect(config).toMatchObject({ site: 'hq', gateway: 'gw-1', inside: ['10.1.0.0/16'], mode: 'enforce', queue: { numbers: [4, 5], failOpen: true }, storefile: '/var/lib/p2pwall/peers.store' });
    expect(config.uplink?.nats).toMatchObject({ servers: ['nats://nats:4222'], token: 'nats-token-1' });
    expect(config.uplink?.redis).toMatchObject({ url: 'redis://redis:6379', username: 'p2pwall', password: 'redis #1: secret', snapshotFile: '/var/lib/p2pwall/blocklist.snapshot' });
    expect(config).toMatchObject({ telemetry: { listen: { host: '192.0.2.10', port: 9464 } } });

    const [labContainer] = containers(find(rendered, 'DaemonSet', `${fullname}-sensor-lab`));
    const labEnv = only((await startContainer(labContainer!, facts('gw1.lab.example.org'), 'p2pwall-sensor')).env, 'P2PWALL_SENSOR_');
    const lab = loadSensorConfig(await configFile(`${fullname}-sensor-lab`, 'sensor.yaml'), labEnv);
    expect(lab).toMatchObject({ site: 'lab', mode: 'monitor', queue: { failOpen: false }, timeLockSeconds: 30 });
  });
});

describe('the brain container', () => {
  it.skipIf(!schemaKnows(BRAIN_CONFIG_SCHEMA, 'telemetry', 'api'))('starts with a configuration the brain accepts', async () => {
    const [container] = containers(find(rendered, 'Deployment', `${fullname}-brain`));
    const env = { ...only((await startContainer({ ...container!, command: ['/bin/sh', '-c', 'exec p2pwall-brain "$@"', 'sh'] }, facts('node-1'), 'p2pwall-brain')).env, 'P2PWALL_BRAIN_') };
    const config = loadBrainConfig(await configFile(`${fullname}-brain`, 'brain.yaml'), env);
    expect(config.nats).toMatchObject({ servers: ['nats://nats:4222'], token: 'nats-token-1' });
    expect(config.redis).toMatchObject({ url: 'redis://redis:6379', username: 'p2pwall', password: 'redis #1: secret' });
    expect(config).toMatchObject({ api: { listen: { port: 8080 }, tokenFiles: { read: '/etc/p2pwall/api-tokens/read', admin: '/etc/p2pwall/api-tokens/admin' } } });
  });
});

if (!schemaKnows(SENSOR_CONFIG_SCHEMA, 'telemetry')) console.warn('config.test.ts: the sensor configuration has no telemetry section yet; its load test is skipped');
if (!schemaKnows(BRAIN_CONFIG_SCHEMA, 'telemetry', 'api')) console.warn('config.test.ts: the brain configuration has no telemetry or api section yet; its load test is skipped');
