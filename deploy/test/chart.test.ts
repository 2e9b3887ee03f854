import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { sensorNatsPermissions, STREAMS, SUBJECTS } from '@p2pwall/common';
import { startNats } from '@p2pwall/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BRAIN_CONFIG_SCHEMA, loadBrainConfig } from '../../services/brain/src/config.js';
import { CHART, MULTI_SITE_VALUES, NAMESPACE, RELEASE, find, helm, offlineChart, render, valuesFile, type Manifest, type OfflineChart } from './helm.js';
import { schemaProblems, unknownFieldProblems } from './kube-schemas.js';
import { containers, podSpec, type Container } from './pods.js';

// The chart renders offline with default values and with the multi-site example; every rendered
// object is checked against the Kubernetes API schemas, and the security posture (sensor: only
// the capabilities it needs; brain: non-root) is asserted on what helm actually printed.

let chart: OfflineChart;
let defaults: Manifest[];
let multiSite: Manifest[];

beforeAll(async () => {
  chart = await offlineChart();
  [defaults, multiSite] = await Promise.all([render(chart), render(chart, [MULTI_SITE_VALUES])]);
});
afterAll(async () => {
  await chart?.remove();
});

const fullname = `${RELEASE}-p2pwall`;
const kinds = (manifests: Manifest[]) => manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort();
const configOf = (manifests: Manifest[], name: string, key: string): Record<string, unknown> =>
  parse((find(manifests, 'ConfigMap', name)['data'] as Record<string, string>)[key]!) as Record<string, unknown>;

describe('Chart.yaml', () => {
  it('declares the official NATS chart as a dependency that only nats.enabled turns on', async () => {
    const declared = parse(await readFile(join(CHART, 'Chart.yaml'), 'utf8')) as { dependencies: Array<Record<string, string>> };
    expect(declared.dependencies).toEqual([
      { name: 'nats', version: expect.stringMatching(/^\^1\./) as unknown, repository: 'https://nats-io.github.io/k8s/helm/charts/', condition: 'nats.enabled' },
    ]);
    const values = parse(await readFile(join(CHART, 'values.yaml'), 'utf8')) as { nats: { enabled: boolean; config: { jetstream: { enabled: boolean } } } };
    expect(values.nats.enabled).toBe(false);
    expect(values.nats.config.jetstream.enabled).toBe(true);
  });
});

describe('values.schema.json', () => {
  it('types and describes every value of values.yaml, closing every object the chart owns', async () => {
    interface Schema { description?: string; additionalProperties?: unknown; properties?: Record<string, Schema>; items?: Schema }
    const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
    const values = parse(await readFile(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const problems: string[] = [];
    // Every value set in values.yaml has a schema entry with a description, down to the leaves
    // (free-form maps such as sensor.config are typed as objects and described once).
    const walk = (value: unknown, node: Schema | undefined, path: string) => {
      if (!node) return void problems.push(`${path}: not in the schema`);
      if (!node.description && path !== '') problems.push(`${path}: no description`);
      if (Array.isArray(value)) value.forEach((item, index) => node.items && walk(item, node.items, `${path}[${index}]`));
      else if (value && typeof value === 'object' && node.properties) {
        if (node.additionalProperties !== false && path !== 'nats') problems.push(`${path}: open to unknown keys`);
        for (const [key, child] of Object.entries(value)) {
          // Under nats, only `enabled` is this chart's: the rest belongs to the NATS chart.
          if (path === 'nats' && key !== 'enabled') continue;
          walk(child, node.properties[key], path ? `${path}.${key}` : key);
        }
      }
    };
    walk(values, schema, '');
    expect(problems).toEqual([]);
  });
});

describe('helm lint', () => {
  it('passes on the chart as it is, warning only that the NATS dependency is not fetched', async () => {
    const result = await helm(['lint', CHART], chart.home);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const warnings = result.stdout.split('\n').filter((line) => /\[(WARNING|ERROR)\]/.test(line));
    expect(warnings).toEqual([expect.stringContaining('chart directory is missing these dependencies: nats')]);
  });

  it.each([
    ['default values', []],
    ['the multi-site example', [MULTI_SITE_VALUES]],
  ])('passes --strict with %s', async (_name, files: string[]) => {
    const result = await helm(['lint', '--strict', chart.dir, ...files.flatMap((file) => ['-f', file])], chart.home);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });
});

describe('rendered with default values', () => {
  it('holds one sensor site, the brain with its Service, tokens and disruption budget, and the test pod', () => {
    expect(kinds(defaults)).toEqual(
      [
        `ConfigMap/${fullname}-brain`,
        `ConfigMap/${fullname}-sensor-default`,
        `DaemonSet/${fullname}-sensor-default`,
        `Deployment/${fullname}-brain`,
        `Pod/${fullname}-test`,
        `PodDisruptionBudget/${fullname}-brain`,
        `Secret/${fullname}-api-tokens`,
        `Service/${fullname}-brain`,
      ].sort(),
    );
  });

  it('validates against the Kubernetes API schemas, with no unknown field', () => {
    expect(schemaProblems(defaults)).toEqual([]);
    expect(unknownFieldProblems(defaults)).toEqual([]);
  });

  it('generates API tokens when none are given', () => {
    const data = find(defaults, 'Secret', `${fullname}-api-tokens`)['data'] as Record<string, string>;
    for (const role of ['read', 'admin']) expect(Buffer.from(data[role]!, 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}\n$/);
  });
});

describe('rendered with the multi-site example', () => {
  it('holds one DaemonSet and one ConfigMap per site, and both monitors', () => {
    const daemonSets = multiSite.filter((m) => m.kind === 'DaemonSet').map((m) => m.metadata.name);
    expect(daemonSets.sort()).toEqual([`${fullname}-sensor-branch-1`, `${fullname}-sensor-hq`, `${fullname}-sensor-lab`]);
    expect(kinds(multiSite)).toEqual(expect.arrayContaining([`ServiceMonitor/${fullname}-brain`, `PodMonitor/${fullname}-sensor`]));
    // Credentials come from the operator's Secrets: the chart makes none.
    expect(multiSite.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  it('validates against the Kubernetes API schemas and the prometheus-operator CRDs, with no unknown field', () => {
    expect(schemaProblems(multiSite)).toEqual([]);
    expect(unknownFieldProblems(multiSite)).toEqual([]);
  });

  it('puts each site on its own gateways with its own settings', () => {
    const spec = (site: string) => podSpec(find(multiSite, 'DaemonSet', `${fullname}-sensor-${site}`));
    expect(spec('hq')['nodeSelector']).toEqual({ 'p2pwall.io/site': 'hq', 'p2pwall.io/gateway': 'true' });
    expect(spec('lab')['nodeSelector']).toEqual({ 'topology.example.org/site': 'lab', 'node-role.example.org/gateway': '' });
    expect(spec('branch-1')['tolerations']).toEqual([{ key: 'p2pwall.io/gateway', operator: 'Exists', effect: 'NoSchedule' }]);

    const hq = configOf(multiSite, `${fullname}-sensor-hq`, 'sensor.yaml');
    expect(hq).toMatchObject({ site: 'hq', inside: ['10.1.0.0/16', 'fd00:1::/48'], mode: 'enforce', onExit: 'keep', queue: { numbers: [0, 1], failOpen: true }, timeLockSeconds: 300 });
    expect(hq).not.toHaveProperty('gateway');
    expect(configOf(multiSite, `${fullname}-sensor-branch-1`, 'sensor.yaml')).toMatchObject({ site: 'branch-1', mode: 'monitor', onExit: 'remove' });
    const lab = configOf(multiSite, `${fullname}-sensor-lab`, 'sensor.yaml');
    expect(lab).toMatchObject({ site: 'lab', queue: { failOpen: false }, openPorts: [53, 80, 443, 123, 22] });
    expect((lab['uplink'] as { nats: Record<string, unknown> }).nats).toMatchObject({ credsFile: '/etc/p2pwall/nats/creds' });
  });

  it('runs one sensor container per queue, each on its own telemetry port, the first one managing the rules', () => {
    const hq = containers(find(multiSite, 'DaemonSet', `${fullname}-sensor-hq`));
    expect(hq.map((c) => c.name)).toEqual(['sensor-q0', 'sensor-q1']);
    expect(hq.map((c) => c.ports?.[0]?.containerPort)).toEqual([9464, 9465]);
    expect(hq.map((c) => env(c, 'P2PWALL_SENSOR_TELEMETRY__LISTEN__PORT'))).toEqual(['9464', '9465']);
    expect(hq[0]!.args?.[0]).toMatch(/--queue 0\n?$/);
    expect(hq[1]!.args?.[0]).toMatch(/--queue 1 --no-rules\n?$/);
  });

  it('gives the lab site its own NATS credentials and every site the shared Redis password', () => {
    const lab = podSpec(find(multiSite, 'DaemonSet', `${fullname}-sensor-lab`));
    expect(lab['volumes']).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'nats-creds', secret: expect.objectContaining({ secretName: 'p2pwall-nats-lab' }) as unknown })]));
    const hq = containers(find(multiSite, 'DaemonSet', `${fullname}-sensor-hq`))[0]!;
    expect(hq.env).toEqual(
      expect.arrayContaining([
        { name: 'P2PWALL_SENSOR_UPLINK__NATS__PASSWORD', valueFrom: { secretKeyRef: { name: 'p2pwall-nats', key: 'nats-password' } } },
        { name: 'P2PWALL_SENSOR_UPLINK__REDIS__PASSWORD', valueFrom: { secretKeyRef: { name: 'p2pwall-redis', key: 'redis-password' } } },
      ]),
    );
  });
});

const env = (container: Container, name: string) => container.env?.find((e) => e.name === name)?.value;

describe('security posture', () => {
  const sensorContainers = (manifests: Manifest[]) => manifests.filter((m) => m.kind === 'DaemonSet').flatMap(containers);

  // Both needed and enough: deploy/test/capabilities.test.ts proves it on the kernel.
  it('grants the sensor NET_ADMIN and NET_RAW only: not privileged, no escalation, every other capability dropped', () => {
    const all = [...sensorContainers(defaults), ...sensorContainers(multiSite)];
    expect(all.length).toBe(5);
    for (const container of all) {
      expect(container.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] } });
    }
    for (const daemonSet of [...defaults, ...multiSite].filter((m) => m.kind === 'DaemonSet')) {
      const spec = podSpec(daemonSet);
      expect(spec).toMatchObject({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet', automountServiceAccountToken: false });
      for (const field of ['hostPID', 'hostIPC']) expect(spec).not.toHaveProperty(field);
      expect(JSON.stringify(spec)).not.toContain('"privileged":true');
    }
  });

  it('switches to legacy iptables, sharing the host xtables lock, with no more capabilities', async () => {
    const legacy = await render(chart, [await valuesFile(chart, 'legacy', { sensor: { iptablesBackend: 'legacy' } })]);
    const [container] = sensorContainers(legacy);
    expect(container!.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
    expect(container!.volumeMounts).toEqual(expect.arrayContaining([{ name: 'xtables-lock', mountPath: '/run/xtables.lock' }]));
    expect(env(container!, 'PATH')).toMatch(/^\/usr\/local\/lib\/p2pwall\/iptables-legacy:/);
    expect(schemaProblems(legacy)).toEqual([]);
    const [nft] = sensorContainers(defaults);
    expect(nft!.volumeMounts?.map((m) => m.name)).not.toContain('xtables-lock');
    expect(env(nft!, 'PATH')).toBeUndefined();
  });

  it('runs the brain and the test pod as a non-root numeric user, with no capability', async () => {
    const dockerfile = await readFile(join(CHART, '../../../services/brain/Dockerfile'), 'utf8');
    const imageUser = Number(/^USER\s+(\d+)/m.exec(dockerfile)?.[1]);
    for (const manifest of [...defaults, ...multiSite].filter((m) => m.kind === 'Deployment' || m.kind === 'Pod')) {
      const spec = podSpec(manifest);
      expect(spec['securityContext'], manifest.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: imageUser });
      expect(imageUser).toBeGreaterThan(0);
      for (const container of containers(manifest)) {
        expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(container.securityContext?.capabilities).not.toHaveProperty('add');
        expect(container.securityContext?.runAsUser ?? imageUser).toBeGreaterThan(0);
      }
    }
  });

  it('keeps inline credentials out of every ConfigMap: they travel in a Secret, by environment', async () => {
    const inline = await render(chart, [
      await valuesFile(chart, 'inline', {
        connections: { nats: { auth: { method: 'token', token: 'nats-token-8d1f' } }, redis: { auth: { password: 'redis-pass-77c2' } } },
        brain: { api: { tokens: { read: ['read-token-aaaaaaaa', 'read-token-bbbbbbbb'], admin: ['admin-token-cccccccc'] } } },
      }),
    ]);
    for (const configMap of inline.filter((m) => m.kind === 'ConfigMap')) {
      expect(JSON.stringify(configMap)).not.toMatch(/nats-token-8d1f|redis-pass-77c2|read-token|admin-token/);
    }
    const secret = find(inline, 'Secret', `${fullname}-connections`);
    expect(secret['stringData']).toEqual({ 'nats-token': 'nats-token-8d1f', 'redis-password': 'redis-pass-77c2' });
    const tokens = find(inline, 'Secret', `${fullname}-api-tokens`)['data'] as Record<string, string>;
    expect(Buffer.from(tokens['read']!, 'base64').toString()).toBe('read-token-aaaaaaaa\nread-token-bbbbbbbb\n');
    const brain = containers(find(inline, 'Deployment', `${fullname}-brain`))[0]!;
    expect(brain.env).toEqual([
      { name: 'P2PWALL_BRAIN_NATS__TOKEN', valueFrom: { secretKeyRef: { name: `${fullname}-connections`, key: 'nats-token' } } },
      { name: 'P2PWALL_BRAIN_REDIS__PASSWORD', valueFrom: { secretKeyRef: { name: `${fullname}-connections`, key: 'redis-password' } } },
    ]);
    expect(schemaProblems(inline)).toEqual([]);
  });
});

describe('partial releases', () => {
  it('renders only the sensors for a site whose brain runs in another cluster, and only the brain without sensors', async () => {
    const sensorsOnly = await render(chart, [await valuesFile(chart, 'sensors-only', { brain: { enabled: false } })]);
    expect(kinds(sensorsOnly)).toEqual([`ConfigMap/${fullname}-sensor-default`, `DaemonSet/${fullname}-sensor-default`]);
    const brainOnly = await render(chart, [await valuesFile(chart, 'brain-only', { sensor: { enabled: false } })]);
    expect(brainOnly.map((m) => m.kind)).not.toContain('DaemonSet');
    expect(brainOnly.map((m) => m.kind)).toContain('Deployment');
    expect(schemaProblems([...sensorsOnly, ...brainOnly])).toEqual([]);
  });
});

describe('NATS', () => {
  it('uses the bundled NATS Service when nats.enabled', async () => {
    const bundled = await render(chart, [await valuesFile(chart, 'bundled', { nats: { enabled: true } })]);
    const expected = [`nats://${RELEASE}-nats.${NAMESPACE}.svc:4222`];
    expect((configOf(bundled, `${fullname}-brain`, 'brain.yaml')['nats'] as { servers: string[] }).servers).toEqual(expected);
    expect((configOf(bundled, `${fullname}-sensor-default`, 'sensor.yaml')['uplink'] as { nats: { servers: string[] } }).nats.servers).toEqual(expected);
  });
});

describe('bad values are refused with the key to fix', () => {
  it.each([
    ['a site name that cannot be a subject token', { sensor: { sites: [{ name: 'Site_A' }] } }, /sensor\.sites\.0\.name: Does not match pattern/],
    ['an unknown key', { sensor: { queues: [0] } }, /sensor: Additional property queues is not allowed/],
    ['an inside network that is no CIDR', { sensor: { siteDefaults: { inside: ['10.0.0.0'] } } }, /inside\.0: Does not match pattern/],
    ['an IPv4 prefix length beyond 32', { sensor: { siteDefaults: { inside: ['10.1.0.0/33'] } } }, /inside\.0: Does not match pattern/],
    ['an IPv4 octet beyond 255', { sensor: { siteDefaults: { inside: ['10.256.0.0/16'] } } }, /inside\.0: Does not match pattern/],
    ['an IPv6 prefix length beyond 128', { sensor: { siteDefaults: { inside: ['fd00::/129'] } } }, /inside\.0: Does not match pattern/],
    ['password auth without a user', { connections: { nats: { auth: { method: 'password', password: 'x' } } } }, /connections\.nats\.auth\.user is required/],
    ['token auth without a token', { connections: { nats: { auth: { method: 'token' } } } }, /needs existingSecret or token/],
    ['Redis TLS on a redis:// url', { connections: { redis: { tls: { enabled: true, existingSecret: 'ca' } } } }, /must start with rediss:\/\//],
    ['a site with inline credentials', { sensor: { sites: [{ name: 'a', connections: { nats: { auth: { password: 'x' } } } }] } }, /Additional property password is not allowed/],
  ])('%s', async (_name, values, message) => {
    await expect(render(chart, [await valuesFile(chart, 'bad', values)])).rejects.toThrow(message);
  });
});

describe('the manifest checks themselves', () => {
  it('catch a misspelt field, a wrong type and a kind without a schema', () => {
    const daemonSet = structuredClone(find(defaults, 'DaemonSet', `${fullname}-sensor-default`));
    const container = containers(daemonSet)[0]! as unknown as Record<string, unknown>;
    container['securityContxt'] = container['securityContext'];
    expect(unknownFieldProblems([daemonSet])).toEqual([expect.stringMatching(/^DaemonSet\/edge-p2pwall-sensor-default: .*'"?securityContxt"?' does not exist/)]);
    container['ports'] = [{ containerPort: '9464' }];
    expect(schemaProblems([daemonSet])).toEqual([expect.stringContaining('containerPort must be integer')]);
    expect(schemaProblems([{ apiVersion: 'example.org/v1', kind: 'Widget', metadata: { name: 'w' } }])).toEqual(['Widget/w: no schema for example.org/v1/Widget']);
  });
});

describe('NOTES.txt', () => {
  // helm template leaves NOTES.txt out, and prints only YAML: in a private chart copy, the notes
  // become a named template that a YAML document quotes.
  async function notes(valueFiles: string[]): Promise<string> {
    const copy = await offlineChart();
    try {
      const text = await readFile(join(copy.dir, 'templates/NOTES.txt'), 'utf8');
      await writeFile(join(copy.dir, 'templates/_notes-for-test.tpl'), `{{- define "test.notes" -}}\n${text}{{- end -}}\n`);
      await writeFile(join(copy.dir, 'templates/notes-for-test.yaml'), 'notes: |\n{{ include "test.notes" . | indent 2 }}\n');
      const result = await helm(['template', RELEASE, copy.dir, '--namespace', NAMESPACE, '--show-only', 'templates/notes-for-test.yaml', ...valueFiles.flatMap((f) => ['-f', f])], copy.home);
      expect(result.code, result.stderr).toBe(0);
      return (parse(result.stdout) as { notes: string }).notes;
    } finally {
      await copy.remove();
    }
  }

  it('tells the operator how to place the sensors, read the tokens, and run helm test', async () => {
    const text = await notes([]);
    expect(text).toContain('kubectl label node <gateway-node> p2pwall.io/site=default p2pwall.io/gateway=true');
    expect(text).toContain(`kubectl -n ${NAMESPACE} get secret ${fullname}-api-tokens -o jsonpath='{.data.read}' | base64 -d`);
    expect(text).toContain(`helm test ${RELEASE} -n ${NAMESPACE} --logs`);
    // The token file may start with a # comment: the CLI reads it, never `head -n 1`.
    expect(text).toContain(`P2PWALL_TOKEN_FILE=/etc/p2pwall/api-tokens/read p2pwall sensors`);
    expect(text).not.toMatch(/head -n 1/);
    expect(text).toMatch(/WARNING: nats:\/\/nats:4222 is the chart's default/);
    expect(text).toMatch(/WARNING: redis:\/\/redis:6379 is the chart's default/);
    // the incident history lives only in Redis (issue 14 §5)
    expect(text).toContain('Redis must run with appendonly yes (AOF) on a persistent volume: the incident history lives only there.');
  });

  it('warns when the operator says Redis keeps no data (connections.redis.persistence: none), and refuses anything but aof or none', async () => {
    const none = await valuesFile(chart, 'redis-none', { connections: { redis: { persistence: 'none' } } });
    expect(await notes([none])).toContain('WARNING: connections.redis.persistence is none: every Redis restart loses the incident history');
    await expect(render(chart, [await valuesFile(chart, 'redis-rdb', { connections: { redis: { persistence: 'rdb' } } })])).rejects.toThrow(/persistence/);
  });

  it('lists every site with its failure policy for the multi-site example', async () => {
    const text = await notes([MULTI_SITE_VALUES]);
    expect(text).toContain('site hq (enforce, queues 0,1, fail-open, onExit keep)');
    expect(text).toContain('site lab (enforce, queues 0, fail-CLOSED, onExit keep)');
    expect(text).toContain('nodes matching {"node-role.example.org/gateway":"","topology.example.org/site":"lab"}');
    expect(text).toContain('API tokens come from your Secret "p2pwall-api-tokens"');
    expect(text).not.toContain('WARNING');
  });
});

describe('the brain API: TLS from a Secret, and api.limits', () => {
  const tlsValues = { brain: { api: { tls: { enabled: true, existingSecret: 'api-cert', keys: { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } }, limits: { maxConcurrent: 8, perTokenPerSecond: 2.5, perTokenBurst: 5, requestTimeoutSeconds: 30 } } } };

  it('serves HTTPS from the Secret: brain.yaml names the mounted files, the probe and helm test speak HTTPS and trust the CA', async () => {
    const manifests = await render(chart, [await valuesFile(chart, 'api-tls', tlsValues)]);
    expect(schemaProblems(manifests)).toEqual([]);
    const api = configOf(manifests, `${fullname}-brain`, 'brain.yaml')['api'] as Record<string, unknown>;
    expect(api['tls']).toEqual({ cert: '/etc/p2pwall/tls/api/tls.crt', key: '/etc/p2pwall/tls/api/tls.key' });
    expect(api['limits']).toEqual(tlsValues.brain.api.limits);
    const deployment = find(manifests, 'Deployment', `${fullname}-brain`);
    const [brain] = containers(deployment) as (Container & { readinessProbe: { httpGet: { scheme?: string } }; volumeMounts: { name: string; mountPath: string }[] })[];
    expect(brain!.readinessProbe.httpGet.scheme).toBe('HTTPS');
    expect(brain!.volumeMounts).toContainEqual(expect.objectContaining({ name: 'api-tls', mountPath: '/etc/p2pwall/tls/api' }));
    const volumes = podSpec(deployment)['volumes'] as { name: string; secret?: { secretName: string; items: unknown[] } }[];
    expect(volumes.find((v) => v.name === 'api-tls')?.secret).toMatchObject({ secretName: 'api-cert', items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] });
    const testPod = find(manifests, 'Pod', `${fullname}-test`);
    const env = (containers(testPod)[0] as unknown as { env: { name: string; value: string }[] }).env;
    expect(env).toEqual([{ name: 'P2PWALL_URL', value: `https://${fullname}-brain.${NAMESPACE}.svc:8080` }, { name: 'NODE_EXTRA_CA_CERTS', value: '/etc/p2pwall/api-ca/ca.crt' }]);
  });

  it('by default: plain HTTP, and the brain\'s own default limits', () => {
    const api = configOf(defaults, `${fullname}-brain`, 'brain.yaml')['api'] as Record<string, unknown>;
    expect(api['tls']).toBeUndefined();
    expect(api['limits']).toEqual(loadBrainConfig(undefined, {}).api.limits);
    const [brain] = containers(find(defaults, 'Deployment', `${fullname}-brain`)) as (Container & { readinessProbe: { httpGet: { scheme?: string } } })[];
    expect(brain!.readinessProbe.httpGet.scheme).toBeUndefined();
  });

  it('types brain.api.limits in values.schema.json exactly as the brain\'s config schema does', async () => {
    interface Node { type?: unknown; minimum?: number; maximum?: number; properties?: Record<string, Node> }
    const chartSchema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as Node;
    const chartLimits = chartSchema.properties!['brain']!.properties!['api']!.properties!['limits']!.properties!;
    const brainLimits = (BRAIN_CONFIG_SCHEMA as Node).properties!['api']!.properties!['limits']!.properties!;
    const shape = (nodes: Record<string, Node>) => Object.fromEntries(Object.entries(nodes).map(([key, n]) => [key, { type: n.type, minimum: n.minimum, maximum: n.maximum }]));
    expect(shape(chartLimits)).toEqual(shape(brainLimits));
  });

  it.each([
    ['TLS without the Secret', { brain: { api: { tls: { enabled: true } } } }, /brain\.api\.tls\.existingSecret: name the Secret/],
    ['a limit out of the brain\'s range', { brain: { api: { limits: { maxConcurrent: 0 } } } }, /maxConcurrent: Must be greater than or equal to 1/],
  ])('refuses %s', async (_name, values, message) => {
    await expect(render(chart, [await valuesFile(chart, 'bad-api', values)])).rejects.toThrow(message);
  });
});

describe('natsAuthorization: one NATS user per sensor', () => {
  const HASHES = {
    brain: '$2b$04$LLFm.I5q6lXoxtowaz670uykxKI4twGAa7.Ius/FBHkLOKENgG7R.', // brain-password
    hqGw1: '$2b$04$cIMycYUaxdZBeWFrVhT1Oe.dzIG89DsD5no9QQLhwPgLzj6oNhmT2', // hq-gw1-password
    branch: '$2b$04$wMwJGAaxl1/1SHd4MvgcEuq0Jp5GYJzigilzgOxjBvJd0H7bFORiG', // branch-password
  };
  const values = {
    natsAuthorization: {
      enabled: true,
      brain: { user: 'p2pwall-brain', passwordHash: HASHES.brain },
      sensors: [
        { site: 'hq', gateway: 'gw1', user: 'sensor-hq-gw1', passwordHash: HASHES.hqGw1 },
        { site: 'branch', gateway: '*', user: 'sensor-branch', passwordHash: HASHES.branch },
      ],
    },
  };
  const authConf = async (): Promise<string> => {
    const secret = find(await render(chart, [await valuesFile(chart, 'nats-auth', values)]), 'Secret', `${fullname}-nats-authorization`);
    return (secret['stringData'] as Record<string, string>)['auth.conf']!;
  };

  it('renders each sensor user with the publish permissions of sensorNatsPermissions, and the brain user without limits', async () => {
    const text = await authConf();
    expect(text.startsWith('authorization {')).toBe(true);
    const users = (JSON.parse(text.slice('authorization '.length)) as { users: { user: string; password: string; permissions?: unknown }[] }).users;
    expect(users).toEqual([
      { user: 'p2pwall-brain', password: HASHES.brain },
      { user: 'sensor-hq-gw1', password: HASHES.hqGw1, permissions: sensorNatsPermissions('hq', 'gw1') },
      // every gateway of the site: the subjects with a wildcard gateway token
      { user: 'sensor-branch', password: HASHES.branch, permissions: { publish: ['p2pwall.v1.summaries.branch.*', 'p2pwall.v1.heartbeats.branch.*'], subscribe: ['_INBOX.>'] } },
    ]);
  });

  it('loads into a real nats-server, where a sensor can publish its own summaries and not another site\'s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2pwall-nats-auth-'));
    await writeFile(join(dir, 'auth.conf'), await authConf());
    await writeFile(join(dir, 'nats.conf'), 'include ./auth.conf\n');
    const nats = await startNats({ args: ['-c', join(dir, 'nats.conf')] });
    const connections: NatsConnection[] = [];
    try {
      const login = async (user: string, pass: string) => {
        const nc = await connect({ servers: nats.url, user, pass });
        connections.push(nc);
        return nc;
      };
      const brain = await login('p2pwall-brain', 'brain-password');
      const jsm = await jetstreamManager(brain);
      await jsm.streams.add({ name: STREAMS.summaries, subjects: [SUBJECTS.allSummaries, SUBJECTS.allHeartbeats], storage: StorageType.Memory });
      const hq = jetstream(await login('sensor-hq-gw1', 'hq-gw1-password'));
      expect((await hq.publish(SUBJECTS.summaries('hq', 'gw1'), new Uint8Array([1]), { timeout: 2000 })).stream).toBe(STREAMS.summaries);
      await expect(hq.publish(SUBJECTS.summaries('branch', 'gw1'), new Uint8Array([2]), { timeout: 1000 })).rejects.toThrow(/permission|timeout|no responders/i);
      await expect(hq.publish(SUBJECTS.heartbeats('hq', 'gw2'), new Uint8Array([3]), { timeout: 1000 })).rejects.toThrow(/permission|timeout|no responders/i);
      const branch = jetstream(await login('sensor-branch', 'branch-password'));
      expect((await branch.publish(SUBJECTS.heartbeats('branch', 'gw7'), new Uint8Array([4]), { timeout: 2000 })).stream).toBe(STREAMS.summaries);
      await expect(branch.publish(SUBJECTS.summaries('hq', 'gw1'), new Uint8Array([5]), { timeout: 1000 })).rejects.toThrow(/permission|timeout|no responders/i);
      await expect(login('sensor-hq-gw1', 'wrong-password')).rejects.toThrow(/authorization/i);
      expect((await jsm.streams.info(STREAMS.summaries)).state.messages).toBe(2);
    } finally {
      for (const nc of connections) await nc.close().catch(() => undefined);
      await nats.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['without the brain\'s password hash', { natsAuthorization: { enabled: true } }, /natsAuthorization\.brain\.passwordHash: the bcrypt hash/],
    ['a plain password instead of a bcrypt hash', { natsAuthorization: { enabled: true, brain: { passwordHash: HASHES.brain }, sensors: [{ site: 'hq', gateway: 'gw1', user: 'u', passwordHash: 'hunter2' }] } }, /passwordHash: Does not match pattern/],
    ['a gateway that is no subject token', { natsAuthorization: { enabled: true, brain: { passwordHash: HASHES.brain }, sensors: [{ site: 'hq', gateway: 'gw.1', user: 'u', passwordHash: HASHES.hqGw1 }] } }, /gateway: Does not match pattern/],
  ])('refuses %s', async (_name, bad, message) => {
    await expect(render(chart, [await valuesFile(chart, 'bad-nats-auth', bad)])).rejects.toThrow(message);
  });
});
