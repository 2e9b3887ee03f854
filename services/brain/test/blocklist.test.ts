import { REDIS_KEYS } from '@p2pwall/common';
import type { RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { decodeDecision, type BrainDecision } from '../src/decide/decision.js';
import { signatureDecisions } from '../src/decide/make.js';
import { observeBatch } from '@p2pwall/common/correlate';
import { BatchProcessor } from '../src/ingest/processor.js';
import { IncidentStore } from '../src/incidents/store.js';
import { batch, encodeBatch, flow, ip, rules, sent, summariesSubject, useRedisServer } from './support.js';

let server: RedisServer;
let redis: Redis;
let clock = 1_000_000;
const now = () => clock;

useRedisServer((client, started) => {
  redis = client;
  server = started;
});
beforeEach(async () => {
  await redis.flushall();
  clock = 1_000_000;
});

const writer = (minExtendMs = 10_000) => new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs, evidenceMaxItems: 32, now });
const peerDecision = (site = 'site-a', from = '10.0.0.1', port = 1214, transport?: p2pwall.v1.Transport) => {
  const r = rules();
  return signatureDecisions(observeBatch(batch({ site, peers: [{ ip: '198.51.100.9', port, from, transport }] }), clock), { rules: r, allowlist: new Allowlist(r.allowlist), nowMs: clock, sensor: `${site}/gw1/0` })[0]!;
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

  it('answers blocklist questions from memory, and names the peers newly blocked once', async () => {
    const w = writer();
    await w.upsert(peerDecision());
    await w.upsert(peerDecision('site-a', '10.0.0.1', 0)); // the whole address 198.51.100.9
    expect(w.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'tcp')).toBe(true);
    expect(w.isPeerBlocked('198.51.100.9:80', '198.51.100.9', 'udp')).toBe(true); // by its address
    expect(w.isPeerBlocked('198.51.100.10:1214', '198.51.100.10', 'tcp')).toBe(false);
    expect(w.takeNewPeerBlocks().map((d) => d.id).sort()).toEqual(['endpoint:198.51.100.9:1214', 'ip:198.51.100.9']);
    expect(w.takeNewPeerBlocks()).toEqual([]);
    await w.upsert(peerDecision('site-b', '10.0.0.2')); // more evidence: not a new block
    expect(w.takeNewPeerBlocks()).toEqual([]);
    clock += 7 * 86_400_000 + 1;
    expect(w.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'tcp')).toBe(false); // expired
  });

  it('keeps one decision per transport of a peer, and answers for the transport of the flow', async () => {
    const w = writer();
    expect(await w.upsert(peerDecision('site-a', '10.0.0.1', 1214, p2pwall.v1.Transport.TRANSPORT_UDP))).toBe('written');
    expect(w.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'udp')).toBe(true);
    expect(w.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'tcp')).toBe(false); // blocked for UDP only
    expect(await w.upsert(peerDecision('site-a', '10.0.0.1', 0, p2pwall.v1.Transport.TRANSPORT_TCP))).toBe('written'); // the whole address, TCP only
    expect(w.isPeerBlocked('198.51.100.9:80', '198.51.100.9', 'tcp')).toBe(true);
    expect(w.isPeerBlocked('198.51.100.9:80', '198.51.100.9', 'udp')).toBe(false);
    expect(await w.upsert(peerDecision('site-b', '10.0.0.2', 1214))).toBe('written'); // the same endpoint for both: another decision
    expect((await redis.hkeys(REDIS_KEYS.decisions)).sort()).toEqual(['endpoint:198.51.100.9:1214', 'endpoint:udp:198.51.100.9:1214', 'ip:tcp:198.51.100.9']);
    const udp = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'endpoint:udp:198.51.100.9:1214'))!);
    expect(udp).toMatchObject({ transport: p2pwall.v1.Transport.TRANSPORT_UDP, evidence: { hosts: ['site-a/10.0.0.1'] } }); // not merged with the both decision
    expect(await w.remove('endpoint:198.51.100.9:1214')).toBe(true);
    expect(w.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'udp')).toBe(true); // the UDP block stands
    expect(await w.remove('endpoint:udp:198.51.100.9:1214')).toBe(true);
    expect(w.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'udp')).toBe(false);
  });

  it('a memory copy another writer has changed since costs a retry, never evidence', async () => {
    const a = writer();
    const b = writer();
    expect(await a.upsert(peerDecision('site-a', '10.0.0.1'))).toBe('written');
    expect(await b.upsert(peerDecision('site-b', '10.0.0.2'))).toBe('written'); // a's copy is now out of date
    expect(await a.upsert(peerDecision('site-c', '10.0.0.3'))).toBe('written');
    expect(a.counters.conflicts).toBe(1);
    const stored = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'endpoint:198.51.100.9:1214'))!);
    expect(stored.evidence.hosts).toEqual(['site-a/10.0.0.1', 'site-b/10.0.0.2', 'site-c/10.0.0.3']);
    expect(await a.upsert(peerDecision('site-c', '10.0.0.3'))).toBe('skipped'); // nothing new: not even a read
  });

  it('a decision removed through one replica stays removed: the other forgets it on its next sweep', async () => {
    const a = writer();
    const b = writer();
    await a.upsert(peerDecision());
    await b.sweep();
    expect(b.known().map((d) => d.id)).toEqual(['endpoint:198.51.100.9:1214']);
    expect(await a.remove('endpoint:198.51.100.9:1214')).toBe(true);
    await b.sweep();
    await b.sweep();
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual([]);
    expect(b.known()).toEqual([]);
    expect(b.isPeerBlocked('198.51.100.9:1214', '198.51.100.9', 'tcp')).toBe(false);
  });

  it('after Redis lost everything, a replica whose sweep finds the epoch restored by another republishes what it knows', async () => {
    const a = writer();
    const b = writer();
    await a.upsert(peerDecision());
    await b.upsert(peerDecision('site-a', '10.0.0.1', 4662));
    await a.sweep();
    await b.sweep();
    await server.restart();
    await redis.ping();
    await a.sweep(); // restores the epoch, republishes both (it learned b's in its sweep)
    await redis.hdel(REDIS_KEYS.decisions, 'endpoint:198.51.100.9:4662'); // as if a had not known it
    await b.sweep();
    expect((await redis.hkeys(REDIS_KEYS.decisions)).sort()).toEqual(['endpoint:198.51.100.9:1214', 'endpoint:198.51.100.9:4662']);
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
    expect(await p.summary(data, summariesSubject())).toBe('processed');
    expect(await p.summary(data, summariesSubject())).toBe('duplicate');
    expect(await p.summary(Buffer.from('not a protobuf at all \xff\xff'), summariesSubject())).toBe('malformed');
    expect(p.counters).toMatchObject({ batches: 1, duplicates: 1, malformed: 1, flows: 30 });
    const key = REDIS_KEYS.hostEndpoints('site-a', '192.168.1.9');
    expect((await redis.hkeys(key)).filter((field) => field !== '#')).toHaveLength(30); // '#': the window's version
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // a second batch from another sequence adds 20 endpoints: 50 unanswered → the host is locked
    await p.summary(...sent({ sequence: 2, flows: Array.from({ length: 20 }, (_, i) => flow({ host: '192.168.1.9', to: `198.51.100.${i + 101}`, port: 40000, proto: 'udp' })) }));
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual(['host:site-a:192.168.1.9']);
  });

  it('an operator\'s allow entry keeps the brain from deciding the block it covers', async () => {
    const w = writer();
    const p = processor(w);
    const allow: BrainDecision = { ...peerDecision('site-a', '10.0.0.1'), id: 'allow:host:site-a:10.0.0.1', scope: p2pwall.v1.Scope.SCOPE_HOST, ip: ip('10.0.0.1'), port: 0, site: 'site-a', origin: p2pwall.v1.Origin.ORIGIN_MANUAL, action: p2pwall.v1.Action.ACTION_ALLOW, expiresMs: clock + 3_600_000 };
    await w.upsert(allow);
    await p.summary(...sent({ clients: [{ host: '10.0.0.1' }, { host: '10.0.0.2' }], peers: [{ ip: '198.51.100.9', port: 1214, from: '10.0.0.1' }] }));
    const ids = (await redis.hkeys(REDIS_KEYS.decisions)).sort();
    expect(ids).toEqual(['allow:host:site-a:10.0.0.1', 'endpoint:198.51.100.9:1214', 'host:site-a:10.0.0.2']);
    expect(p.counters.allowed).toBe(1);
  });

  it('decisions from a site in simulation are recorded as simulated, and become real with evidence from another site', async () => {
    const p = new BatchProcessor(redis, writer(), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000, simulatedSites: new Set(['site-a']), now });
    await p.summary(...sent({ clients: [{ host: '10.0.0.1' }], peers: [{ ip: '198.51.100.9', port: 1214, from: '10.0.0.1' }] }));
    const stored = async (id: string) => decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, id))!);
    expect((await stored('host:site-a:10.0.0.1')).simulated).toBe(true);
    expect((await stored('endpoint:198.51.100.9:1214')).simulated).toBe(true);
    await p.summary(...sent({ site: 'site-b', instance: 'b', peers: [{ ip: '198.51.100.9', port: 1214, from: '10.1.0.1' }] }));
    expect((await stored('endpoint:198.51.100.9:1214')).simulated).toBe(false);
  });

  it('records the incident of a client with its peers and the decisions taken because of it', async () => {
    const store = new IncidentStore(redis, { quietMs: 1_800_000, retentionMs: 86_400_000, maxSamples: 5, listItems: 5, now });
    const p = new BatchProcessor(redis, writer(), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000, incidents: { store, maxSamples: 5 }, now });
    await p.summary(...sent({ clients: [{ host: '10.0.0.1', rule: 'fasttrack/udp-ping' }], peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.0.0.1' })), flows: [flow({ host: '10.0.0.1', to: '198.51.100.1', port: 1214, app: 'fasttrack', rules: ['fasttrack/encrypted-handshake'] })] }));
    const { items } = await store.list({ site: 'site-a', limit: 10 });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ host: '10.0.0.1', protocol: 'fasttrack', gateways: ['gw1'], peers: { count: 3 }, bytes: 60 });
    expect(items[0]!.evidence.map((e) => e.rule).sort()).toEqual(['fasttrack/encrypted-handshake', 'fasttrack/udp-ping']);
    expect(items[0]!.decisions).toEqual(expect.arrayContaining(['host:site-a:10.0.0.1', 'endpoint:198.51.100.1:1214']));
    expect(p.counters.incidentFailures).toBe(0);
  });

  it('blocks learned for UDP only do not count for a host that reaches those peers over TCP', async () => {
    const p = processor();
    await p.summary(...sent({ site: 'site-b', peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.1.0.1', transport: p2pwall.v1.Transport.TRANSPORT_UDP })) }));
    expect((await redis.hkeys(REDIS_KEYS.decisions)).sort()).toEqual([1, 2, 3].map((i) => `endpoint:udp:198.51.100.${i}:1214`));
    const tcp = (instance: string, host: string) => encodeBatch({ site: 'site-a', instance, flows: [1, 2, 3].map((i) => flow({ host, to: `198.51.100.${i}`, port: 1214, answered: true })) });
    await p.summary(tcp('tcp', '192.168.1.70'), summariesSubject());
    expect(await p.reevaluateHosts()).toBe(0);
    expect(await redis.hexists(REDIS_KEYS.decisions, 'host:site-a:192.168.1.70')).toBe(0);
    await p.summary(...sent({ site: 'site-a', instance: 'udp', flows: [1, 2, 3].map((i) => flow({ host: '192.168.1.71', to: `198.51.100.${i}`, port: 1214, proto: 'udp', answered: true })) }));
    expect(decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.71'))!).evidence.rules).toEqual(['correlate/blocked-peers']);
  });

  it('a host reaching 3 blocked peers over TCP only is locked (signature peers first)', async () => {
    const p = processor();
    await p.summary(...sent({ site: 'site-b', peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.1.0.1' })) }));
    await p.summary(...sent({ site: 'site-a', instance: 'other', flows: [1, 2, 3].map((i) => flow({ host: '192.168.1.7', to: `198.51.100.${i}`, port: 1214, answered: true })) }));
    const ids = (await redis.hkeys(REDIS_KEYS.decisions)).sort();
    expect(ids).toContain('host:site-a:192.168.1.7');
    const d = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.7'))!);
    expect(d).toMatchObject({ site: 'site-a', origin: p2pwall.v1.Origin.ORIGIN_CORRELATION });
    expect(d.evidence.rules).toEqual(['correlate/blocked-peers']);
  });

  it('the same host is locked when its flows arrive before the peers were blocked (order-free, on the next sweep)', async () => {
    const p = processor();
    await p.summary(...sent({ site: 'site-a', instance: 'early', flows: [1, 2, 3].map((i) => flow({ host: '192.168.1.8', to: `198.51.100.${i}`, port: 1214, answered: true })) }));
    await p.summary(...sent({ site: 'site-b', instance: 'late', peers: [1, 2, 3].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.1.0.1' })) }));
    expect(await redis.hkeys(REDIS_KEYS.decisions)).not.toContain('host:site-a:192.168.1.8');
    expect(await p.reevaluateHosts()).toBe(1);
    const d = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.8'))!);
    expect(d.evidence.rules).toEqual(['correlate/blocked-peers']);
    // A second look changes nothing more.
    expect(await p.reevaluateHosts()).toBe(0);
  });

  it('the second look reads a window this replica copied from the copy, and from Redis once another replica merged into it', async () => {
    const hgetall = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const run = async (host: string, otherReplicaToo: boolean) => {
      const a = processor();
      // 12 members: large enough to be copied (window-mirror.ts); peers .11 and .12 among them
      await a.summary(...sent({ instance: `a-${host}`, flows: Array.from({ length: 12 }, (_, i) => flow({ host, to: `198.51.100.${i + 1}`, port: 1214, answered: true })) }));
      if (otherReplicaToo) await processor().summary(...sent({ instance: `b-${host}`, flows: [flow({ host, to: '198.51.100.13', port: 1214, answered: true })] }));
      await a.summary(...sent({ site: 'site-b', instance: `peers-${host}`, peers: [otherReplicaToo ? 13 : 10, 11, 12].map((i) => ({ ip: `198.51.100.${i}`, port: 1214, from: '10.1.0.1' })) }));
      expect(await redis.hexists(REDIS_KEYS.decisions, `host:site-a:${host}`)).toBe(0);
      const before = await hgetall();
      expect(await a.reevaluateHosts()).toBe(1);
      expect(decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, `host:site-a:${host}`))!).evidence.rules).toEqual(['correlate/blocked-peers']);
      return (await hgetall()) - before;
    };
    // exact copy: no window read; the other replica's member (.13, blocked) is only in Redis: read
    expect(await run('192.168.1.60', false)).toBe(0);
    expect(await run('192.168.1.61', true)).toBeGreaterThan(0);
  });

  it('two replicas merging into one large window in turn lock the host as one would', async () => {
    const w = writer();
    const replicas = [processor(w), processor(w)];
    // 6 batches × 10 unanswered UDP endpoints of one host, the replicas taking turns: correlate/udp-fanout at 50
    for (let i = 0; i < 6; i += 1) {
      const flows = Array.from({ length: 10 }, (_, j) => flow({ host: '192.168.1.40', to: `198.51.100.${10 * i + j + 1}`, port: 40000, proto: 'udp' }));
      expect(await replicas[i % 2]!.summary(...sent({ sequence: i + 1, flows }))).toBe('processed');
      expect(await redis.hexists(REDIS_KEYS.decisions, 'host:site-a:192.168.1.40')).toBe(i >= 4 ? 1 : 0);
    }
    const d = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.40'))!);
    expect(d.evidence).toMatchObject({ rules: ['correlate/udp-fanout'], count: 60 });
  });

  it('decisions of one id in a batch are written once', async () => {
    const w = writer();
    // a client event (signature lock) and 50 unanswered UDP endpoints (correlate/udp-fanout lock) of one host: one id, one change
    const flows = Array.from({ length: 50 }, (_, j) => flow({ host: '192.168.1.5', to: `198.51.100.${j + 1}`, port: 40000, proto: 'udp' }));
    await processor(w).summary(...sent({ clients: [{ host: '192.168.1.5' }], flows }));
    expect(await redis.get(REDIS_KEYS.blocklistVersion)).toBe('1');
    const host = decodeDecision((await redis.hgetBuffer(REDIS_KEYS.decisions, 'host:site-a:192.168.1.5'))!);
    expect(host).toMatchObject({ origin: p2pwall.v1.Origin.ORIGIN_SIGNATURE });
    expect(host.evidence.rules).toEqual(['correlate/udp-fanout', 'fasttrack/udp-ping']);
  });

  it('heartbeats land in the sensors hash', async () => {
    const p = processor();
    const beat = p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-a', gateway: 'gw1', queue: 0, instance: 'x' }, version: '0.1.0', blocklistVersion: 3 }).finish();
    expect(await p.heartbeat(beat, 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('heartbeat');
    expect(await redis.hkeys(REDIS_KEYS.sensors)).toEqual(['site-a/gw1/0']);
  });
});
