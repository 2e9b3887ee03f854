/**
 * Telemetry end to end (issue 6 §3, §4): the built `p2pwall-sensor run` in a lab gateway and the
 * built `p2pwall-brain serve` in the lab's internet, with a real nats-server (JetStream) and
 * redis-server there, and the Kazaa client emulator's real traffic. The sensor's /metrics and
 * /health/* are fetched from inside the gateway namespace, at the gateway's LAN address, as a
 * Prometheus there would; the brain's from inside the internet namespace, at 198.18.0.254.
 * Needs root; skipped with the reason otherwise. Everything is torn down in afterAll, also when a
 * test fails.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, labUnavailableReason, startNats, startRedis, type LabProcess, type NatsServer, type RedisServer, until, matching, parseMetrics, sumOf, type Sample } from '../../src/index.js';
import { SensorProcess } from '../../src/sensor-process.js';
import { expressions, p2pwallMetricNames, renderedMonitoring } from '../../../deploy/test/monitoring.js';

const UNAVAILABLE = labUnavailableReason();
const FAST_CLIENT = ['--pong-wait', '300', '--connect-timeout', '700', '--hello-timeout', '700', '--serial', '5', '--serial-timeout', '400', '--download-timeout', '1500'];
const INET_HOST = '198.18.0.254';
/** Site a's gateway on its LAN: where a Prometheus inside the site would scrape. */
const GATEWAY_LAN = '192.168.1.1';
const TELEMETRY_PORT = 9464;
const LAB_DIR = fileURLToPath(new URL('../..', import.meta.url));
const BRAIN_CLI = fileURLToPath(new URL('../../../services/brain/dist/cli.js', import.meta.url));
const BRAIN_ADMIN_TOKEN = 'telemetry-e2e-admin';
const INSTANCE = { site: 'a', gateway: 'gw1', queue: '0' };

const prefix = `p2pwt${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let peers: LabProcess;
let work: string;
let nats: NatsServer;
let redis: RedisServer;
const servers: { cleanup(): Promise<void> }[] = [];
const sensors: SensorProcess[] = [];
let brain: { process: LabProcess; telemetryPort: number; apiPort: number } | undefined;



class Scrape {
  constructor(readonly samples: Sample[]) {}

  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return matching(this.samples, name, labels);
  }

  /** The sum over the series that match (undefined when none does: the series is missing). */
  sum(name: string, labels: Record<string, string> = {}): number | undefined {
    return sumOf(this.samples, name, labels);
  }
}

type Health = { status: number; body: { status: string; components?: Record<string, { ok: boolean; detail?: string }> } };

async function scrape(sensor: SensorProcess): Promise<Scrape> {
  const response = await sensor.telemetry('/metrics', GATEWAY_LAN);
  expect(response.status).toBe(200);
  return new Scrape(parseMetrics(response.body));
}

async function health(sensor: SensorProcess, what: 'live' | 'ready'): Promise<Health> {
  const response = await sensor.telemetry(`/health/${what}`, GATEWAY_LAN);
  return { status: response.status, body: JSON.parse(response.body) as { status: string } };
}

function sensorConfig(redisOptions: { snapshotFile: string | null } = { snapshotFile: join(work, `${Date.now()}.snapshot`) }): Record<string, unknown> {
  return {
    site: 'a',
    gateway: 'gw1',
    onExit: 'remove',
    log: { events: 'cp' },
    telemetry: { listen: { host: '0.0.0.0', port: TELEMETRY_PORT } },
    uplink: { nats: { servers: [nats.url], heartbeatSeconds: 1 }, redis: { url: redis.url, ...redisOptions } },
  };
}

async function startSensor(config: Record<string, unknown>): Promise<SensorProcess> {
  const sensor = await SensorProcess.start({ namespace: lab.site('a').gateway, config });
  sensors.push(sensor);
  return sensor;
}

async function stopSensor(sensor: SensorProcess): Promise<void> {
  sensors.splice(sensors.indexOf(sensor), 1);
  await sensor.stop();
  sensor.cleanup();
}

/** Runs an ES module script with node inside the internet namespace (where NATS and Redis are). */
async function inInet(script: string): Promise<string> {
  const result = await lab.exec(lab.inet, process.execPath, ['--input-type=module', '-e', script], { cwd: LAB_DIR, timeoutMs: 30_000, check: false });
  if (result.code !== 0) throw new Error(`inet script failed: ${result.stderr}`);
  return result.stdout;
}

/** An HTTP request to the brain from inside the internet namespace (where it listens, at 198.18.0.254). */
async function brainRequest(port: number, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; body: string }> {
  const url = `http://${INET_HOST}:${port}${path}`;
  const options = { method: init.method ?? 'GET', headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) };
  const out = await inInet(`const r = await fetch(${JSON.stringify(url)}, ${JSON.stringify(options)}); process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));`);
  return JSON.parse(out) as { status: number; body: string };
}

async function scrapeBrain(): Promise<Scrape> {
  const response = await brainRequest(brain!.telemetryPort, '/metrics');
  expect(response.status).toBe(200);
  return new Scrape(parseMetrics(response.body));
}

async function brainReady(): Promise<Health> {
  const response = await brainRequest(brain!.telemetryPort, '/health/ready');
  return { status: response.status, body: JSON.parse(response.body) as Health['body'] };
}

function brainLog(output: string): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(output, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The built brain in the internet namespace; it creates the stream and its consumer. Telemetry
 * and API listen on free ports of 198.18.0.254, read back from its log ("brain serving" names
 * the telemetry port, fastify's "Server listening at" the API's).
 */
async function startBrain(): Promise<NonNullable<typeof brain>> {
  const config = join(work, 'brain.yaml');
  // JSON is YAML.
  writeFileSync(config, JSON.stringify({
    nats: { servers: [nats.url] },
    redis: { url: redis.url },
    blocklist: { sweepSeconds: 1 },
    telemetry: { listen: { host: INET_HOST, port: 0 } },
    api: { listen: { host: INET_HOST, port: 0 }, tokens: { admin: [BRAIN_ADMIN_TOKEN] } },
  }));
  const output = join(work, 'brain.log');
  const process_ = lab.spawn(lab.inet, process.execPath, [BRAIN_CLI, 'serve', '--config', config], { detached: true, output, role: 'brain' });
  brain = { process: process_, telemetryPort: 0, apiPort: 0 };
  const serving = await until('brain serving', 15_000, async () => brainLog(output).find((line) => line['msg'] === 'brain serving'), 50).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${brainLog(output).slice(-5).map((line) => JSON.stringify(line)).join('\n')}`, { cause: error });
  });
  const listening = brainLog(output).map((line) => /^Server listening at http:\/\/[^/]+:(\d+)$/.exec(String(line['msg']))).find((match) => match !== null);
  brain.telemetryPort = Number(serving['telemetryPort']);
  brain.apiPort = Number(listening?.[1]);
  expect(brain.telemetryPort).toBeGreaterThan(0);
  expect(brain.apiPort).toBeGreaterThan(0);
  return brain;
}

describe.skipIf(UNAVAILABLE !== '')(`the sensor's and the brain's telemetry in the lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  let sensor: SensorProcess;

  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a'] });
    work = mkdtempSync(join(tmpdir(), 'p2pwall-telemetry-'));
    nats = await startNats({ namespace: lab.inet, host: INET_HOST });
    servers.push(nats);
    redis = await startRedis({ namespace: lab.inet, host: INET_HOST });
    servers.push(redis);
    await startBrain();
    peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '600']);
    await peers.ready();
  }, 90_000);

  afterAll(async () => {
    for (const running of sensors.splice(0)) {
      await running.stop().catch(() => undefined);
      running.cleanup();
    }
    await brain?.process.stop().catch(() => undefined);
    for (const server of servers) await server.cleanup().catch(() => undefined);
    await lab?.down();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('after the Kazaa start-up, both /metrics hold the named series with sensible values; live and ready answer 200', async () => {
    sensor = await startSensor(sensorConfig());
    expect(sensor.telemetryPort).toBe(TELEMETRY_PORT);
    expect(await health(sensor, 'live')).toEqual({ status: 200, body: { status: 'live' } });
    const ready = await health(sensor, 'ready');
    expect(ready.status).toBe(200);
    expect(ready.body.components).toEqual({
      blocklist: { ok: true, detail: 'read from Redis' },
      nfqueue: { ok: true, detail: 'queue 0 bound' },
      rules: { ok: true, detail: 'installed' },
    });
    const brainHealth = await brainReady();
    expect(brainHealth.status).toBe(200);
    expect(brainHealth.body.components).toEqual({ nats: { ok: true, detail: `connected to ${INET_HOST}:${nats.port}` }, redis: { ok: true, detail: 'connected' } });

    const run = lab.emulate(lab.site('a').clients[0]!.ns, 'kazaa-client', FAST_CLIENT);
    await run.wait(60_000);
    await sensor.waitFor((line) => line.event === 'client');
    // The whole loop: detections leave within batchMaxEventDelayMs, the brain decides, and its
    // decisions come back to this sensor through Redis.
    const metrics = await until('summaries published and the brain\'s decisions applied', 15_000, async () => {
      const current = await scrape(sensor);
      const applied = (current.sum('p2pwall_sensor_summaries_published_total') ?? 0) > 0 && (current.sum('p2pwall_sensor_blocklist_entries') ?? 0) > 0 && current.sum('p2pwall_sensor_blocklist_version_lag') === 0;
      return applied ? current : undefined;
    });
    const sum = (name: string, labels: Record<string, string> = {}) => metrics.sum(name, labels);
    const report = Object.fromEntries(
      metrics.samples.filter((s) => s.name.startsWith('p2pwall_') && !s.name.endsWith('_bucket')).map((s) => [`${s.name}{${Object.entries(s.labels).filter(([k]) => !(k in INSTANCE)).map(([k, v]) => `${k}=${v}`).join(',')}}`, s.value]),
    );
    console.log(`sensor /metrics after the Kazaa start-up: ${JSON.stringify(report)}`);

    expect(sum('p2pwall_sensor_queue_packets_total', INSTANCE)).toBeGreaterThan(0);
    expect(sum('p2pwall_sensor_verdicts_total', { verdict: 'drop', reason: 'signature' })).toBeGreaterThan(0);
    expect(sum('p2pwall_sensor_verdicts_total', { verdict: 'drop' })).toBeGreaterThan(0);
    expect(sum('p2pwall_sensor_verdicts_total', { verdict: 'would_drop' })).toBe(0);
    // Every packet the sensor received got one verdict.
    expect(sum('p2pwall_sensor_verdicts_total')).toBe(sum('p2pwall_sensor_queue_packets_total'));
    expect(sum('p2pwall_sensor_detections_total', { protocol: 'fasttrack', rule: 'fasttrack/udp-ping' })).toBeGreaterThanOrEqual(1);
    expect(sum('p2pwall_sensor_clients_identified_total', { protocol: 'fasttrack' })).toBe(1);
    const learned = sum('p2pwall_sensor_peers_learned_total', { protocol: 'fasttrack' })!;
    expect(learned).toBeGreaterThanOrEqual(200);
    expect(sum('p2pwall_sensor_flows')).toBeGreaterThan(0);
    expect(sum('p2pwall_sensor_flows_started_total')).toBeGreaterThanOrEqual(sum('p2pwall_sensor_flows')!);
    expect(sum('p2pwall_sensor_peers')).toBeGreaterThanOrEqual(200);
    // The kernel's counters of this queue: present, and nothing lost at this rate.
    expect(sum('p2pwall_sensor_kernel_queue_length')).toBeGreaterThanOrEqual(0);
    expect(sum('p2pwall_sensor_kernel_queue_dropped_total')).toBe(0);
    expect(sum('p2pwall_sensor_kernel_queue_user_dropped_total')).toBe(0);
    expect(sum('p2pwall_sensor_summaries_buffered')).toBeGreaterThanOrEqual(0);
    expect(sum('p2pwall_sensor_summaries_shed_total')).toBe(0);
    expect(sum('p2pwall_sensor_uplink_connected', { target: 'nats' })).toBe(1);
    expect(sum('p2pwall_sensor_uplink_connected', { target: 'redis' })).toBe(1);
    // The shared blocklist now holds this sensor's own findings (its host lock and its peers).
    expect(sum('p2pwall_sensor_blocklist_entries', { scope: 'host' })).toBeGreaterThanOrEqual(1);
    expect(sum('p2pwall_sensor_blocklist_version')).toBeGreaterThan(0);
    // The kernel sets, read with the queue counters: the learned peers are there, against maxelem.
    const sets = await until('the kernel sets\' fill read', 15_000, async () => {
      const current = await scrape(sensor);
      return (current.sum('p2pwall_sensor_kernel_set_entries') ?? 0) >= 200 ? current : undefined;
    });
    const maxEntries = sets.all('p2pwall_sensor_kernel_set_max_entries', {});
    expect(maxEntries.length).toBeGreaterThanOrEqual(5);
    expect(maxEntries.every((sample) => sample.value === 2_097_152 && sample.labels['set'] !== undefined)).toBe(true);
    expect(sets.sum('p2pwall_sensor_kernel_set_commands_total', { result: 'applied' })).toBeGreaterThanOrEqual(200);
    expect(sets.sum('p2pwall_sensor_kernel_set_commands_total', { result: 'failed' })).toBe(0);
    expect(sets.sum('p2pwall_sensor_kernel_set_commands_total', { result: 'shed' })).toBe(0);
    // Every series names its instance; the resource says which service it is.
    const ours = metrics.samples.filter((s) => s.name.startsWith('p2pwall_'));
    expect(ours.every((s) => s.labels['site'] === 'a' && s.labels['gateway'] === 'gw1' && s.labels['queue'] === '0')).toBe(true);
    expect(metrics.all('target_info', { service_name: 'p2pwall-sensor' })).toHaveLength(1);

    // The brain: every learned peer became a signature decision (one per endpoint), once every batch is in.
    const brainMetrics = await until('the brain decided on every learned peer', 15_000, async () => {
      const current = await scrapeBrain();
      return (current.sum('p2pwall_brain_decisions_total', { origin: 'signature', scope: 'endpoint' }) ?? 0) >= 200 ? current : undefined;
    });
    const brainSum = (name: string, labels: Record<string, string> = {}) => brainMetrics.sum(name, labels);
    console.log(`brain /metrics after the Kazaa start-up: ${JSON.stringify(Object.fromEntries(brainMetrics.samples.filter((s) => s.name.startsWith('p2pwall_brain_') && !s.name.endsWith('_bucket')).map((s) => [`${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')}}`, s.value])))}`);
    expect(brainSum('p2pwall_brain_decisions_total', { origin: 'signature' })).toBeGreaterThan(0);
    // Written once, and again whenever its evidence grew: at least once.
    expect(brainSum('p2pwall_brain_decisions_total', { origin: 'signature', scope: 'host', action: 'block' })).toBeGreaterThanOrEqual(1);
    expect(brainSum('p2pwall_brain_decisions_total', { origin: 'manual' })).toBeUndefined();
    expect(brainSum('p2pwall_brain_flows_ingested_total')).toBeGreaterThan(0);
    expect(brainSum('p2pwall_brain_messages_total', { outcome: 'processed' })).toBeGreaterThan(0);
    expect(brainSum('p2pwall_brain_messages_total', { outcome: 'heartbeat' })).toBeGreaterThan(0);
    expect(brainSum('p2pwall_brain_messages_total', { outcome: 'malformed' })).toBe(0);
    expect(brainSum('p2pwall_brain_messages_total', { outcome: 'failed' })).toBe(0);
    expect(brainSum('p2pwall_brain_blocklist_entries', { scope: 'endpoint', action: 'block' })).toBeGreaterThanOrEqual(200);
    expect(brainSum('p2pwall_brain_blocklist_entries', { scope: 'host', action: 'block' })).toBe(1);
    expect(brainSum('p2pwall_brain_blocklist_version')).toBeGreaterThanOrEqual(brainSum('p2pwall_brain_blocklist_entries')!);
    // Its heartbeats come every second: the sensor is recent, and at most a few versions behind.
    expect(brainSum('p2pwall_brain_sensor_heartbeat_age_seconds', { sensor: 'a/gw1/0' })).toBeLessThan(5);
    expect(brainSum('p2pwall_brain_sensor_blocklist_lag', { sensor: 'a/gw1/0' })).toBeGreaterThanOrEqual(0);
    expect(brainSum('p2pwall_brain_ingest_batch_seconds_count', { outcome: 'processed' })).toBeGreaterThanOrEqual(1);
    expect(brainSum('p2pwall_brain_ingest_batch_seconds_sum', { outcome: 'processed' })! / brainSum('p2pwall_brain_ingest_batch_seconds_count', { outcome: 'processed' })!).toBeLessThan(1);
    expect(brainMetrics.all('target_info', { service_name: 'p2pwall-brain' })).toHaveLength(1);
  }, 120_000);

  it('a manual block through the brain\'s API is counted by the brain, applied by the sensor, and its propagation measured', async () => {
    const before = await scrape(sensor);
    const answer = await brainRequest(brain!.apiPort, '/v1/decisions', { method: 'POST', token: BRAIN_ADMIN_TOKEN, body: { scope: 'endpoint', value: '198.51.100.250:4444', reason: 'telemetry e2e' } });
    expect(answer.status).toBe(201);
    const metrics = await until('decision applied', 10_000, async () => {
      const current = await scrape(sensor);
      return (current.sum('p2pwall_propagation_seconds_count', { origin: 'manual' }) ?? 0) >= 1 ? current : undefined;
    });
    const seconds = metrics.sum('p2pwall_propagation_seconds_sum', { origin: 'manual' })!;
    console.log(`propagation from the API's manual block to applied at the sensor (same clock): ${(seconds * 1000).toFixed(1)} ms`);
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(seconds).toBeLessThan(5);
    expect(metrics.sum('p2pwall_propagation_seconds_bucket', { origin: 'manual', le: '+Inf' })).toBe(1);
    expect(metrics.sum('p2pwall_sensor_blocklist_entries', { scope: 'endpoint' })).toBe(before.sum('p2pwall_sensor_blocklist_entries', { scope: 'endpoint' })! + 1);
    const brainMetrics = await scrapeBrain();
    expect(brainMetrics.sum('p2pwall_brain_decisions_total', { origin: 'manual', scope: 'endpoint', action: 'block' })).toBe(1);
    expect(brainMetrics.sum('p2pwall_brain_api_request_seconds_count', { method: 'POST', route: '/v1/decisions', status_code: '201' })).toBe(1);
  }, 30_000);

  it('the brain shows the Kazaa client\'s incident and its connections; every metric the chart\'s alerts and dashboard name is on these real /metrics', async () => {
    const brainMetrics = await until('the incident and the backlog on the brain\'s /metrics', 10_000, async () => {
      const current = await scrapeBrain();
      return current.sum('p2pwall_brain_incidents_active') !== undefined && current.sum('p2pwall_brain_ingest_backlog', { state: 'pending' }) === 0 ? current : undefined;
    });
    // One inside host, identified once as a FastTrack client: one incident, open.
    expect(brainMetrics.sum('p2pwall_brain_incidents_opened_total', { site: 'a', protocol: 'fasttrack' })).toBe(1);
    expect(brainMetrics.sum('p2pwall_brain_incidents_opened_total')).toBe(1);
    expect(brainMetrics.sum('p2pwall_brain_incidents_active', { site: 'a', protocol: 'fasttrack' })).toBe(1);
    expect(brainMetrics.sum('p2pwall_brain_connected', { target: 'nats' })).toBe(1);
    expect(brainMetrics.sum('p2pwall_brain_connected', { target: 'redis' })).toBe(1);

    const exported = new Set([...(await scrape(sensor)).samples, ...brainMetrics.samples].map((sample) => sample.name));
    const { groups, dashboard } = await renderedMonitoring();
    const named = expressions(groups, dashboard).flatMap(({ where, expr }) => p2pwallMetricNames(expr).map((name) => ({ where, name })));
    console.log(`the chart's rules and dashboard name ${new Set(named.map((n) => n.name)).size} p2pwall series in ${expressions(groups, dashboard).length} expressions`);
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter(({ name }) => !exported.has(name)).map(({ where, name }) => `${where}: ${name}`)).toEqual([]);
  }, 30_000);

  it('a NATS outage leaves the sensor ready and makes the brain not ready; p2pwall_sensor_uplink_connected shows it', async () => {
    await nats.stop();
    try {
      await until('nats disconnected in /metrics', 15_000, async () => ((await scrape(sensor)).sum('p2pwall_sensor_uplink_connected', { target: 'nats' }) === 0 ? true : undefined));
      expect((await health(sensor, 'ready')).status).toBe(200);
      const brainHealth = await until('the brain not ready', 10_000, async () => {
        const current = await brainReady();
        return current.status === 503 ? current : undefined;
      });
      expect(brainHealth.body.components?.['nats']?.ok).toBe(false);
      expect(brainHealth.body.components?.['redis']?.ok).toBe(true);
      // What the alert P2pwallBrainNotReady reads.
      const brainMetrics = await scrapeBrain();
      expect([brainMetrics.sum('p2pwall_brain_connected', { target: 'nats' }), brainMetrics.sum('p2pwall_brain_connected', { target: 'redis' })]).toEqual([0, 1]);
    } finally {
      await nats.restart();
    }
    await until('nats connected again', 15_000, async () => ((await scrape(sensor)).sum('p2pwall_sensor_uplink_connected', { target: 'nats' }) === 1 ? true : undefined));
    await until('the brain ready again', 15_000, async () => ((await brainReady()).status === 200 ? true : undefined));
  }, 45_000);

  it('with Redis unreachable and no snapshot file the sensor is live but not ready, says why, and becomes ready when Redis answers; so does the brain', async () => {
    await stopSensor(sensor);
    await redis.stop();
    try {
      sensor = await startSensor(sensorConfig({ snapshotFile: null }));
      expect((await health(sensor, 'live')).status).toBe(200);
      const ready = await health(sensor, 'ready');
      expect(ready.status).toBe(503);
      expect(ready.body.components?.['blocklist']).toEqual({ ok: false, detail: 'Redis unreachable and no snapshot file: waiting for Redis' });
      expect(ready.body.components?.['nfqueue']?.ok).toBe(true);
      // It enforces and reports all the same.
      expect((await scrape(sensor)).sum('p2pwall_sensor_uplink_connected', { target: 'redis' })).toBe(0);
      const brainHealth = await brainReady();
      expect(brainHealth.status).toBe(503);
      expect(brainHealth.body.components?.['redis']?.ok).toBe(false);
    } finally {
      await redis.restart();
    }
    const ready = await until('ready once Redis answers', 15_000, async () => {
      const current = await health(sensor, 'ready');
      return current.status === 200 ? current : undefined;
    });
    expect(ready.body.components?.['blocklist']).toEqual({ ok: true, detail: 'read from Redis' });
    await until('the brain ready again', 15_000, async () => ((await brainReady()).status === 200 ? true : undefined));
  }, 60_000);
});
