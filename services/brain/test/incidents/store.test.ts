import { CidrSet } from '@p2pwall/common';
import type { RedisServer } from '@p2pwall/lab';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { useRedisServer } from '../support.js';
import { incidentUpdates, type BatchEvidence, type IncidentFlow } from '../../src/incidents/evidence.js';
import { IncidentStore, InvalidCursorError } from '../../src/incidents/store.js';

let server: RedisServer;
let redis: Redis;
let clock = 10_000_000;
const MINUTE = 60_000;
const QUIET = 30 * MINUTE;

useRedisServer((client, started) => {
  redis = client;
  server = started;
});
beforeEach(async () => {
  await redis.flushall();
  clock = 10_000_000;
});

const store = () => new IncidentStore(redis, { quietMs: QUIET, retentionMs: 90 * 24 * 60 * MINUTE, maxSamples: 3, listItems: 5, now: () => clock });

const ftFlow = (host: string, peer: string, ts: number, site = 'a'): IncidentFlow => ({
  site,
  hostIp: host,
  insidePort: 40000,
  endpoint: peer,
  outsideIp: peer.split(':')[0]!,
  protocol: 17,
  app: 'fasttrack',
  rules: ['fasttrack/udp-ping'],
  firstSeenMs: ts - 10,
  lastSeenMs: ts,
  packetsOut: 1,
  packetsIn: 0,
  bytesOut: 40,
  bytesIn: 0,
  droppedPackets: 0,
  dropped: false,
  ongoing: false,
});

const evidence = (over: Partial<BatchEvidence>): BatchEvidence => ({ gateway: 'gw1', flows: [], clients: [], peers: [], decisions: [], ...over });

async function record(s: IncidentStore, over: Partial<BatchEvidence>): Promise<string[]> {
  return s.record(incidentUpdates(evidence(over), 3));
}

describe('IncidentStore', () => {
  it('opens one incident per (site, host, protocol) episode and extends it while evidence keeps coming', async () => {
    const s = store();
    const [id] = await record(s, { clients: [{ site: 'a', hostIp: '192.168.1.5', protocol: 'fasttrack', rules: ['fasttrack/udp-ping'], tsMs: clock }] });
    expect(id).toMatch(/^a-[a-z0-9]+-[0-9a-f]{8}$/);
    const [again] = await record(s, { gateway: 'gw2', flows: [ftFlow('192.168.1.5', '203.0.113.7:1214', clock + MINUTE), ftFlow('192.168.1.5', '203.0.113.8:1214', clock + 2 * MINUTE)] });
    expect(again).toBe(id);
    const view = await s.get(id!);
    expect(view).toMatchObject({ id, site: 'a', host: '192.168.1.5', protocol: 'fasttrack', open: true, gateways: ['gw1', 'gw2'], attemptsBlocked: 0, bytes: 80 });
    expect(view!.firstSeen).toBe(new Date(clock).toISOString());
    expect(view!.lastSeen).toBe(new Date(clock + 2 * MINUTE).toISOString());
    expect(view!.evidence).toEqual([{ rule: 'fasttrack/udp-ping', count: 3 }]);
    expect(view!.peers).toEqual({ count: 2, sample: ['203.0.113.7:1214', '203.0.113.8:1214'] });
    expect(view!.samples).toHaveLength(2);
  });

  it('a gap longer than the quiet time starts a new incident; another protocol is another incident', async () => {
    const s = store();
    const [first] = await record(s, { flows: [ftFlow('192.168.1.5', '203.0.113.7:1214', clock)] });
    const [other] = await record(s, { flows: [{ ...ftFlow('192.168.1.5', '203.0.113.7:6881', clock + 1000), app: 'bittorrent', rules: ['bittorrent/handshake'] }] });
    clock += QUIET + 5 * MINUTE;
    const [second] = await record(s, { flows: [ftFlow('192.168.1.5', '203.0.113.7:1214', clock)] });
    expect(new Set([first, other, second]).size).toBe(3);
    expect((await s.get(first!))!.open).toBe(false);
    expect((await s.get(second!))!.open).toBe(true);
  });

  it('payload-free findings and blocked attempts join the open episode; alone, only a finding opens one', async () => {
    const s = store();
    expect(await record(s, { flows: [{ ...ftFlow('192.168.1.9', '203.0.113.7:1214', clock), app: '', rules: [], dropped: true, droppedPackets: 2 }] })).toEqual(['']);
    const [ft] = await record(s, { clients: [{ site: 'a', hostIp: '192.168.1.9', protocol: 'fasttrack', rules: [], tsMs: clock }] });
    const [joined] = await record(s, {
      flows: [{ ...ftFlow('192.168.1.9', '203.0.113.7:1214', clock + 1000), app: '', rules: [], dropped: true, droppedPackets: 2 }],
      decisions: [{ id: 'host:a:192.168.1.9', hosts: ['a/192.168.1.9'], findings: ['correlate/blocked-peers'], tsMs: clock + 1000 }],
    });
    expect(joined).toBe(ft);
    const view = await s.get(ft!);
    expect(view).toMatchObject({ protocol: 'fasttrack', attemptsBlocked: 2, decisions: ['host:a:192.168.1.9'], decisionCount: 1 });
    expect(view!.evidence.map((e) => e.rule).sort()).toEqual(['client-identified', 'correlate/blocked-peers']);
    const [unknown] = await record(s, { decisions: [{ id: 'host:b:192.168.2.6', hosts: ['b/192.168.2.6'], findings: ['correlate/udp-fanout'], tsMs: clock }] });
    expect((await s.get(unknown!))!.protocol).toBe('unknown');
  });

  it('two writers at once extend one incident and lose no count', async () => {
    const a = store();
    const b = store();
    const other = new Redis(server.url, { maxRetriesPerRequest: null });
    try {
      const c = new IncidentStore(other, { quietMs: QUIET, retentionMs: 90 * 24 * 60 * MINUTE, maxSamples: 3, listItems: 5, now: () => clock });
      const writes = Array.from({ length: 40 }, (_, i) => [a, b, c][i % 3]!).map((s, i) => record(s, { flows: [ftFlow('192.168.1.5', `203.0.113.${i}:1214`, clock + i)] }));
      const ids = (await Promise.all(writes)).flat();
      expect(new Set(ids).size).toBe(1);
      const view = await a.get(ids[0]!);
      expect(view!.peers.count).toBe(40);
      expect(view!.evidence).toEqual([{ rule: 'fasttrack/udp-ping', count: 40 }]);
      expect(view!.bytes).toBe(40 * 40);
    } finally {
      other.disconnect();
    }
  });

  it('filters by site, gateway, host, protocol, peer and time, newest first, with cursor pagination', async () => {
    const s = store();
    for (let h = 1; h <= 30; h++) {
      const site = h % 2 === 0 ? 'b' : 'a';
      await record(s, { gateway: h % 3 === 0 ? 'gw2' : 'gw1', flows: [ftFlow(`192.168.${site === 'a' ? 1 : 2}.${h}`, `203.0.113.${h % 5}:1214`, clock + h * 1000, site)] });
    }
    const all = await s.list({ limit: 100 });
    expect(all.items).toHaveLength(30);
    expect(all.nextCursor).toBeNull();
    expect(all.items.map((i) => i.host)[0]).toBe('192.168.2.30');
    const times = all.items.map((i) => Date.parse(i.lastSeen));
    expect([...times].sort((x, y) => y - x)).toEqual(times);

    const siteB = await s.list({ site: 'b', limit: 100 });
    expect(siteB.items.map((i) => i.site)).toEqual(Array(15).fill('b'));
    const gw2b = await s.list({ site: 'b', gateway: 'gw2', limit: 100 });
    expect(gw2b.items.map((i) => i.host).sort()).toEqual(['192.168.2.12', '192.168.2.18', '192.168.2.24', '192.168.2.30', '192.168.2.6']);
    expect((await s.list({ host: '192.168.1.7', limit: 10 })).items.map((i) => i.host)).toEqual(['192.168.1.7']);
    expect((await s.list({ protocol: 'bittorrent', limit: 10 })).items).toEqual([]);
    const viaPeer = await s.list({ peer: '203.0.113.2', limit: 100 });
    expect(viaPeer.items.map((i) => i.host).sort()).toEqual(['192.168.1.17', '192.168.1.27', '192.168.1.7', '192.168.2.12', '192.168.2.2', '192.168.2.22']);
    expect((await s.list({ peer: '203.0.113.2:1214', site: 'a', limit: 100 })).items).toHaveLength(3);
    expect((await s.list({ peer: '203.0.113.2:9999', site: 'a', limit: 100 })).items).toHaveLength(0);
    expect((await s.list({ since: clock + 25_000, limit: 100 })).items).toHaveLength(6);
    expect((await s.list({ until: clock + 5_000, limit: 100 })).items).toHaveLength(5);

    // By inside network and by rule (an id or its protocol).
    expect((await s.list({ range: new CidrSet(['192.168.2.0/28']), limit: 100 })).items.map((i) => i.host).sort()).toEqual(['192.168.2.10', '192.168.2.12', '192.168.2.14', '192.168.2.2', '192.168.2.4', '192.168.2.6', '192.168.2.8']);
    expect((await s.list({ rule: 'fasttrack', limit: 100 })).items).toHaveLength(30);
    expect((await s.list({ rule: 'fasttrack/udp-ping', site: 'a', limit: 100 })).items).toHaveLength(15);
    expect((await s.list({ rule: 'bittorrent', limit: 100 })).items).toEqual([]);

    // By peer, too, newest first by each incident's own last seen, however long ago it reached the peer.
    await record(s, { flows: [ftFlow('192.168.1.7', '203.0.113.99:1214', clock + 100_000)] });
    const viaPeerOrder = await s.list({ peer: '203.0.113.2', limit: 100 });
    expect(viaPeerOrder.items[0]!.host).toBe('192.168.1.7');
    const peerTimes = viaPeerOrder.items.map((i) => Date.parse(i.lastSeen));
    expect([...peerTimes].sort((x, y) => y - x)).toEqual(peerTimes);
    const peerPage = await s.list({ peer: '203.0.113.2', limit: 4 });
    const peerRest = await s.list({ peer: '203.0.113.2', limit: 4, cursor: peerPage.nextCursor! });
    expect([...peerPage.items, ...peerRest.items].map((i) => i.host)).toEqual(viaPeerOrder.items.map((i) => i.host));
    expect(await redis.keys('*incidents:listing:*')).toEqual([]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await s.list({ site: 'a', limit: 4, ...(cursor ? { cursor } : {}) });
      pages.push(page.items.map((i) => i.host));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 3]);
    expect(new Set(pages.flat()).size).toBe(15);
    await expect(s.list({ limit: 5, cursor: 'garbage!' })).rejects.toBeInstanceOf(InvalidCursorError);
  });
});

describe('IncidentStore: who, when and why (issue 14 §6-8)', () => {
  it("last seen is the host's own last packet: a decision refreshed for other hosts (another site) or written at a UDP flow's idle-timeout end moves neither time", async () => {
    const s = store();
    const lastPacket = clock;
    const [id] = await record(s, { flows: [ftFlow('192.168.1.5', '203.0.113.7:1214', lastPacket)] });
    // 61 s later the flow's final summary has been correlated and a peer block written; later still,
    // hosts of site b reach the same peer and the block (naming a/192.168.1.5 too) is refreshed
    clock += 61_000;
    await record(s, { decisions: [{ id: 'endpoint:203.0.113.7:1214', hosts: ['a/192.168.1.5'], findings: [], tsMs: clock }] });
    clock += 5 * MINUTE;
    await record(s, { gateway: 'gw9', decisions: [{ id: 'endpoint:203.0.113.7:1214', hosts: ['a/192.168.1.5', 'b/192.168.2.9'], findings: [], tsMs: clock }] });
    const view = await s.get(id!);
    expect(view!.lastSeen).toBe(new Date(lastPacket).toISOString());
    expect(view!.firstSeen).toBe(new Date(lastPacket - 10).toISOString());
    expect(view!.decisions).toEqual(['endpoint:203.0.113.7:1214']);
    // and the list's order (by last seen) follows the host, not the decision
    expect(await redis.zscore('p2pwall:v1:incidents:by-all:', id!)).toBe(String(lastPacket));
  });

  it('a blocked attempt counts when its interim summary arrives, provisionally; the final summary adds only what is new', async () => {
    const s = store();
    const [id] = await record(s, { clients: [{ site: 'a', hostIp: '192.168.1.9', protocol: 'fasttrack', rules: [], tsMs: clock }] });
    const attempt = { ...ftFlow('192.168.1.9', '203.0.113.7:1214', clock + 100), dropped: true, droppedPackets: 1, ongoing: true };
    await record(s, { flows: [attempt] });
    expect(await s.get(id!)).toMatchObject({ attemptsBlocked: 1, bytes: 40, liveFlows: 1, provisional: true });
    // the client retries over the same flow: the next interim summary says 3 so far
    await record(s, { flows: [{ ...attempt, lastSeenMs: clock + 5000, droppedPackets: 3, bytesOut: 120 }] });
    expect(await s.get(id!)).toMatchObject({ attemptsBlocked: 3, bytes: 120, liveFlows: 1, provisional: true });
    // the final summary repeats the totals: nothing is counted twice, and the counts are final
    await record(s, { flows: [{ ...attempt, lastSeenMs: clock + 5000, droppedPackets: 3, bytesOut: 120, ongoing: false }] });
    expect(await s.get(id!)).toMatchObject({ attemptsBlocked: 3, bytes: 120, liveFlows: 0, provisional: false });
    // a flow summarized only at its end counts then, as before
    await record(s, { flows: [{ ...attempt, insidePort: 40001, droppedPackets: 2, ongoing: false }] });
    expect(await s.get(id!)).toMatchObject({ attemptsBlocked: 5, bytes: 160, liveFlows: 0, provisional: false });
  });

  it('keeps the first identification (rule, detail, packet, flow) and puts its rule first in the evidence', async () => {
    const s = store();
    const identifying = { rule: 'fasttrack/udp-ping', detail: 'network KaZaA', flow: 'udp 192.168.1.5:3531 > 203.0.113.1:41477', packet: 7 };
    const [id] = await record(s, { clients: [{ site: 'a', hostIp: '192.168.1.5', protocol: 'fasttrack', rules: ['fasttrack/udp-ping'], tsMs: clock + 1000, identifying }] });
    // later evidence of the same episode: many payload-free findings, and a later identification
    await record(s, {
      clients: [{ site: 'a', hostIp: '192.168.1.5', protocol: 'fasttrack', rules: ['fasttrack/x-kazaa-header'], tsMs: clock + 9000, identifying: { ...identifying, rule: 'fasttrack/x-kazaa-header', packet: 90 } }],
      flows: Array.from({ length: 5 }, (_, k) => ({ ...ftFlow('192.168.1.5', `203.0.113.${k}:1214`, clock + 2000), rules: ['fasttrack/give-push'] })),
    });
    const view = await s.get(id!);
    expect(view!.identifiedBy).toEqual({ ...identifying, seen: new Date(clock + 1000).toISOString(), gateway: 'gw1' });
    expect(view!.evidence.map((e) => e.rule)).toEqual(['fasttrack/udp-ping', 'fasttrack/give-push', 'fasttrack/x-kazaa-header']);
  });
});

describe('IncidentStore caps (issue 12 §8)', () => {
  const capped = (maxPerSite: number, maxTotal: number) => new IncidentStore(redis, { quietMs: QUIET, retentionMs: 90 * 24 * 60 * MINUTE, maxPerSite, maxTotal, maxSamples: 3, listItems: 5, now: () => clock });
  /** One new incident of host `n` at `site`, last seen at clock + n minutes, with a peer of its own. */
  const open = (s: IncidentStore, site: string, n: number) => record(s, { flows: [ftFlow(`192.168.${n >> 8}.${n & 255}`, `203.0.113.${n & 255}:${1000 + n}`, clock + n * MINUTE, site)] });

  it('a site flooding incidents pushes out its own oldest beyond maxPerSite, never another site\'s; every eviction is counted and leaves no index entry', async () => {
    const s = capped(50, 1000);
    const [other] = await open(s, 'b', 0);
    for (let n = 1; n <= 200; n += 1) await open(s, 'a', n);
    expect(s.evicted).toBe(150);
    expect(await redis.zcard('p2pwall:v1:incidents:by-site:a')).toBe(50);
    expect(await redis.zcard('p2pwall:v1:incidents:by-all:')).toBe(51);
    expect(await s.get(other!)).toBeDefined();
    // the newest 50 of site a are left; nothing points at the evicted ones
    const page = await s.list({ site: 'a', limit: 1000 });
    expect(page.items.map((i) => i.host)).toEqual(Array.from({ length: 50 }, (_, k) => 200 - k).map((n) => `192.168.${n >> 8}.${n & 255}`));
    expect(await redis.exists('p2pwall:v1:incidents:by-peer:203.0.113.1', 'p2pwall:v1:incidents:by-host:192.168.0.1')).toBe(0);
    expect(await redis.zcard('p2pwall:v1:incidents:by-gateway:gw1')).toBe(51);
    const keys = await redis.keys('p2pwall:v1:incident:*');
    expect(keys.filter((k) => !/:(peers|samples|decisions)$/.test(k))).toHaveLength(51);
  });

  it('maxTotal holds across sites, and Redis memory stays flat once the cap is reached', async () => {
    const s = capped(1000, 100);
    for (let n = 0; n < 100; n += 1) await open(s, `s${n % 4}`, n);
    const full = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    for (let n = 100; n < 600; n += 1) await open(s, `s${n % 4}`, n);
    expect(s.evicted).toBe(500);
    expect(await redis.zcard('p2pwall:v1:incidents:by-all:')).toBe(100);
    // 500 more incidents without the cap: ~1.5 MB more; with it, the same 100 incidents' worth
    expect(Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]) - full).toBeLessThan(200 * 1024);
  });
});
