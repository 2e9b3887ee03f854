/**
 * The brain's incident and connection series (issue 17 §6) with real parts: a BrainService on a
 * real nats-server (JetStream) and redis-server, fed summary batches on the sensors' subjects,
 * scraped on its real /metrics. Incidents opened count once per incident; active incidents
 * follow Redis and fall back to 0 when the episodes go quiet; the connection gauges follow
 * redis-server going away and coming back, and the batches that wait meanwhile show as the
 * ingest backlog.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger, startTelemetry, type Telemetry } from '@p2pwall/common';
import { parseMetrics, startNats, startRedis, sumOf, until, type NatsServer, type RedisServer, type Sample } from '@p2pwall/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrainService } from '../src/ingest/serve.js';
import { IncidentCounts, MAX_INCIDENT_LABEL_SETS } from '../src/telemetry/incident-labels.js';
import { ActiveIncidents } from '../src/telemetry/active-incidents.js';
import { apiTestConfig, sent, type BatchSpec } from './support.js';

const log = createLogger({ name: 'brain-incident-metrics-test', level: 'silent' });
/** Incidents go quiet this long after their last evidence (the test waits for it; long enough that a loaded machine processes the batches before). */
const QUIET_SECONDS = 8;

let nats: NatsServer;
let redisServer: RedisServer;
let nc: NatsConnection;
let telemetry: Telemetry;
let brain: BrainService;

const scrape = async (): Promise<Sample[]> => parseMetrics(await (await fetch(`http://127.0.0.1:${telemetry.port}/metrics`)).text());
const publish = async (spec: BatchSpec) => {
  const [data, subject] = sent(spec);
  nc.publish(subject, data);
  await nc.flush();
};

describe('incident and connection series on the brain\'s /metrics (real nats-server and redis-server)', () => {
  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    nc = await connect({ servers: nats.url });
    const otlp = { endpoint: null, headers: {}, intervalSeconds: 15 };
    telemetry = await startTelemetry({ serviceName: 'p2pwall-brain', serviceVersion: '0.1.0', config: { listen: { host: '127.0.0.1', port: 0 }, otlp }, components: ['redis', 'nats'], logger: log });
    const config = apiTestConfig({ nats: nats.url, redis: redisServer.url }, { read: ['r-incident-metrics'], admin: ['a-incident-metrics'] });
    config.api.enabled = false;
    config.incidents.quietSeconds = QUIET_SECONDS;
    brain = new BrainService(config, log, { telemetry });
    await brain.start();
  }, 30_000);

  afterAll(async () => {
    await brain?.stop();
    await telemetry?.close();
    await nc?.close();
    await nats?.cleanup();
    await redisServer?.cleanup();
  }, 30_000);

  it('counts each incident opened once, by site and protocol, and shows it active until it goes quiet', async () => {
    const now = Date.now();
    // Two hosts of site-a (fasttrack, gnutella) and one of site-b: three incidents.
    await publish({ site: 'site-a', sequence: 1, created: now, clients: [{ host: '192.168.1.5', ts: now }, { host: '192.168.1.6', protocol: 'gnutella', rule: 'gnutella/handshake', ts: now }] });
    await publish({ site: 'site-b', sequence: 1, created: now, clients: [{ host: '10.2.0.7', ts: now }] });
    // More evidence of an open episode extends it: no new incident.
    await publish({ site: 'site-a', sequence: 2, created: now + 500, clients: [{ host: '192.168.1.5', ts: now + 500 }] });

    const opened = (metrics: Sample[], labels: Record<string, string> = {}) => sumOf(metrics, 'p2pwall_brain_incidents_opened_total', labels);
    const active = (metrics: Sample[], labels: Record<string, string> = {}) => sumOf(metrics, 'p2pwall_brain_incidents_active', labels);
    // Three batches processed and three incidents counted: the batch's timing can reach /metrics a
    // moment before the last incident's counter does (a CI run scraped in between), so the wait
    // is for both; the exact counts per pair below still catch an incident counted twice.
    const metrics = await until('three batches processed, three incidents opened', 10_000, async () => {
      const current = await scrape();
      return sumOf(current, 'p2pwall_brain_ingest_batch_seconds_count', { outcome: 'processed' }) === 3 && (opened(current) ?? 0) >= 3 ? current : undefined;
    });
    expect(opened(metrics, { site: 'site-a', protocol: 'fasttrack' })).toBe(1);
    expect(opened(metrics, { site: 'site-a', protocol: 'gnutella' })).toBe(1);
    expect(opened(metrics, { site: 'site-b', protocol: 'fasttrack' })).toBe(1);
    expect(opened(metrics)).toBe(3);
    expect(active(metrics, { site: 'site-a', protocol: 'fasttrack' })).toBe(1);
    expect(active(metrics, { site: 'site-a', protocol: 'gnutella' })).toBe(1);
    expect(active(metrics, { site: 'site-b', protocol: 'fasttrack' })).toBe(1);
    expect(active(metrics)).toBe(3);
    expect(sumOf(metrics, 'p2pwall_brain_connected', { target: 'nats' })).toBe(1);
    expect(sumOf(metrics, 'p2pwall_brain_connected', { target: 'redis' })).toBe(1);

    // Once quiet, the pairs stay on /metrics at 0 (not at their last value), and the counter stays.
    const quiet = await until('incidents quiet', (QUIET_SECONDS + 6) * 1000, async () => {
      const current = await scrape();
      return active(current) === 0 ? current : undefined;
    });
    expect(active(quiet, { site: 'site-a', protocol: 'gnutella' })).toBe(0);
    expect(quiet.filter((s) => s.name === 'p2pwall_brain_incidents_active')).toHaveLength(3);
    expect(opened(quiet)).toBe(3);

    // After the quiet gap, new evidence of the same host opens a new episode: a new incident.
    const later = Date.now();
    await publish({ site: 'site-a', sequence: 3, created: later, clients: [{ host: '192.168.1.5', ts: later }] });
    const reopened = await until('a second fasttrack incident at site-a', 10_000, async () => {
      const current = await scrape();
      return opened(current, { site: 'site-a', protocol: 'fasttrack' }) === 2 ? current : undefined;
    });
    expect(active(reopened, { site: 'site-a', protocol: 'fasttrack' })).toBe(1);
    expect(active(reopened)).toBe(1);
  }, 30_000);

  it('shows the Redis connection at 0 while redis-server is down, and the batches waiting meanwhile as the ingest backlog', async () => {
    const backlog = (metrics: Sample[]) => sumOf(metrics, 'p2pwall_brain_ingest_backlog');
    expect(backlog(await scrape())).toBe(0);
    await redisServer.stop();
    try {
      const down = await until('redis connection 0', 10_000, async () => {
        const current = await scrape();
        return sumOf(current, 'p2pwall_brain_connected', { target: 'redis' }) === 0 ? current : undefined;
      });
      expect(sumOf(down, 'p2pwall_brain_connected', { target: 'nats' })).toBe(1);
      // Batches that cannot be processed without Redis wait in the stream (pending or nak'ed).
      const now = Date.now();
      for (const sequence of [10, 11, 12]) await publish({ site: 'site-c', sequence, created: now, clients: [{ host: `10.3.0.${sequence}`, ts: now }] });
      const waiting = await until('three batches in the backlog', 10_000, async () => {
        const current = await scrape();
        return backlog(current) === 3 ? current : undefined;
      });
      expect(sumOf(waiting, 'p2pwall_brain_ingest_backlog', { state: 'pending' })! + sumOf(waiting, 'p2pwall_brain_ingest_backlog', { state: 'unacknowledged' })!).toBe(3);
    } finally {
      await redisServer.restart();
    }
    const after = await until('redis connection 1, the backlog processed', 20_000, async () => {
      const current = await scrape();
      return sumOf(current, 'p2pwall_brain_connected', { target: 'redis' }) === 1 && backlog(current) === 0 && sumOf(current, 'p2pwall_brain_incidents_opened_total', { site: 'site-c' }) === 3 ? current : undefined;
    });
    expect(sumOf(after, 'p2pwall_brain_incidents_active', { site: 'site-c', protocol: 'fasttrack' })).toBe(3);
  }, 40_000);
});

describe('incident series: pure parts', () => {
  it('keeps at most MAX_INCIDENT_LABEL_SETS pairs, counting a new pair past them as protocol "other" of its site', () => {
    const counts = new IncidentCounts(3);
    counts.add({ site: 'a', protocol: 'p1' });
    counts.add({ site: 'a', protocol: 'p2' });
    counts.add({ site: 'b', protocol: 'p3' }); // the third pair: admitted
    counts.add({ site: 'a', protocol: 'p4' }); // full: a/other
    counts.add({ site: 'a', protocol: 'p5' }, 2); // a/other again
    counts.add({ site: 'b', protocol: 'p6' }); // b/other
    counts.add({ site: 'a', protocol: 'p2' }, 2); // known: its own
    expect(counts.entries()).toEqual([
      { labels: { site: 'a', protocol: 'p1' }, count: 1 },
      { labels: { site: 'a', protocol: 'p2' }, count: 3 },
      { labels: { site: 'b', protocol: 'p3' }, count: 1 },
      { labels: { site: 'a', protocol: 'other' }, count: 3 },
      { labels: { site: 'b', protocol: 'other' }, count: 1 },
    ]);
    const big = new IncidentCounts();
    for (let i = 0; i < MAX_INCIDENT_LABEL_SETS * 2; i += 1) big.add({ site: 's', protocol: `p${i}` });
    expect(big.entries()).toHaveLength(MAX_INCIDENT_LABEL_SETS + 1);
    expect(big.entries().find((e) => e.labels.protocol === 'other')).toEqual({ labels: { site: 's', protocol: 'other' }, count: MAX_INCIDENT_LABEL_SETS });
  });

  it('active incidents: a pair seen before is 0 when none is open; no read keeps the last values', () => {
    const active = new ActiveIncidents();
    expect(active.update([{ labels: { site: 'a', protocol: 'x' }, count: 2 }, { labels: { site: 'b', protocol: 'y' }, count: 1 }])).toEqual([
      { labels: { site: 'a', protocol: 'x' }, count: 2 },
      { labels: { site: 'b', protocol: 'y' }, count: 1 },
    ]);
    expect(active.update(undefined)).toBeUndefined();
    expect(active.update([{ labels: { site: 'b', protocol: 'y' }, count: 1 }])).toEqual([
      { labels: { site: 'a', protocol: 'x' }, count: 0 },
      { labels: { site: 'b', protocol: 'y' }, count: 1 },
    ]);
  });
});
