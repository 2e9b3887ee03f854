import { REDIS_KEYS } from '@p2pwall/common';
import { startRedis, type RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { decodeDecision } from '../src/decide/decision.js';
import { signatureDecisions } from '../src/decide/make.js';
import { observeBatch } from '../src/correlate/observe.js';
import { BatchProcessor } from '../src/ingest/processor.js';
import { batch, encodeBatch, flow, rules } from './support.js';

let server: RedisServer;
let redis: Redis;
let clock = 1_000_000;
const now = () => clock;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis.disconnect();
  await server.cleanup();
});
beforeEach(async () => {
  await redis.flushall();
  clock = 1_000_000;
});

const writer = (minExtendMs = 10_000) => new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs, evidenceMaxItems: 32, now });
const peerDecision = (site = 'site-a', from = '10.0.0.1', port = 1214) => {
  const r = rules();
  return signatureDecisions(observeBatch(batch({ site, peers: [{ ip: '198.51.100.9', port, from }] }), clock), { rules: r, allowlist: new Allowlist(r.allowlist), nowMs: clock, sensor: `${site}/gw1/0` })[0]!;
};

async function changes() {
  const entries = await redis.xrangeBuffer(REDIS_KEYS.blocklistChanges, '-', '+');
  return entries.map(([, fields]) => p2pwall.v1.BlocklistChange.decode(fields[1]!));
}

describe('blocklist writer', () => {
  it('upserts bump the version and append decodable changes; an identical upsert is skipped', async () => {
    const w = writer();
    expect(await w.upsert(peerDecision())).toBe('written');
    expect(await redis.get(REDIS_KEYS.blocklistVersion)).toBe('1');
    expect(await redis.exists(REDIS_KEYS.epoch)).toBe(1);
    expect(await w.upsert(peerDecision())).toBe('skipped');
    clock += 5000; // expiry 5 s later, same counts: below minExtend, skipped
    expect(await w.upsert(peerDecision())).toBe('skipped');
    expect(await w.upsert(peerDecision('site-b', '10.0.0.2'))).toBe('written'); // new evidence
    expect(await redis.get(REDIS_KEYS.blocklistVersion)).toBe('2');
    const list = await changes();
    expect(list.map((c) => [c.version, c.kind, c.decision?.id])).toEqual([
      [1, p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, 'endpoint:198.51.100.9:1214'],
      [2, p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, 'endpoint:198.51.100.9:1214'],
    ]);
    const stored = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'endpoint:198.51.100.9:1214'))!);
    expect(stored.evidence).toMatchObject({ hosts: ['site-a/10.0.0.1', 'site-b/10.0.0.2'], sites: ['site-a', 'site-b'], count: 2 });
    expect(list[1]!.decision!.evidence!.count).toBe(2);
  });

  it('two writers racing on one id lose nothing (compare-and-set)', async () => {
    const a = writer();
    const b = writer();
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).upsert(peerDecision('site-a', `10.0.0.${i + 1}`))));
    const stored = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'endpoint:198.51.100.9:1214'))!);
    expect(stored.evidence.count).toBe(20);
    expect(Number(await redis.get(REDIS_KEYS.blocklistVersion))).toBe((await changes()).length);
  });

  it('the sweep removes expired decisions with REMOVE changes', async () => {
    const w = writer();
    await w.upsert(peerDecision());
    clock += 7 * 86_400_000 + 1;
    expect(await w.sweep()).toMatchObject({ removed: 1 });
    expect(await redis.hlen(REDIS_KEYS.decisions)).toBe(0);
    const last = (await changes()).at(-1)!;
    expect(last).toMatchObject({ version: 2, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE, decisionId: 'endpoint:198.51.100.9:1214' });
  });

  it('Redis restarted empty: the next write or sweep sets a new epoch and republishes, with the version continuing', async () => {
    const w = writer();
    await w.upsert(peerDecision());
    await w.upsert(peerDecision('site-a', '10.0.0.1', 4662));
    const before = w.counters.epochsRestored; // 1: the first write into the fresh Redis set the first epoch
    await server.restart();
    await redis.ping();
    expect(await redis.hlen(REDIS_KEYS.decisions)).toBe(0);
    const result = await w.sweep();
    expect(result.active).toBe(2);
    expect((await redis.hkeys(REDIS_KEYS.decisions)).sort()).toEqual(['endpoint:198.51.100.9:1214', 'endpoint:198.51.100.9:4662']);
    expect(Number(await redis.get(REDIS_KEYS.blocklistVersion))).toBe(4); // floor 2, then two republished
    expect(w.counters.epochsRestored).toBe(before + 1);
  });

  it('a replica that never wrote learns the hash in its sweep, so it can republish too', async () => {
    await writer().upsert(peerDecision());
    const other = writer();
    await other.sweep();
    expect(other.known().map((d) => d.id)).toEqual(['endpoint:198.51.100.9:1214']);
  });
});

describe('batch processor on Redis', () => {
  const processor = (w = writer()) => new BatchProcessor(redis, w, { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000, now });

  it('a duplicate batch counts once; a malformed one is counted; state keys expire with the window', async () => {
    const p = processor();
    const data = encodeBatch({ flows: Array.from({ length: 30 }, (_, i) => flow({ host: '192.168.1.9', to: `198.51.100.${i + 1}`, port: 40000, proto: 'udp' })) });
    expect(await p.summary(data)).toBe('processed');
    expect(await p.summary(data)).toBe('duplicate');
    expect(await p.summary(Buffer.from('not a protobuf at all \xff\xff'))).toBe('malformed');
    expect(p.counters).toMatchObject({ batches: 1, duplicates: 1, malformed: 1, flows: 30 });
    const key = REDIS_KEYS.hostEndpoints('site-a', '192.168.1.9');
    expect(await redis.hlen(key)).toBe(30);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // a second batch from another sequence adds 20 endpoints: 50 unanswered → the host is locked
    await p.summary(encodeBatch({ sequence: 2, flows: Array.from({ length: 20 }, (_, i) => flow({ host: '192.168.1.9', to: `198.51.100.${i + 101}`, port: 40000, proto: 'udp' })) }));
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual(['host:site-a:192.168.1.9']);
  });

  it('a host reaching 3 blocked peers over TCP only is locked (signature peers first)', async () => {
    const p = processor();
    await p.summary(encodeBatch({ site: 'site-b', peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.1.0.1' })) }));
    await p.summary(encodeBatch({ site: 'site-a', instance: 'other', flows: [1, 2, 3].map((i) => flow({ host: '192.168.1.7', to: `198.51.100.${i}`, port: 1214, answered: true })) }));
    const ids = (await redis.hkeys(REDIS_KEYS.decisions)).sort();
    expect(ids).toContain('host:site-a:192.168.1.7');
    const d = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.7'))!);
    expect(d).toMatchObject({ site: 'site-a', origin: p2pwall.v1.Origin.ORIGIN_CORRELATION });
    expect(d.evidence.rules).toEqual(['corr.blocked-peers']);
  });

  it('the same host is locked when its flows arrive before the peers were blocked (order-free, on the next sweep)', async () => {
    const p = processor();
    await p.summary(encodeBatch({ site: 'site-a', instance: 'early', flows: [1, 2, 3].map((i) => flow({ host: '192.168.1.8', to: `198.51.100.${i}`, port: 1214, answered: true })) }));
    await p.summary(encodeBatch({ site: 'site-b', instance: 'late', peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.1.0.1' })) }));
    expect(await redis.hkeys(REDIS_KEYS.decisions)).not.toContain('host:site-a:192.168.1.8');
    expect(await p.reevaluateHosts()).toBe(1);
    const d = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.8'))!);
    expect(d.evidence.rules).toEqual(['corr.blocked-peers']);
    // A second look changes nothing more.
    expect(await p.reevaluateHosts()).toBe(0);
  });

  it('heartbeats land in the sensors hash', async () => {
    const p = processor();
    const beat = p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'x' }, version: '0.1.0', blocklistVersion: 3 }).finish();
    expect(await p.heartbeat(beat)).toBe('heartbeat');
    expect(await redis.hkeys(REDIS_KEYS.sensors)).toEqual(['site-a/gw1/0']);
  });
});
