import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { listedBefore, NewestFirst, type ListingKey } from '../src/blocklist/newest-first.js';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import type { BrainDecision } from '../src/decide/decision.js';
import { pageListing } from '../src/api/page.js';
import { ip, useRedisServer } from './support.js';

/** The blocklist listing: memory kept in the API's order, paged without sorting or decoding the whole blocklist. */

const { Scope, Origin, Action, Transport } = p2pwall.v1;

function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4_294_967_296;
  };
}

describe('NewestFirst', () => {
  it('keeps items in the listing order through inserts and deletes, across many blocks', () => {
    const random = seeded(7);
    const order = new NewestFirst<ListingKey>();
    const live = new Map<string, ListingKey>();
    for (let i = 0; i < 20_000; i++) {
      const item = { id: `d${Math.floor(random() * 5000)}`, createdMs: Math.floor(random() * 300) };
      const old = live.get(item.id);
      if (old) expect(order.delete(old)).toBe(true);
      if (random() < 0.2) live.delete(item.id);
      else {
        order.add(item);
        live.set(item.id, item);
      }
    }
    const expected = [...live.values()].sort((a, b) => (listedBefore(a, b) ? -1 : 1));
    expect(order.size).toBe(expected.length);
    expect(order.walk(undefined, () => true, Infinity, Infinity).items).toEqual(expected);
    // from any item on: exactly what follows it
    const from = expected[1234]!;
    expect(order.walk(from, () => true, 10, Infinity).items).toEqual(expected.slice(1235, 1245));
    // a walk from an item deleted since starts where it stood
    expect(order.delete(from)).toBe(true);
    expect(order.walk(from, () => true, 3, Infinity).items).toEqual(expected.slice(1235, 1238));
    expect(order.delete({ id: 'absent', createdMs: 5 })).toBe(false);
  });

  it('a walk stops after maxVisits and says where it got to', () => {
    const order = new NewestFirst<ListingKey>();
    for (let i = 0; i < 100; i++) order.add({ id: `d${String(i).padStart(3, '0')}`, createdMs: 1000 - i });
    const first = order.walk(undefined, (item) => item.id.endsWith('7'), 50, 30);
    expect(first.items.map((i) => i.id)).toEqual(['d007', 'd017', 'd027']);
    expect(first).toMatchObject({ last: { id: 'd029' }, done: false });
    const rest = order.walk(first.last, (item) => item.id.endsWith('7'), 50, 1000);
    expect(rest.items.map((i) => i.id)).toEqual(['d037', 'd047', 'd057', 'd067', 'd077', 'd087', 'd097']);
    expect(rest.done).toBe(true);
  });
});

let redis: Redis;
let clock = 1_000_000;
const now = () => clock;
useRedisServer((client) => {
  redis = client;
});
beforeEach(async () => {
  await redis.flushall();
  clock = 1_000_000;
});

const writer = () => new BlocklistWriter(redis, { changesMaxLen: 100_000, minExtendMs: 0, evidenceMaxItems: 32, now });

function manual(i: number, createdMs: number): BrainDecision {
  const address = `198.51.100.${i % 250}`;
  return {
    id: `endpoint:${address}:${1000 + i}`,
    scope: Scope.SCOPE_ENDPOINT,
    ip: ip(address),
    port: 1000 + i,
    site: '',
    origin: Origin.ORIGIN_MANUAL,
    action: Action.ACTION_BLOCK,
    reason: `test ${i}`,
    evidence: { hosts: [], sites: [], sensors: [], rules: [], count: 0, firstSeenMs: 0, lastSeenMs: 0 },
    createdMs,
    expiresMs: createdMs + 3_600_000,
    author: 'test',
    simulated: false,
    transport: Transport.TRANSPORT_BOTH,
  };
}

describe('the blocklist listing of a replica', () => {
  it('pages newest first with a cursor, and sees what another replica wrote or removed at once (through the change stream)', async () => {
    const mine = writer();
    const other = writer();
    await mine.sweep();
    for (let i = 0; i < 30; i++) await other.replace(manual(i, 900_000 + i));
    const ids = (page: { items: BrainDecision[] }) => page.items.map((d) => d.id);
    const all = (accept: (d: BrainDecision) => boolean = () => true) => pageListing(mine, 1000, undefined, accept, (d) => d);
    // nothing learned by a sweep yet: the change stream brought them
    await mine.catchUp();
    expect(ids(await all())).toEqual(Array.from({ length: 30 }, (_, i) => manual(29 - i, 0).id));
    const first = await pageListing(mine, 12, undefined, () => true, (d) => d);
    const second = await pageListing(mine, 12, first.nextCursor!, () => true, (d) => d);
    const third = await pageListing(mine, 12, second.nextCursor!, () => true, (d) => d);
    expect([...ids(first), ...ids(second), ...ids(third)]).toEqual(ids(await all()));
    expect(third.nextCursor).toBeNull();
    expect(mine.idsAbout('198.51.100.7')).toEqual([manual(7, 0).id]);

    expect(await other.remove(manual(7, 0).id)).toBe(true);
    await mine.catchUp();
    expect(ids(await all())).not.toContain(manual(7, 0).id);
    expect(mine.idsAbout('198.51.100.7')).toEqual([]);
    // a filter that takes nothing walks everything, in slices, and finds nothing
    expect((await all(() => false)).items).toEqual([]);
  });
});
