/**
 * The brain's telemetry with real parts (issue 6 §3, §4): a BrainService on a real nats-server
 * (JetStream) and redis-server, fed by the sensor's own Publisher, both services traced into one
 * in-memory span exporter. Shows one trace from the sensor's "summaries publish" through the
 * brain's "summaries ingest" and "decision" to "blocklist update"; the p2pwall_brain_* series on
 * /metrics; and /health/ready (telemetry port and API) following the Redis connection.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createLogger, REDIS_KEYS, startTelemetry, SUBJECTS, type Telemetry } from '@p2pwall/common';
import { parseMetrics, startNats, startRedis, sumOf, until, type NatsServer, type RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsUplinkConfig } from '../../sensor/src/config.js';
import { Publisher } from '../../sensor/src/uplink/publisher.js';
import type { BrainConfig } from '../src/config.js';
import { BrainService } from '../src/ingest/serve.js';
import { blocklistEntries, DecisionTally } from '../src/telemetry/decision-tally.js';
import { redisHealth } from '../src/telemetry/readiness.js';
import { sensorLags } from '../src/telemetry/shared-state.js';
import { batch, flow, apiTestConfig } from './support.js';

const log = createLogger({ name: 'brain-telemetry-test', level: 'silent' });
const READ = 'read-token-telemetry';
const ADMIN = 'admin-token-telemetry';
const SITE = 'site-a';
const GATEWAY = 'gw1';
const CLIENT = '192.168.1.5';
const PEERS = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];

let nats: NatsServer;
let redisServer: RedisServer;
let redis: Redis;
let nc: NatsConnection;
let spans: InMemorySpanExporter;
let brainTelemetry: Telemetry;
let sensorTelemetry: Telemetry;
let brain: BrainService;
let publisher: Publisher;

function brainConfig(): BrainConfig {
  const c = apiTestConfig({ nats: nats.url, redis: redisServer.url }, { read: [READ], admin: [ADMIN] });
  c.blocklist.sweepSeconds = 1;
  c.telemetry.listen = { host: '127.0.0.1', port: 0 };
  return c;
}

function uplinkConfig(): NatsUplinkConfig {
  return { servers: [nats.url], user: null, password: null, token: null, credsFile: null, tls: { ca: null, cert: null, key: null }, maxBacklogBatches: 100, batchMaxFlows: 500, batchMaxDelayMs: 250, batchMaxEventDelayMs: 20, heartbeatSeconds: 3600 };
}

async function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: response.status, body: await response.text() };
}

const scrape = async () => parseMetrics((await get(brainTelemetry.port!, '/metrics')).body);

describe('the brain\'s telemetry (real nats-server, redis-server and the sensor\'s publisher)', () => {
  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    nc = await connect({ servers: nats.url });
    spans = new InMemorySpanExporter();
    const otlp = { endpoint: null, headers: {}, intervalSeconds: 15 };
    brainTelemetry = await startTelemetry({ serviceName: 'p2pwall-brain', serviceVersion: '0.1.0', config: { listen: { host: '127.0.0.1', port: 0 }, otlp }, components: ['redis', 'nats'], spanExporter: spans, logger: log });
    // The sensor side needs no HTTP server: only its tracer, into the same exporter.
    sensorTelemetry = await startTelemetry({ serviceName: 'p2pwall-sensor', serviceVersion: '0.1.0', config: { enabled: false, listen: { host: '127.0.0.1', port: 0 }, otlp }, spanExporter: spans });
    brain = new BrainService(brainConfig(), log, { telemetry: brainTelemetry });
    await brain.start();
    const beat = (): p2pwall.v1.IHeartbeat => ({ sensor: { site: SITE, gateway: GATEWAY, queue: 0, instance: 'sensor-1' }, version: '0.1.0', sentMs: Date.now(), blocklistVersion: 4 });
    publisher = Publisher.start({ config: uplinkConfig(), site: SITE, gateway: GATEWAY, instance: 'sensor-1', logger: log, heartbeat: beat, tracer: sensorTelemetry.tracer });
  }, 30_000);

  afterAll(async () => {
    await publisher?.stop();
    await brain?.stop();
    await Promise.all([brainTelemetry?.close(), sensorTelemetry?.close()]);
    await nc?.close();
    redis?.disconnect();
    await nats?.cleanup();
    await redisServer?.cleanup();
  }, 30_000);

  it('one trace runs from the sensor\'s publish through ingest and each decision to its blocklist update', async () => {
    publisher.enqueue(batch({ site: SITE, gateway: GATEWAY, instance: 'sensor-1', sequence: 1, clients: [{ host: CLIENT }], peers: PEERS.map((ip) => ({ ip, port: 1214, from: CLIENT })), flows: [flow({ host: '192.168.1.20', to: '203.0.113.80', port: 443, answered: true }), flow({ host: '192.168.1.20', to: '203.0.113.81', port: 443, answered: true })] }));
    await until('4 decisions in Redis', 10_000, async () => ((await redis.hlen(REDIS_KEYS.decisions)) === 4 ? true : undefined));
    const finished = await until('the brain\'s spans', 10_000, async () => {
      const all = spans.getFinishedSpans();
      return all.filter((s) => s.name === 'blocklist update').length >= 4 && all.some((s) => s.name === 'summaries ingest') ? all : undefined;
    });

    const serviceOf = (span: ReadableSpan) => span.resource.attributes['service.name'];
    const named = (name: string) => finished.filter((s) => s.name === name);
    const [publish] = named('summaries publish');
    const [ingest] = named('summaries ingest');
    expect(publish && serviceOf(publish)).toBe('p2pwall-sensor');
    expect(ingest && serviceOf(ingest)).toBe('p2pwall-brain');
    const traceId = publish!.spanContext().traceId;
    expect(ingest!.spanContext().traceId).toBe(traceId);
    expect(ingest!.parentSpanContext?.spanId).toBe(publish!.spanContext().spanId);
    expect(ingest!.attributes['p2pwall.ingest.outcome']).toBe('processed');
    expect(ingest!.attributes['messaging.message.id']).toBe('sensor-1:1');

    const decisions = named('decision');
    expect(decisions.map((s) => s.attributes['p2pwall.decision.id']).sort()).toEqual([...PEERS.map((ip) => `endpoint:${ip}:1214`), `host:${SITE}:${CLIENT}`].sort());
    for (const decision of decisions) {
      expect(decision.spanContext().traceId).toBe(traceId);
      expect(decision.parentSpanContext?.spanId).toBe(ingest!.spanContext().spanId);
      expect(decision.attributes['p2pwall.decision.origin']).toBe('signature');
      expect(decision.attributes['p2pwall.decision.result']).toBe('written');
    }
    const decisionSpanIds = new Set(decisions.map((s) => s.spanContext().spanId));
    const updates = named('blocklist update');
    expect(updates).toHaveLength(4);
    for (const update of updates) {
      expect(update.spanContext().traceId).toBe(traceId);
      expect(decisionSpanIds.has(update.parentSpanContext?.spanId ?? '')).toBe(true);
      expect(update.attributes['p2pwall.change.result']).toBe('written');
    }
    // Versions 1..4, one per update; the trace holds nothing per flow.
    expect(updates.map((s) => s.attributes['p2pwall.blocklist.version']).sort()).toEqual([1, 2, 3, 4]);
    expect(finished.filter((s) => s.spanContext().traceId === traceId)).toHaveLength(1 + 1 + 4 + 4);
  });

  it('/metrics holds the p2pwall_brain_* series with the values of what happened', async () => {
    // A manual block through the API (origin manual, version 5), a malformed message, a heartbeat that applied version 4.
    const manual = await fetch(`http://127.0.0.1:${brain.apiPort()}/v1/decisions`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ scope: 'ip', value: '203.0.113.77', reason: 'telemetry test' }) });
    expect(manual.status).toBe(201);
    nc.publish(SUBJECTS.summaries(SITE, GATEWAY), new Uint8Array([0xff, 0xff, 0xff, 0x01]));
    expect(publisher.sendHeartbeat()).toBe(true);
    expect((await get(brain.apiPort()!, `/v1/peers/${PEERS[0]}:1214`, READ)).status).toBe(200);
    expect((await get(brain.apiPort()!, '/no/such/route')).status).toBe(404);

    const metrics = await until('heartbeat and malformed message counted', 10_000, async () => {
      const current = await scrape();
      return sumOf(current, 'p2pwall_brain_messages_total', { outcome: 'heartbeat' }) === 1 && sumOf(current, 'p2pwall_brain_messages_total', { outcome: 'malformed' }) === 1 ? current : undefined;
    });
    const value = (name: string, labels: Record<string, string> = {}) => sumOf(metrics, name, labels);
    console.log(`brain /metrics: ${JSON.stringify(Object.fromEntries(metrics.filter((s) => s.name.startsWith('p2pwall_brain_') && !s.name.endsWith('_bucket')).map((s) => [`${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')}}`, s.value])))}`);

    expect(value('p2pwall_brain_messages_total', { outcome: 'processed' })).toBe(1);
    expect(value('p2pwall_brain_messages_total', { outcome: 'duplicate' })).toBe(0);
    expect(value('p2pwall_brain_messages_total', { outcome: 'failed' })).toBe(0);
    expect(value('p2pwall_brain_flows_ingested_total')).toBe(2);
    expect(value('p2pwall_brain_decisions_total', { origin: 'signature', scope: 'endpoint', action: 'block' })).toBe(3);
    expect(value('p2pwall_brain_decisions_total', { origin: 'signature', scope: 'host', action: 'block' })).toBe(1);
    expect(value('p2pwall_brain_decisions_total', { origin: 'manual', scope: 'ip', action: 'block' })).toBe(1);
    expect(value('p2pwall_brain_decisions_total')).toBe(5);
    expect(value('p2pwall_brain_blocklist_entries', { scope: 'endpoint', action: 'block' })).toBe(3);
    expect(value('p2pwall_brain_blocklist_entries', { scope: 'host', action: 'block' })).toBe(1);
    expect(value('p2pwall_brain_blocklist_entries', { scope: 'ip', action: 'block' })).toBe(1);
    expect(value('p2pwall_brain_blocklist_version')).toBe(5);
    expect(value('p2pwall_brain_sensor_blocklist_lag', { sensor: `${SITE}/${GATEWAY}/0` })).toBe(1);
    const age = value('p2pwall_brain_sensor_heartbeat_age_seconds', { sensor: `${SITE}/${GATEWAY}/0` })!;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(10);
    // One processed batch and one malformed message were timed, each well under a second.
    expect(value('p2pwall_brain_ingest_batch_seconds_count', { outcome: 'processed' })).toBe(1);
    expect(value('p2pwall_brain_ingest_batch_seconds_count', { outcome: 'malformed' })).toBe(1);
    expect(value('p2pwall_brain_ingest_batch_seconds_sum', { outcome: 'processed' })).toBeGreaterThan(0);
    expect(value('p2pwall_brain_ingest_batch_seconds_sum', { outcome: 'processed' })).toBeLessThan(1);
    // API latency by route template, never by URL.
    expect(value('p2pwall_brain_api_request_seconds_count', { method: 'POST', route: '/v1/decisions', status_code: '201' })).toBe(1);
    expect(value('p2pwall_brain_api_request_seconds_count', { method: 'GET', route: '/v1/peers/:peer', status_code: '200' })).toBe(1);
    expect(value('p2pwall_brain_api_request_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(metrics.some((s) => Object.values(s.labels).some((v) => v.includes('198.51.100.1') || v.includes('/no/such')))).toBe(false);
    expect(value('p2pwall_brain_api_request_seconds_bucket', { method: 'GET', route: '/v1/peers/:peer', le: '10' })).toBe(1);
  });

  it('ready on both ports while connected; not ready, naming redis, while redis-server is down; ready again after', async () => {
    const apiPort = brain.apiPort()!;
    const telemetryReady = async () => {
      const answer = await get(brainTelemetry.port!, '/health/ready');
      return { status: answer.status, body: JSON.parse(answer.body) as { status: string; components: Record<string, { ok: boolean; detail?: string }> } };
    };
    const apiReady = async () => {
      const answer = await get(apiPort, '/health/ready');
      return { status: answer.status, body: JSON.parse(answer.body) as { status: string; checks: Record<string, boolean> } };
    };
    const ready = await telemetryReady();
    expect(ready.status).toBe(200);
    expect(ready.body.components['redis']).toEqual({ ok: true, detail: 'connected' });
    expect(ready.body.components['nats']).toEqual({ ok: true, detail: `connected to ${new URL(nats.url).host}` });
    // the test's redis-server keeps no append-only file: the API warns about the incident history, ready all the same
    const noAof = { incidentHistory: expect.stringContaining('(appendonly no)') as unknown };
    expect(await apiReady()).toEqual({ status: 200, body: { status: 'ready', checks: { nats: true, redis: true }, warnings: noAof } });

    await redisServer.stop();
    try {
      const down = await until('not ready', 10_000, async () => {
        const answer = await telemetryReady();
        return answer.status === 503 ? answer : undefined;
      });
      expect(down.body.status).toBe('not ready');
      expect(down.body.components['redis']?.ok).toBe(false);
      expect(down.body.components['redis']?.detail).toMatch(/reconnecting|not connected/);
      expect(down.body.components['nats']?.ok).toBe(true);
      expect(await apiReady()).toEqual({ status: 503, body: { status: 'not ready', checks: { nats: true, redis: false }, warnings: noAof } });
      // /metrics still answers at once, without asking Redis: the Redis-backed series keep the
      // values of the last read (the SDK reports an unobserved cumulative series as it last was).
      const started = performance.now();
      const metrics = await scrape();
      expect(performance.now() - started).toBeLessThan(1000);
      expect(sumOf(metrics, 'p2pwall_brain_messages_total', { outcome: 'processed' })).toBe(1);
      expect(sumOf(metrics, 'p2pwall_brain_blocklist_version')).toBe(5);
    } finally {
      await redisServer.restart();
    }
    await until('ready again', 15_000, async () => ((await telemetryReady()).status === 200 ? true : undefined));
    expect((await apiReady()).status).toBe(200);
  }, 30_000);
});

describe('the brain\'s telemetry: pure parts', () => {
  const { Origin, Scope, Action } = p2pwall.v1;

  it('decisions are tallied by origin, scope and action; an enum value the contract does not know is "unknown"', () => {
    const tally = new DecisionTally();
    tally.observe({ origin: Origin.ORIGIN_SIGNATURE, scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK });
    tally.observe({ origin: Origin.ORIGIN_SIGNATURE, scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK });
    tally.observe({ origin: Origin.ORIGIN_MANUAL, scope: Scope.SCOPE_HOST, action: Action.ACTION_ALLOW });
    tally.observe({ origin: 99 as p2pwall.v1.Origin, scope: Scope.SCOPE_IP, action: Action.ACTION_BLOCK });
    expect(tally.entries()).toEqual([
      { labels: { origin: 'signature', scope: 'endpoint', action: 'block' }, count: 2 },
      { labels: { origin: 'manual', scope: 'host', action: 'allow' }, count: 1 },
      { labels: { origin: 'unknown', scope: 'ip', action: 'block' }, count: 1 },
    ]);
    expect(blocklistEntries([{ scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK }, { scope: Scope.SCOPE_ENDPOINT, action: Action.ACTION_BLOCK }, { scope: Scope.SCOPE_UNSPECIFIED, action: Action.ACTION_ALLOW }])).toEqual([
      { labels: { scope: 'endpoint', action: 'block' }, count: 2 },
      { labels: { scope: 'unspecified', action: 'allow' }, count: 1 },
    ]);
  });

  it('sensor lag is the shared version minus the reported one, never negative; heartbeats without a sensor id are skipped', () => {
    const beat = (site: string, blocklistVersion: number, sentMs: number) => p2pwall.v1.Heartbeat.create({ sensor: { site, gateway: 'gw1', queue: 0 }, blocklistVersion, sentMs });
    const lags = sensorLags({ version: 10, beats: [beat('b', 12, 9_000), beat('a', 7, 8_000), beat('', 1, 1)], unreadable: 0 }, 10_000);
    expect(lags).toEqual([
      { sensor: 'a/gw1/0', lag: 3, ageSeconds: 2 },
      { sensor: 'b/gw1/0', lag: 0, ageSeconds: 1 },
    ]);
  });

  it('Redis readiness names the state, and the last error while reconnecting', () => {
    expect(redisHealth('ready', 'old error')).toEqual({ ok: true, detail: 'connected' });
    expect(redisHealth('connecting')).toEqual({ ok: false, detail: 'connecting' });
    expect(redisHealth('reconnecting', 'connect ECONNREFUSED 127.0.0.1:6379')).toEqual({ ok: false, detail: 'connection lost, reconnecting (connect ECONNREFUSED 127.0.0.1:6379)' });
    expect(redisHealth('end')).toEqual({ ok: false, detail: 'not connected' });
  });
});
