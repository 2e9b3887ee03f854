import { REDIS_KEYS, SUBJECTS } from '@p2pwall/common';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { capturedLog, type RedisServer } from '@p2pwall/lab';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView, Page } from '../../src/api/views.js';
import { appendOnly, historyFinding, NO_AOF_WARNING } from '../../src/incidents/history.js';
import type { BrainService } from '../../src/ingest/serve.js';
import { encodeBatch, startBrainRig, type BrainRig } from '../support.js';

/**
 * Issue 14 §5: incidents live only in Redis. With persistence (appendonly yes, as the chart and
 * README require) a Redis restart keeps them; a Redis that comes back without its data loses
 * them, and the brain says so: an error line, p2pwall_brain_incident_history_lost (stats), and a
 * warning in /health/ready. Real nats-server, real redis-server with an append-only file.
 */

describe('incident history marker (pure)', () => {
  it('begins, adopts, keeps, and finds lost what this brain saw', () => {
    expect(historyFinding(undefined, null)).toBe('begins');
    expect(historyFinding(undefined, 'a@1')).toBe('adopted');
    expect(historyFinding('a@1', 'a@1')).toBe('kept');
    expect(historyFinding('a@1', null)).toBe('lost');
    expect(historyFinding('a@1', 'b@2')).toBe('lost');
    expect(appendOnly('# Persistence\r\nloading:0\r\naof_enabled:1\r\n')).toBe(true);
    expect(appendOnly('aof_enabled:0\r\n')).toBe(false);
    expect(appendOnly('')).toBeUndefined();
  });
});

describe('a brain and a Redis restart (issue 14 §5)', () => {
  const READ = 'history-read-token-01';
  const { logger, lines } = capturedLog('brain-history');
  let rig: BrainRig;
  let redisServer: RedisServer;
  let redis: Redis;
  let nc: NatsConnection;
  let brain: BrainService;
  let base: string;

  beforeAll(async () => {
    // the restarts below are on purpose: the rig's Redis keeps its data (appendonly)
    rig = await startBrainRig({
      tokens: { read: [READ], admin: [] },
      logger,
      redis: { persistent: true },
      adjust: (config) => {
        config.blocklist.sweepSeconds = 1;
      },
    });
    ({ redisServer, redis, nc, brain, base } = rig);
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
  });

  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${READ}` } })).json()) as T;
  const incidents = () => get<Page<IncidentView>>('/v1/incidents?site=site-h');
  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  /** Lets the brain's periodic check (blocklist.sweepSeconds: 1) run `n` times. */
  const sweeps = (n: number) => new Promise((resolve) => setTimeout(resolve, n * 1000 + 200));

  it('with persistence a Redis restart keeps the incidents and the marker: nothing to warn about', async () => {
    await jetstream(nc).publish(SUBJECTS.summaries('site-h', 'gw1'), encodeBatch({ site: 'site-h', instance: 'hist', sequence: 1, created: Date.now(), clients: [{ host: '192.168.9.5', ts: Date.now() }] }), { msgID: 'hist:1' });
    const before = await until('the incident', async () => {
      const page = await incidents();
      return page.items.length === 1 ? page.items[0] : undefined;
    });
    const marker = await redis.get(REDIS_KEYS.incidentHistory);
    expect(marker).toMatch(/^[0-9a-f-]{36}@\d+$/);

    await redisServer.restart();
    await until('Redis back for the brain', async () => ((await fetch(`${base}/health/ready`)).status === 200 ? true : undefined));
    await sweeps(2);
    expect((await incidents()).items).toEqual([before]);
    expect(await redis.get(REDIS_KEYS.incidentHistory)).toBe(marker);
    expect(brain.stats().incidentHistoryLost).toBe(0);
    expect(await get<{ warnings?: unknown }>('/health/ready')).not.toHaveProperty('warnings');
    expect(lines.filter((line) => /incident history|append-only/.test(line.msg))).toEqual([]);
  });

  it('a Redis that comes back without its data: the decisions return, the incidents cannot, and the brain says so loudly', async () => {
    await redisServer.restart({ lose: true });
    await until('the loss found', async () => (brain.stats().incidentHistoryLost === 1 ? true : undefined));
    expect((await incidents()).items).toEqual([]);
    // the host lock comes back from the brain's memory (the blocklist epoch), the incident does not
    await until('the decisions republished', async () => ((await redis.hexists(REDIS_KEYS.decisions, 'host:site-h:192.168.9.5')) === 1 ? true : undefined));
    const errors = lines.filter((line) => line.level === 'error' && line.msg.startsWith('incident history lost'));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toContain('keep Redis persistent (appendonly yes)');
    const health = await get<{ status: string; warnings: Record<string, string> }>('/health/ready');
    expect(health.status).toBe('ready');
    expect(health.warnings.incidentHistory).toMatch(/^incident history lost at \d{4}-\d\d-\d\dT[\d:.]+Z: Redis came back without its data; incidents recorded before then are gone$/);
    // found once: the new marker is the one this brain now remembers
    await sweeps(2);
    expect(brain.stats().incidentHistoryLost).toBe(1);
    expect(NO_AOF_WARNING).toContain('appendonly yes');
  });
});
