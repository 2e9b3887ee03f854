import { CONSUMERS, createLogger, REDIS_KEYS, STREAMS, SUBJECTS } from '@p2pwall/common';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNats, startRedis, type NatsServer, type RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBrainConfig, type BrainConfig } from '../src/config.js';
import { decodeDecision } from '../src/decide/decision.js';
import { BrainService } from '../src/ingest/serve.js';
import { encodeBatch, flow, type BatchSpec } from './support.js';

const log = createLogger({ name: 'brain-test', level: 'error' });

interface Rig {
  nats: NatsServer;
  redisServer: RedisServer;
  redis: Redis;
  nc: NatsConnection;
  brains: BrainService[];
}
const rigs: Rig[] = [];

afterEach(async () => {
  for (const rig of rigs.splice(0)) {
    await Promise.all(rig.brains.map((b) => b.stop()));
    await rig.nc.close();
    rig.redis.disconnect();
    await rig.nats.cleanup();
    await rig.redisServer.cleanup();
  }
});

function config(nats: string, redis: string): BrainConfig {
  const c = loadBrainConfig(undefined, {});
  c.nats.servers = [nats];
  c.redis.url = redis;
  c.blocklist.sweepSeconds = 1;
  c.stream.storage = 'memory';
  c.api.enabled = false; // test/api/ covers the API; several replicas here would share its port
  return c;
}

async function rig(replicas: number): Promise<Rig> {
  const [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  const r: Rig = { nats, redisServer, redis: new Redis(redisServer.url, { maxRetriesPerRequest: null }), nc: await connect({ servers: nats.url }), brains: [] };
  rigs.push(r);
  for (let i = 0; i < replicas; i += 1) {
    const brain = new BrainService(config(nats.url, redisServer.url), log);
    await brain.start();
    r.brains.push(brain);
  }
  return r;
}

async function publish(r: Rig, spec: BatchSpec, data = encodeBatch(spec), msgID?: string): Promise<void> {
  const js = jetstream(r.nc);
  await js.publish(SUBJECTS.summaries(spec.site ?? 'site-a', spec.gateway ?? 'gw1'), data, { msgID: msgID ?? `${spec.instance ?? 'inst-1'}:${spec.sequence ?? 1}` });
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const total = (r: Rig, key: 'batches' | 'duplicates' | 'malformed' | 'heartbeats') => r.brains.reduce((n, b) => n + b.stats().ingest[key], 0);

describe('p2pwall-brain serve (real nats-server and redis-server)', () => {
  it('summaries in JetStream become decisions in Redis; the latency and ingest rate are measured', async () => {
    const r = await rig(1);
    const t0 = performance.now();
    await publish(r, { clients: [{ host: '192.168.1.5' }], peers: [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }] });
    await until('decisions', async () => (await r.redis.hlen(REDIS_KEYS.decisions)) === 2);
    const latencyMs = performance.now() - t0;
    expect((await r.redis.hkeys(REDIS_KEYS.decisions)).sort()).toEqual(['endpoint:198.51.100.9:1214', 'host:site-a:192.168.1.5']);
    expect(latencyMs).toBeLessThan(2000);

    const count = 500;
    const t1 = performance.now();
    const js = jetstream(r.nc);
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const spec: BatchSpec = { instance: 'rate', sequence: i + 1, flows: Array.from({ length: 20 }, (_, j) => flow({ host: `192.168.${i % 200}.${j + 1}`, to: `203.0.113.${j + 1}`, port: 443, answered: true })) };
        return js.publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch(spec), { msgID: `rate:${i + 1}` });
      }),
    );
    await until('all batches', async () => total(r, 'batches') === count + 1, 30_000);
    const seconds = (performance.now() - t1) / 1000;
    process.stdout.write(`brain e2e: first decision ${latencyMs.toFixed(1)} ms after publish; ${count} batches × 20 flows in ${seconds.toFixed(2)} s = ${(count / seconds).toFixed(0)} batches/s, ${((count * 20) / seconds).toFixed(0)} flows/s\n`);
  });

  it('a malformed message is acked and counted; a duplicate batch (redelivered under another msg id) counts once; heartbeats are stored', async () => {
    const r = await rig(1);
    await r.nc.publish(SUBJECTS.summaries('site-a', 'gw1'), new Uint8Array([0xff, 0xff, 0xff, 0x01]));
    await jetstream(r.nc).publish(SUBJECTS.summaries('site-a', 'gw1'), new Uint8Array([0x0a, 0x00]), { msgID: 'junk' }); // a batch without a sensor id
    const spec: BatchSpec = { site: 'site-a', sequence: 7, peers: [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }] };
    await publish(r, spec, undefined, 'a');
    await publish(r, spec, undefined, 'b');
    await until('processed', async () => total(r, 'batches') + total(r, 'duplicates') + total(r, 'malformed') >= 3);
    await until('all', async () => total(r, 'malformed') === 1 + 1 && total(r, 'batches') === 1 && total(r, 'duplicates') === 1);
    const jsm = await jetstreamManager(r.nc);
    await until('acks', async () => {
      const info = await jsm.consumers.info(STREAMS.summaries, CONSUMERS.brain);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    expect(await r.redis.get(REDIS_KEYS.blocklistVersion)).toBe('1');
    const beat = p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'x' }, version: '0.1.0' }).finish();
    await jetstream(r.nc).publish(SUBJECTS.heartbeats('site-a', 'gw1'), beat);
    await until('heartbeat', async () => (await r.redis.hexists(REDIS_KEYS.sensors, 'site-a/gw1/0')) === 1);
  });

  it('Redis restarted empty: the decisions are republished', async () => {
    const r = await rig(1);
    await publish(r, { peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '192.168.1.5' })) });
    await until('decisions', async () => (await r.redis.hlen(REDIS_KEYS.decisions)) === 3);
    const t0 = performance.now();
    await r.redisServer.restart();
    await until('republished', async () => (await r.redis.hlen(REDIS_KEYS.decisions).catch(() => 0)) === 3, 15_000);
    process.stdout.write(`brain e2e: decisions back ${(performance.now() - t0).toFixed(0)} ms after the Redis restart (sweep every 1 s)\n`);
    expect(await r.redis.exists(REDIS_KEYS.epoch)).toBe(1);
  });

  it('two replicas on one stream reach the same decisions as one', async () => {
    // a scenario: signature evidence at two sites, a peer-cache fan-out, a UDP fan-out and TCP/UDP pairs
    const specs: BatchSpec[] = [];
    let sequence = 0;
    const next = (spec: BatchSpec) => specs.push({ instance: `i-${spec.site}`, sequence: ++sequence, ...spec });
    next({ site: 'site-a', clients: [{ host: '192.168.1.5' }], peers: [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }] });
    next({ site: 'site-b', peers: [{ ip: '198.51.100.9', port: 1214, from: '10.2.0.5' }, { ip: '198.51.100.10', port: 0, from: '10.2.0.5' }, { ip: '198.51.100.10', port: 0, from: '10.2.0.6' }] }); // address-wide: two witnesses (decide/sane-block.ts)
    for (const [site, host] of [['site-a', '192.168.1.20'], ['site-b', '10.2.0.20'], ['site-b', '10.2.0.21']] as const) next({ site, flows: [flow({ host, to: '203.0.113.50', port: 3531, proto: 'udp', app: 'fasttrack', rules: ['fasttrack/udp-ping'], ts: Date.now() })] });
    for (let chunk = 0; chunk < 6; chunk += 1) next({ site: 'site-a', flows: Array.from({ length: 10 }, (_, i) => flow({ host: '192.168.1.30', to: `198.18.${chunk}.${i + 1}`, port: 20000 + i, proto: 'udp', answered: i === 0, ts: Date.now() })) });
    for (let i = 0; i < 6; i += 1) next({ site: 'site-b', flows: [flow({ host: '10.2.0.40', to: `198.18.9.${i + 1}`, port: 6346, proto: 'udp', answered: true, ts: Date.now() }), flow({ host: '10.2.0.40', to: `198.18.9.${i + 1}`, port: 6346, answered: true, ts: Date.now() })] });

    const outcome = async (replicas: number) => {
      const r = await rig(replicas);
      for (const spec of specs) await publish(r, spec);
      await until('all batches', async () => total(r, 'batches') === specs.length, 20_000);
      const all = await r.redis.hgetallBuffer(REDIS_KEYS.decisions);
      const view = Object.entries(all)
        .map(([id, value]) => {
          const d = decodeDecision(value);
          return { id, scope: d.scope, site: d.site, origin: d.origin, hosts: d.evidence.hosts, sites: d.evidence.sites, rules: d.evidence.rules, count: d.evidence.count };
        })
        .sort((a, b) => a.id.localeCompare(b.id));
      const perReplica = r.brains.map((b) => b.stats().ingest.batches);
      return { view, perReplica };
    };
    const one = await outcome(1);
    const two = await outcome(2);
    expect(one.view.map((d) => d.id)).toEqual([
      'endpoint:198.51.100.9:1214',
      'endpoint:203.0.113.50:3531',
      'host:site-a:192.168.1.20',
      'host:site-a:192.168.1.30',
      'host:site-a:192.168.1.5',
      'host:site-b:10.2.0.20',
      'host:site-b:10.2.0.21',
      'host:site-b:10.2.0.40',
      'ip:198.51.100.10',
    ]);
    expect(two.view).toEqual(one.view);
    process.stdout.write(`brain e2e: two replicas split ${specs.length} batches as ${two.perReplica.join(' + ')}\n`);
  });
});
