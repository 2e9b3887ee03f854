/**
 * The chart's alert rules in a real Prometheus (Debian's), scraping a real brain (BrainService on
 * a real nats-server and redis-server) every second: every rule evaluates without error on what
 * the brain exports; a batch that opens an incident fires P2pwallNewP2PHost for its site and
 * protocol within seconds; redis-server stopped puts P2pwallBrainNotReady in pending (its `for`
 * is 2 minutes). Prometheus' job name is the one the chart's ServiceMonitor gives the brain.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger, startTelemetry, type Telemetry } from '@p2pwall/common';
import { startNats, startRedis, until, type NatsServer, type RedisServer } from '@p2pwall/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrainService } from '../../services/brain/src/ingest/serve.js';
import { apiTestConfig, sent } from '../../services/brain/test/support.js';
import { renderedMonitoring, rulesFile } from './monitoring.js';
import { startPrometheus, type PrometheusServer } from './prometheus-server.js';

const log = createLogger({ name: 'alerts-live-test', level: 'silent' });
/** The job of the brain's targets under the chart's ServiceMonitor (release edge). */
const BRAIN_JOB = 'edge-p2pwall-brain';

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}
interface RuleState {
  name: string;
  health: string;
  lastError?: string;
}

let nats: NatsServer;
let redisServer: RedisServer;
let nc: NatsConnection;
let telemetry: Telemetry;
let brain: BrainService;
let prometheus: PrometheusServer;

const alerts = async (name: string): Promise<Alert[]> => (await prometheus.api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels['alertname'] === name);

describe('the chart\'s alert rules in a real Prometheus scraping a real brain', () => {
  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    nc = await connect({ servers: nats.url });
    const otlp = { endpoint: null, headers: {}, intervalSeconds: 15 };
    telemetry = await startTelemetry({ serviceName: 'p2pwall-brain', serviceVersion: '0.1.0', config: { listen: { host: '127.0.0.1', port: 0 }, otlp }, components: ['redis', 'nats'], logger: log });
    const config = apiTestConfig({ nats: nats.url, redis: redisServer.url }, { read: ['r-alerts-live'], admin: ['a-alerts-live'] });
    config.api.enabled = false;
    brain = new BrainService(config, log, { telemetry });
    await brain.start();
    const { groups } = await renderedMonitoring();
    prometheus = await startPrometheus({ rules: rulesFile(groups), jobs: [{ job: BRAIN_JOB, target: `127.0.0.1:${telemetry.port}` }] });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.cleanup();
    await brain?.stop();
    await telemetry?.close();
    await nc?.close();
    await nats?.cleanup();
    await redisServer?.cleanup();
  }, 30_000);

  it('evaluates every rule without error, and fires P2pwallNewP2PHost within seconds of the incident', async () => {
    await until('the brain scraped', 15_000, async () => {
      const up = await prometheus.api<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(`up{job="${BRAIN_JOB}"}`)}`);
      return up.result[0]?.value[1] === '1' ? true : undefined;
    });
    expect(await alerts('P2pwallNewP2PHost')).toEqual([]);

    const now = Date.now();
    const [data, subject] = sent({ site: 'hq', sequence: 1, created: now, clients: [{ host: '192.168.1.5', ts: now }] });
    nc.publish(subject, data);
    const started = performance.now();
    const firing = await until('P2pwallNewP2PHost firing', 20_000, async () => {
      const found = (await alerts('P2pwallNewP2PHost')).filter((a) => a.state === 'firing');
      return found.length > 0 ? found : undefined;
    }, 100);
    console.log(`P2pwallNewP2PHost firing ${((performance.now() - started) / 1000).toFixed(1)} s after the batch was published (scrape and evaluation every 1 s)`);
    expect(firing.map((a) => a.labels)).toEqual([{ alertname: 'P2pwallNewP2PHost', severity: 'warning', site: 'hq', protocol: 'fasttrack' }]);

    // Every rule evaluated against the real series, none with an error (vector matching and all).
    const rules = await until('every rule evaluated', 10_000, async () => {
      const data = await prometheus.api<{ groups: { rules: RuleState[] }[] }>('/api/v1/rules');
      const all = data.groups.flatMap((g) => g.rules);
      return all.every((rule) => rule.health !== 'unknown') ? all : undefined;
    });
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`)).toEqual([]);
  }, 60_000);

  it('puts P2pwallBrainNotReady in pending while redis-server is down, and clears it when Redis is back', async () => {
    await redisServer.stop();
    try {
      const pending = await until('P2pwallBrainNotReady pending', 20_000, async () => {
        const found = await alerts('P2pwallBrainNotReady');
        return found.length > 0 ? found : undefined;
      }, 100);
      expect(pending.map((a) => [a.state, a.labels['severity'], a.labels['job']])).toEqual([['pending', 'critical', BRAIN_JOB]]);
    } finally {
      await redisServer.restart();
    }
    await until('P2pwallBrainNotReady cleared', 20_000, async () => ((await alerts('P2pwallBrainNotReady')).length === 0 ? true : undefined), 100);
  }, 60_000);
});
