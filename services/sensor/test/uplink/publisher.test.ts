import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Tracer } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createLogger, startTelemetry, STREAMS, SUBJECTS } from '@p2pwall/common';
import { startNats, type NatsServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { afterEach, describe, expect, it } from 'vitest';
import type { NatsUplinkConfig } from '../../src/config.js';
import { Batcher } from '../../src/uplink/batcher.js';
import { Publisher } from '../../src/uplink/publisher.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const SITE = 'site-a';
const GATEWAY = 'gw-1';

function natsConfig(url: string, overrides: Partial<NatsUplinkConfig> = {}): NatsUplinkConfig {
  return { servers: [url], user: null, password: null, token: null, credsFile: null, tls: { ca: null, cert: null, key: null }, maxBacklogBatches: 10_000, batchMaxFlows: 500, batchMaxDelayMs: 250, batchMaxEventDelayMs: 20, heartbeatSeconds: 5, ...overrides };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Env {
  nats: NatsServer;
  nc: NatsConnection;
  jsm: JetStreamManager;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function env(): Promise<Env> {
  const nats = await startNats();
  cleanups.push(() => nats.cleanup());
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  cleanups.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAMS.summaries, subjects: [SUBJECTS.allSummaries, SUBJECTS.allHeartbeats], duplicate_window: nanos(120_000) });
  return { nats, nc, jsm };
}

function start(url: string, overrides: Partial<NatsUplinkConfig> = {}, instance = 'inst1', tracer?: Tracer): Publisher {
  const publisher = Publisher.start({ config: natsConfig(url, overrides), site: SITE, gateway: GATEWAY, instance, logger, tracer });
  cleanups.push(() => publisher.stop());
  return publisher;
}

function batches(count: number, instance = 'inst1'): p2pwall.v1.ISummaryBatch[] {
  const batcher = new Batcher({ sensor: { site: SITE, gateway: GATEWAY, queue: 0, instance }, maxFlows: 2 });
  const out: p2pwall.v1.ISummaryBatch[] = [];
  for (let i = 0; out.length < count; i++) {
    const batch = batcher.add({ flow: { insideIp: Uint8Array.of(192, 168, 1, i % 250), insidePort: i, protocol: 6 } }, 1000 + i);
    if (batch) out.push(batch);
  }
  return out;
}

/** Every stored summary batch: sequence, Nats-Msg-Id and traceparent. */
async function stored(jsm: JetStreamManager): Promise<{ sequence: number; msgId: string; traceparent: string; flows: number }[]> {
  // The test's own reader connection may still be reconnecting after a restart: retry.
  let info;
  for (let attempt = 0; ; attempt++) {
    try {
      info = await jsm.streams.info(STREAMS.summaries, { timeout: 1000 } as never);
      break;
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(200);
    }
  }
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(STREAMS.summaries, { seq });
    if (!msg || !msg.subject.startsWith('p2pwall.v1.summaries.')) continue;
    const batch = p2pwall.v1.SummaryBatch.decode(msg.data);
    out.push({ sequence: Number(batch.sequence), msgId: msg.header.get('Nats-Msg-Id'), traceparent: msg.header.get('traceparent'), flows: batch.flows.length });
  }
  return out;
}

describe('publisher', () => {
  it('publishes batches in order to the stream, with Nats-Msg-Id; without a tracer no traceparent', async () => {
    const { nats, jsm } = await env();
    const publisher = start(nats.url);
    for (const batch of batches(20)) publisher.enqueue(batch);
    expect(await publisher.drain(10_000)).toBe(true);
    const got = await stored(jsm);
    expect(got.map((m) => m.sequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(got[0]!.msgId).toBe('inst1:1');
    // NATS answers '' for a header that is not there.
    expect(got.every((m) => m.traceparent === '')).toBe(true);
    expect(got[0]!.flows).toBe(2);
    expect(publisher.stats).toMatchObject({ published: 20, backlog: 0, shed: 0, duplicates: 0 });
  });

  it('makes one "summaries publish" span per batch, and its traceparent header carries that span', async () => {
    const { nats, jsm } = await env();
    const spans = new InMemorySpanExporter();
    const telemetry = await startTelemetry({
      serviceName: 'p2pwall-sensor',
      serviceVersion: '0.1.0',
      config: { enabled: false, listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } },
      spanExporter: spans,
    });
    cleanups.push(() => telemetry.close());
    const publisher = start(nats.url, {}, 'inst1', telemetry.tracer);
    for (const batch of batches(5)) publisher.enqueue(batch);
    expect(await publisher.drain(10_000)).toBe(true);
    const got = await stored(jsm);
    const finished = spans.getFinishedSpans();
    expect(finished.map((span) => span.name)).toEqual(Array.from({ length: 5 }, () => 'summaries publish'));
    for (const [index, message] of got.entries()) {
      const span = finished[index]!;
      expect(message.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
      expect(span.attributes).toMatchObject({
        'messaging.system': 'nats',
        'messaging.destination.name': SUBJECTS.summaries(SITE, GATEWAY),
        'messaging.message.id': `inst1:${index + 1}`,
        'p2pwall.batch.sequence': index + 1,
        'p2pwall.batch.flows': 2,
        'p2pwall.batch.events': 0,
      });
      expect(span.status.code).toBe(0);
    }
    // Each batch is a trace of its own: the brain's ingest joins the batch it read.
    expect(new Set(finished.map((span) => span.spanContext().traceId)).size).toBe(5);
  });

  it('survives a NATS outage: enqueue never throws, backlog grows, every batch arrives exactly once after restart', async () => {
    const { nats, jsm } = await env();
    const publisher = start(nats.url);
    const all = batches(60);
    for (const batch of all.slice(0, 10)) publisher.enqueue(batch);
    expect(await publisher.drain(10_000)).toBe(true);
    await nats.stop();
    for (const batch of all.slice(10)) {
      expect(() => publisher.enqueue(batch)).not.toThrow();
      await sleep(40); // 50 batches over ~2 s of outage
    }
    expect(publisher.stats.backlog).toBeGreaterThanOrEqual(49);
    const restartedAt = Date.now();
    await nats.restart();
    expect(await publisher.drain(15_000)).toBe(true);
    const drainMs = Date.now() - restartedAt;
    console.log(`outage backlog of ${all.length - 10} batches drained ${drainMs} ms after restart() began; stats ${JSON.stringify(publisher.stats)}`);
    const got = await stored(jsm);
    expect(got.map((m) => m.sequence)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(publisher.stats.reconnects).toBeGreaterThanOrEqual(1);

    // The same batch again (as after a lost ack, or a restarted pump): JetStream drops it.
    const again = start(nats.url);
    again.enqueue(all[4]!);
    expect(await again.drain(10_000)).toBe(true);
    expect(again.stats.duplicates).toBe(1);
    expect((await stored(jsm)).length).toBe(60);
  });

  it('bounds the backlog: the oldest batches are shed and counted', async () => {
    const { nats, jsm } = await env();
    const publisher = start(nats.url, { maxBacklogBatches: 5 });
    await until('connected', () => publisher.stats.connected);
    await nats.stop();
    await until('disconnect noticed', () => !publisher.stats.connected);
    for (const batch of batches(12)) publisher.enqueue(batch);
    expect(publisher.stats).toMatchObject({ backlog: 5, shed: 7 });
    await nats.restart();
    expect(await publisher.drain(15_000)).toBe(true);
    expect((await stored(jsm)).map((m) => m.sequence)).toEqual([8, 9, 10, 11, 12]);
  });

  it('keeps batches while NATS is down at start and sends them when it appears', async () => {
    const { nats, jsm } = await env();
    await nats.stop();
    const publisher = start(nats.url);
    for (const batch of batches(3)) publisher.enqueue(batch);
    await sleep(300);
    expect(publisher.stats).toMatchObject({ backlog: 3, published: 0 });
    await nats.restart();
    expect(await publisher.drain(15_000)).toBe(true);
    expect((await stored(jsm)).map((m) => m.sequence)).toEqual([1, 2, 3]);
  });

  it('sends heartbeats that decode', async () => {
    const { nats, nc } = await env();
    const sub = nc.subscribe(SUBJECTS.heartbeats(SITE, GATEWAY), { max: 1 });
    const publisher = Publisher.start({
      config: natsConfig(nats.url, { heartbeatSeconds: 1 }), site: SITE, gateway: GATEWAY, instance: 'hb', logger,
      heartbeat: () => ({ sensor: { site: SITE, gateway: GATEWAY, queue: 0, instance: 'hb' }, version: '0.1.0', mode: p2pwall.v1.Mode.MODE_MONITOR, packets: 42, blocklistVersion: 7, backlogBatches: 0, shedBatches: 0, queues: [{ queue: 0, queueTotal: 1 }] }),
    });
    cleanups.push(() => publisher.stop());
    for await (const msg of sub) {
      const heartbeat = p2pwall.v1.Heartbeat.decode(msg.data);
      expect(heartbeat).toMatchObject({ version: '0.1.0', mode: p2pwall.v1.Mode.MODE_MONITOR, packets: 42, blocklistVersion: 7 });
      expect(heartbeat.sensor?.instance).toBe('hb');
      expect(heartbeat.queues[0]?.queueTotal).toBe(1);
    }
    expect(publisher.stats.heartbeats).toBeGreaterThanOrEqual(1);
  });

  it('says it is stopping in a last heartbeat when stopped cleanly (issue 14 §12); every other heartbeat says it is not', async () => {
    const { nats, nc } = await env();
    const seen: p2pwall.v1.Heartbeat[] = [];
    const sub = nc.subscribe(SUBJECTS.heartbeats(SITE, GATEWAY), { callback: (_error, msg) => void seen.push(p2pwall.v1.Heartbeat.decode(msg.data)) });
    cleanups.push(async () => sub.unsubscribe());
    const publisher = Publisher.start({
      config: natsConfig(nats.url, { heartbeatSeconds: 1 }), site: SITE, gateway: GATEWAY, instance: 'bye', logger,
      heartbeat: () => ({ sensor: { site: SITE, gateway: GATEWAY, queue: 0, instance: 'bye' }, version: '0.1.0', mode: p2pwall.v1.Mode.MODE_ENFORCE }),
    });
    await until('a connection', () => publisher.stats.connected);
    expect(publisher.sendHeartbeat()).toBe(true);
    await publisher.stop();
    await nc.flush();
    await until('the last heartbeat', () => seen.length >= 2);
    expect(seen.map((beat) => beat.stopping)).toEqual([...Array(seen.length - 1).fill(false), true]);
  });
});
