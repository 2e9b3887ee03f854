import { startRedis, type RedisServer } from '@p2pwall/lab';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hostAggregates, type Mark, mergeTimedSet, type TimedSet, windowEntries, type WindowEntry } from '@p2pwall/common/correlate';
import { defineStateScripts, mergeBatch, readWindows, windowsFrom, type BatchMerge, type BatchMergeResult, type NotMerged } from '../src/ingest/state.js';
import { WindowMirrors } from '../src/ingest/window-mirror.js';
import { rules } from './support.js';

/** The correlation state scripts on a real redis-server, against correlate/window.ts mergeTimedSet as the reference. */

let server: RedisServer;
let replicaA: Redis;
let replicaB: Redis;

beforeAll(async () => {
  server = await startRedis();
  replicaA = new Redis(server.url, { maxRetriesPerRequest: null });
  replicaB = new Redis(server.url, { maxRetriesPerRequest: null });
  defineStateScripts(replicaA);
  defineStateScripts(replicaB);
});
afterAll(async () => {
  replicaA.disconnect();
  replicaB.disconnect();
  await server.cleanup();
});
beforeEach(async () => {
  await replicaA.flushall();
});

const config = () => {
  const c = rules().correlation;
  c.host.maxEntries = 16; // small, so that the member bound is reached
  return c;
};

/** Each merge is a new batch of one test sensor instance (ingest/dedup.ts). */
let sequence = 0;
const seen = () => ({ key: 'test:seen', sequence: ++sequence, window: 1024, ttlMs: 60_000 });
function hostMerge(key: string, additions: [string, Mark][], nowMs: number, c = config()): BatchMerge {
  return { seen: seen(), endpoints: [], hosts: [{ key, additions }], nowMs, config: c };
}

/** A window as Redis holds it, without its version field. */
async function stored(key: string): Promise<TimedSet> {
  const fields = await replicaA.hgetall(key);
  const out: TimedSet = new Map();
  for (const [member, value] of Object.entries(fields)) {
    if (member === '#') continue;
    const [ts, flags] = value.split(':');
    out.set(member, { ts: Number(ts), flags: Number(flags) });
  }
  return out;
}

const sorted = (entries: readonly WindowEntry[]) => entries.map((e) => `${e.member}=${e.ts}:${e.flags}`).sort();

function seeded(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

describe('ingest state scripts (real redis-server)', () => {
  it('merging is mergeTimedSet, incrementally against a copy or in full, whoever merged in between', async () => {
    const c = config();
    const windowMs = c.host.windowSeconds * 1000;
    const rand = seeded(7);
    const keys = ['test:win:a', 'test:win:b', 'test:win:c'];
    const reference = new Map<string, TimedSet>(keys.map((k) => [k, new Map()]));
    const copies = { a: new WindowMirrors(c, 100), b: new WindowMirrors(c, 100) };
    const members = Array.from({ length: 40 }, (_, i) => `${i % 3 === 0 ? 17 : 6}|198.51.100.${i}:${1000 + i}`);
    let clock = 10_000_000;
    const modes = { incremental: 0, full: 0 };

    const check = (key: string, result: BatchMergeResult | NotMerged) => {
      expect(typeof result).toBe('object');
      const merged = (result as BatchMergeResult).hosts[0]!;
      const expected = reference.get(key)!;
      expect(merged.count).toBe(expected.size);
      if (merged.incremental) modes.incremental += 1;
      else modes.full += 1;
      if (expected.size >= windowsFrom(c)) expect(sorted([...merged.window!.entries()])).toEqual(sorted(windowEntries(expected)));
    };
    const additions = (): [string, Mark][] => Array.from({ length: 1 + rand(6) }, () => [members[rand(members.length)]!, { ts: clock - rand(70_000), flags: rand(2) }]);
    const apply = (key: string, adds: [string, Mark][]) => reference.set(key, mergeTimedSet(reference.get(key)!, adds, Math.round(clock - windowMs), c.host.maxEntries));

    for (let step = 0; step < 300; step += 1) {
      clock += rand(4) === 0 ? rand(30_000) : rand(2000);
      if (rand(5) === 0) {
        // replica B, one merge (A's copies of that key are then out of date)
        const key = keys[rand(keys.length)]!;
        const adds = additions();
        apply(key, adds);
        check(key, await mergeBatch(replicaB, hostMerge(key, adds, clock), copies.b));
      } else {
        // replica A, several merges in flight at once on one connection: each predicted on the one before
        const sent = Array.from({ length: 1 + rand(4) }, () => {
          const key = keys[rand(keys.length)]!;
          const adds = additions();
          apply(key, adds);
          return { key, expected: reference.get(key)!, pending: mergeBatch(replicaA, hostMerge(key, adds, clock), copies.a) };
        });
        for (const { key, expected, pending } of sent) {
          const result = await pending;
          const merged = (result as BatchMergeResult).hosts[0]!;
          expect(merged.count).toBe(expected.size);
          // an incremental merge's window is the copy, which already holds the merges sent after it
          // (window-mirror.ts); a full one's is the window as Redis returned it
          const seen = merged.incremental ? reference.get(key)! : expected;
          if (expected.size >= windowsFrom(c)) {
            expect(sorted([...merged.window!.entries()])).toEqual(sorted(windowEntries(seen)));
            const counts = merged.window!.aggregates();
            const exact = hostAggregates(seen, c);
            expect([counts.udp.count, counts.udp.unanswered, counts.pairs.count]).toEqual([exact.udp.count, exact.udp.unanswered, exact.pairs.count]);
          }
          if (merged.incremental) modes.incremental += 1;
          else modes.full += 1;
        }
      }
      for (const key of keys) expect(await stored(key)).toEqual(reference.get(key));
    }
    expect(modes.incremental).toBeGreaterThan(100);
    expect(modes.full).toBeGreaterThan(20);
  });

  it('a duplicate merges nothing, and the copy that assumed it is dropped', async () => {
    const copies = new WindowMirrors(config(), 10);
    const adds = Array.from({ length: 12 }, (_, i): [string, Mark] => [`17|203.0.113.${i}:4000`, { ts: 1_000_000, flags: 0 }]);
    const first = hostMerge('test:dup', adds, 1_000_000);
    expect(await mergeBatch(replicaA, first, copies)).not.toBe('duplicate');
    expect(copies.size).toBe(1);
    expect(await mergeBatch(replicaA, { ...first, hosts: [{ key: 'test:dup', additions: [['6|203.0.113.99:80', { ts: 1_000_000, flags: 0 }]] }] }, copies)).toBe('duplicate');
    expect(copies.size).toBe(0);
    expect((await stored('test:dup')).size).toBe(12);
  });

  it('endpoint sets answer with counts and spans, and with their members from fanout.minHosts up', async () => {
    const c = config();
    const merge = (additions: [string, Mark][]): BatchMerge => ({ seen: seen(), endpoints: [{ key: 'test:ep', additions }], hosts: [], nowMs: 5_000_000, config: c });
    const one = (await mergeBatch(replicaA, merge([['site-a/10.0.0.1', { ts: 4_999_000, flags: 0 }]]))) as BatchMergeResult;
    expect(one.endpoints[0]).toEqual({ count: 1, firstSeenMs: 4_999_000, lastSeenMs: 4_999_000, members: [] });
    const two = (await mergeBatch(replicaA, merge([['site-b/10.0.0.2', { ts: 5_000_000, flags: 0 }]]))) as BatchMergeResult;
    expect({ ...two.endpoints[0], members: [...two.endpoints[0]!.members].sort() }).toEqual({ count: 2, firstSeenMs: 4_999_000, lastSeenMs: 5_000_000, members: ['site-a/10.0.0.1', 'site-b/10.0.0.2'] });
  });

  it('windows are read back whole, by size, or only when they hold one of the given peers', async () => {
    const c = config();
    const now = 2_000_000;
    const add = (key: string, members: string[]) => mergeBatch(replicaA, hostMerge(key, members.map((m): [string, Mark] => [m, { ts: now, flags: 1 }]), now, c));
    await add('test:r:1', ['6|198.51.100.1:1214', '17|198.51.100.2:1214', '6|198.51.100.3:80']);
    await add('test:r:2', ['6|[2001:db8::1]:4662', '6|198.51.100.9:5000', '17|198.51.100.9:5001']);
    await add('test:r:3', ['6|198.51.100.1:80']);
    const keys = ['test:r:1', 'test:r:2', 'test:r:3', 'test:r:absent'];
    const present = async (tokens?: { endpoints: string[]; ips: string[] }, min = 1) => (await readWindows(replicaA, keys, now - 60_000, min, tokens)).map((w) => (w instanceof Map ? w.size : 0));
    expect(await present()).toEqual([3, 3, 1, 0]);
    expect(await present(undefined, 2)).toEqual([3, 3, 0, 0]);
    expect(await present({ endpoints: ['198.51.100.2:1214'], ips: [] })).toEqual([3, 0, 0, 0]);
    expect(await present({ endpoints: [], ips: ['198.51.100.1'] })).toEqual([3, 0, 1, 0]);
    expect(await present({ endpoints: [], ips: ['2001:db8::1'] })).toEqual([0, 3, 0, 0]);
    expect(await present({ endpoints: ['[2001:db8::1]:4662'], ips: ['198.51.100.9'] })).toEqual([0, 3, 0, 0]);
    // members last seen before the cutoff are not part of a window
    expect((await readWindows(replicaA, keys, now + 1, 1)).map((w) => (w instanceof Map ? w.size : 0))).toEqual([0, 0, 0, 0]);
  });
});
