import { CidrSet, createLogger, REDIS_KEYS } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { BatchProcessor } from '../src/ingest/processor.js';
import { sensorView } from '../src/api/convert.js';
import { encodeBatch, rules, sent, summariesSubject, type BatchSpec, useRedisServer } from './support.js';

/** Issue 12: a sensor speaks only for its own site and gateway — the subject, not the payload, says who it is. */

let redis: Redis;
let clock = 1_000_000;
const now = () => clock;
let logLines: { msg: string; subject?: string }[] = [];
const log = createLogger({ name: 'trust-test', level: 'warn', destination: { write: (line: string) => void logLines.push(JSON.parse(line) as { msg: string }) } });

useRedisServer((client) => {
  redis = client;
});
beforeEach(async () => {
  await redis.flushall();
  clock = 1_000_000;
  logLines = [];
});

const processor = (maxNewDecisionsPerSensorPerMinute?: number) =>
  new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32, now }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000, now, log, ...(maxNewDecisionsPerSensorPerMinute ? { maxNewDecisionsPerSensorPerMinute } : {}) });

/** What a sensor of site-b would love site-a's brain to do: lock a host of site-b and block a peer everywhere. */
const forged: BatchSpec = { site: 'site-b', gateway: 'gw9', instance: 'forger', clients: [{ host: '10.1.0.5' }], peers: [{ ip: '198.51.100.77', port: 1214, from: '10.1.0.5' }] };

describe('sensor identity from the subject (real redis-server)', () => {
  it('a batch on site-a/gw1 naming site-b/gw9 in its payload is counted as an impersonation, decides nothing, and is logged once a minute', async () => {
    const p = processor();
    for (let sequence = 1; sequence <= 3; sequence += 1) {
      expect(await p.summary(encodeBatch({ ...forged, sequence }), summariesSubject('site-a', 'gw1'))).toBe('impersonation');
    }
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual([]);
    expect(p.counters).toMatchObject({ impersonations: 3, batches: 0, decisions: 0 });
    expect(logLines.filter((l) => l.subject === 'site-a/gw1')).toHaveLength(1);
    clock += 60_000;
    expect(await p.summary(encodeBatch({ ...forged, sequence: 4 }), summariesSubject('site-a', 'gw1'))).toBe('impersonation');
    expect(logLines.filter((l) => l.subject === 'site-a/gw1')).toHaveLength(2);
    // the same batch from its own subject is processed
    expect(await p.summary(...sent(forged))).toBe('processed');
    expect((await redis.hkeys(REDIS_KEYS.decisions)).sort()).toEqual(['endpoint:198.51.100.77:1214', 'host:site-b:10.1.0.5']);
  });

  it('a message on a subject that is not a sensor subject is malformed', async () => {
    const p = processor();
    expect(await p.summary(encodeBatch(forged), 'p2pwall.v1.summaries.site-b')).toBe('malformed');
    expect(await p.summary(encodeBatch(forged), 'p2pwall.v1.heartbeats.site-b.gw9')).toBe('malformed');
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual([]);
  });

  it("another sensor cannot pre-claim a batch's duplicate marker (same instance and sequence, its own subject)", async () => {
    const p = processor();
    const victim: BatchSpec = { site: 'site-a', gateway: 'gw1', instance: 'inst-1', sequence: 7, clients: [{ host: '192.168.1.5' }] };
    expect(await p.summary(...sent({ site: 'site-b', gateway: 'gw9', instance: 'inst-1', sequence: 7 }))).toBe('processed');
    expect(await p.summary(...sent(victim))).toBe('processed');
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual(['host:site-a:192.168.1.5']);
    expect(await p.summary(...sent(victim))).toBe('duplicate');
  });

  it('a heartbeat is stored only under the sensor its subject names', async () => {
    const p = processor();
    const beat = (site: string, gateway: string) => p2pwall.v1.Heartbeat.encode({ sensor: { site, gateway, queue: 0, instance: 'x' }, version: '0.1.0' }).finish();
    expect(await p.heartbeat(beat('site-b', 'gw9'), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('impersonation');
    expect(await p.heartbeat(beat('site-a', 'gw1'), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('heartbeat');
    expect(await redis.hkeys(REDIS_KEYS.sensors)).toEqual(['site-a/gw1/0']);
  });
});

describe('decisions are sane whatever a sensor says (real redis-server)', () => {
  it('a learned peer that is a reserved or inside address is never blocked', async () => {
    const p = processor();
    const unblockable = ['10.9.9.9', '172.20.0.1', '192.168.7.7', '100.64.0.9', '127.0.0.1', '169.254.1.1', '224.0.0.251', '255.255.255.255', '0.0.0.0', 'fd00::1', 'fe80::1', '::1', '::ffff:10.0.0.1'];
    const peers = unblockable.map((address) => ({ ip: address, port: 1214, from: '192.168.1.5' }));
    expect(await p.summary(...sent({ peers: [...peers, { ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }] }))).toBe('processed');
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual(['endpoint:198.51.100.9:1214']);
    expect(p.counters).toMatchObject({ refusedReserved: 8, refusedInside: 5 });
  });

  it("the organisation's public networks (insideNetworks) are inside too: never blocked as peers", async () => {
    const p = new BatchProcessor(redis, new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32, now }), { rules: rules(), allowlist: new Allowlist({ hosts: [], endpoints: [] }), dedupMs: 60_000, now, log, insideNetworks: new CidrSet(['198.51.100.0/25']) });
    const peers = [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }, { ip: '198.51.100.200', port: 1214, from: '192.168.1.5' }];
    expect(await p.summary(...sent({ peers }))).toBe('processed');
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual(['endpoint:198.51.100.200:1214']);
    expect(p.counters).toMatchObject({ refusedInside: 1 });
  });

  it('an address-wide block (every port) needs more than one host or site', async () => {
    const p = processor();
    expect(await p.summary(...sent({ sequence: 1, peers: [{ ip: '203.0.113.50', port: 0, from: '192.168.1.5' }] }))).toBe('processed');
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual([]);
    expect(p.counters.refusedSingleWitness).toBe(1);
    expect(
      await p.summary(
        ...sent({
          sequence: 2,
          peers: [
            { ip: '203.0.113.50', port: 0, from: '192.168.1.5' },
            { ip: '203.0.113.50', port: 0, from: '192.168.1.6' },
          ],
        }),
      ),
    ).toBe('processed');
    expect(await redis.hkeys(REDIS_KEYS.decisions)).toEqual(['ip:203.0.113.50']);
  });

  it("a sensor's new decisions per minute are bounded; the excess is counted and logged once, updates of active decisions pass", async () => {
    const p = processor(5);
    const peers = (from: number) => Array.from({ length: 20 }, (_, i) => ({ ip: `198.51.100.${i + 1}`, port: 1214, from: `192.168.1.${from}` }));
    expect(await p.summary(...sent({ sequence: 1, peers: peers(5) }))).toBe('processed');
    expect(await redis.hlen(REDIS_KEYS.decisions)).toBe(5);
    expect(p.counters).toMatchObject({ decisions: 5, overBudget: 15 });
    // new evidence for the 5 active blocks passes; the 15 others are still over the budget this minute
    expect(await p.summary(...sent({ sequence: 2, peers: peers(6) }))).toBe('processed');
    expect(p.counters).toMatchObject({ decisions: 10, overBudget: 30 });
    expect(logLines.filter((l) => l.msg.startsWith('sensor over its budget'))).toHaveLength(1);
    // another sensor has a budget of its own
    expect(await p.summary(...sent({ site: 'site-b', gateway: 'gw2', peers: peers(7) }))).toBe('processed');
    expect(await redis.hlen(REDIS_KEYS.decisions)).toBe(10);
    clock += 60_000;
    expect(await p.summary(...sent({ sequence: 3, peers: peers(8) }))).toBe('processed');
    expect(await redis.hlen(REDIS_KEYS.decisions)).toBe(15);
  });
});

describe('the sensors list (real redis-server)', () => {
  const beat = (site: string, gateway: string, extra: Partial<p2pwall.v1.IHeartbeat> = {}) => p2pwall.v1.Heartbeat.encode({ sensor: { site, gateway, queue: 0, instance: 'x' }, version: '0.1.0', ...extra }).finish();

  it('a sensor not heard from for 7 days leaves it', async () => {
    const p = processor();
    expect(await p.heartbeat(beat('site-a', 'gw1'), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('heartbeat');
    clock += 7 * 86_400_000 + 1;
    expect(await p.heartbeat(beat('site-b', 'gw2'), 'p2pwall.v1.heartbeats.site-b.gw2')).toBe('heartbeat');
    expect(await redis.hkeys(REDIS_KEYS.sensors)).toEqual(['site-b/gw2/0']);
  });

  it('a heartbeat with an unprintable or overlong version, or over 16 KiB, is malformed', async () => {
    const p = processor();
    expect(await p.heartbeat(beat('site-a', 'gw1', { version: '1.0\u001b[2J' }), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    expect(await p.heartbeat(beat('site-a', 'gw1', { version: 'v'.repeat(65) }), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    const queues = Array.from({ length: 2000 }, (_, queue) => ({ queue, queueTotal: 1, queueDropped: 1, userDropped: 1 }));
    expect(await p.heartbeat(beat('site-a', 'gw1', { queues }), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    expect(await p.heartbeat(beat('site-a', 'gw1', { queues: queues.slice(0, 65) }), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    expect(await p.heartbeat(beat('site-a', 'gw1', { queues: [{ queue: 70_000 }] }), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    // the queue names the sensor in the list and in metric labels: 2^32 names per gateway would be unbounded
    const badQueue = p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-a', gateway: 'gw1', queue: 4_000_000_000, instance: 'x' }, version: '0.1.0' }).finish();
    expect(await p.heartbeat(badQueue, 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    expect(await redis.hkeys(REDIS_KEYS.sensors)).toEqual([]);
  });

  it('times, mode and counters out of range are replaced before the heartbeat is stored: /v1/sensors can always show it', async () => {
    clock = Date.UTC(2026, 11, 1);
    const p = processor();
    const hostile = beat('site-a', 'gw1', { sentMs: 1e300, startedMs: clock + 10 * 86_400_000, mode: 99 as p2pwall.v1.Mode, packets: 2 ** 63, flows: 12, queues: [{ queue: 1, queueTotal: 2 ** 60, queueDropped: 3 }] });
    expect(await p.heartbeat(hostile, 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('heartbeat');
    const stored = p2pwall.v1.Heartbeat.decode((await redis.hgetBuffer(REDIS_KEYS.sensors, 'site-a/gw1/0'))!);
    const view = sensorView(stored, 0, clock, 30);
    expect(view).toMatchObject({ lastHeartbeat: new Date(clock).toISOString(), started: null, mode: 'unknown', packets: Number.MAX_SAFE_INTEGER, flows: 12, queues: [{ queue: 1, total: Number.MAX_SAFE_INTEGER, queueDropped: 3, userDropped: 0 }] });
    expect(p.counters.outOfRange).toBe(5);
    // a sane heartbeat is stored as sent
    const sane = { sentMs: clock - 1000, startedMs: clock - 60_000, mode: p2pwall.v1.Mode.MODE_ENFORCE, packets: 5 };
    expect(await p.heartbeat(beat('site-a', 'gw1', sane), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('heartbeat');
    expect(p2pwall.v1.Heartbeat.decode((await redis.hgetBuffer(REDIS_KEYS.sensors, 'site-a/gw1/0'))!)).toMatchObject(sane);
    expect(p.counters.outOfRange).toBe(5);
  });
});

describe('log lines under a flood (issue 12 §11)', () => {
  it('1,000 malformed messages from one sensor write one line a minute, and the next line says how many were left out', async () => {
    const p = processor();
    for (let i = 0; i < 1000; i += 1) expect(await p.summary(new Uint8Array([0xff, 0xff, 0xff, i & 0xff]), summariesSubject('site-a', 'gw1'))).toBe('malformed');
    for (let i = 0; i < 1000; i += 1) expect(await p.heartbeat(new Uint8Array([0xff, 0xff, 0xff, i & 0xff]), 'p2pwall.v1.heartbeats.site-a.gw1')).toBe('malformed');
    expect(p.counters.malformed).toBe(2000);
    const malformedLines = () => logLines.filter((l) => l.msg.startsWith('malformed')) as { msg: string; malformed?: number; leftOut?: number }[];
    expect(malformedLines().map((l) => l.msg)).toEqual(['malformed summary batch: acknowledged and skipped', 'malformed heartbeat: acknowledged and skipped']);
    clock += 60_000;
    expect(await p.summary(new Uint8Array([0xff]), summariesSubject('site-a', 'gw1'))).toBe('malformed');
    expect(malformedLines()[2]).toMatchObject({ malformed: 2001, leftOut: 999 });
  });
});
