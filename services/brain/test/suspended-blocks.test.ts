/**
 * Blocks an allow entry lifts are suspended beside it and come back when it expires (the
 * brain's sweep) or is deleted: against a real redis-server, with a clock the test moves.
 */
import { REDIS_KEYS } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { BlocklistReader } from '../src/api/blocklist-reader.js';
import { BlocklistWriter } from '../src/blocklist/writer.js';
import type { BrainDecision } from '../src/decide/decision.js';
import { SuspendedBlocks } from '../src/decide/suspended-blocks.js';
import { ip, useRedisServer } from './support.js';

const { Action, Origin, Scope, Transport } = p2pwall.v1;
const HOUR = 3_600_000;
let redis: Redis;
// Real time: the suspended sets carry a Redis expiry (a day past their entry's), which Redis reads on its own clock.
let clock = Date.now();
const now = () => clock;

useRedisServer((client) => {
  redis = client;
});
beforeEach(async () => {
  await redis.flushall();
  clock = Date.now();
});

function entry(id: string, action: p2pwall.v1.Action, address: string, expiresMs: number, over: Partial<BrainDecision> = {}): BrainDecision {
  return {
    id, scope: Scope.SCOPE_IP, ip: ip(address), port: 0, site: '', origin: Origin.ORIGIN_MANUAL, action, reason: `${id} reason`,
    evidence: { hosts: [], sites: [], sensors: [], rules: ['operator/manual'], count: 0, firstSeenMs: 0, lastSeenMs: 0 },
    createdMs: clock, expiresMs, author: 'dora', simulated: false, transport: Transport.TRANSPORT_BOTH, ...over,
  };
}

describe('SuspendedBlocks', () => {
  it('an expired allow entry gives its blocks back (those still unexpired), and leaves no key behind', async () => {
    const writer = new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32, now });
    const suspended = new SuspendedBlocks(redis, new BlocklistReader(redis), writer, now);
    const longBlock = entry('ip:198.51.100.40', Action.ACTION_BLOCK, '198.51.100.40', clock + 48 * HOUR);
    const shortBlock = entry('ip:udp:198.51.100.40', Action.ACTION_BLOCK, '198.51.100.40', clock + HOUR, { transport: Transport.TRANSPORT_UDP });
    for (const block of [longBlock, shortBlock]) await writer.replace(block);
    const allow = entry('allow:ip:198.51.100.40', Action.ACTION_ALLOW, '198.51.100.40', clock + 2 * HOUR);
    await writer.replace(allow);
    expect(await suspended.suspend(allow, [longBlock, shortBlock])).toEqual(['ip:198.51.100.40', 'ip:udp:198.51.100.40']);
    expect(await redis.hexists(REDIS_KEYS.decisions, longBlock.id)).toBe(0);
    expect(await suspended.restoreExpired()).toBe(0); // the entry still holds

    clock += 3 * HOUR; // the allow entry has expired, and so has the short block
    expect(await suspended.restoreExpired()).toBe(1);
    const [back] = await new BlocklistReader(redis).get([longBlock.id]);
    expect(back).toMatchObject({ reason: 'ip:198.51.100.40 reason', author: 'dora', expiresMs: longBlock.expiresMs });
    expect(await redis.hexists(REDIS_KEYS.decisions, shortBlock.id)).toBe(0);
    expect(await redis.keys('*allow:suspended*')).toEqual([]);
  });

  it('a block another allow entry still covers moves to that entry instead of coming back', async () => {
    const writer = new BlocklistWriter(redis, { changesMaxLen: 1000, minExtendMs: 10_000, evidenceMaxItems: 32, now });
    const suspended = new SuspendedBlocks(redis, new BlocklistReader(redis), writer, now);
    const block = entry('endpoint:198.51.100.41:4662', Action.ACTION_BLOCK, '198.51.100.41', clock + 48 * HOUR, { scope: Scope.SCOPE_ENDPOINT, port: 4662 });
    await writer.replace(block);
    const endpointAllow = entry('allow:endpoint:198.51.100.41:4662', Action.ACTION_ALLOW, '198.51.100.41', clock + 48 * HOUR, { scope: Scope.SCOPE_ENDPOINT, port: 4662 });
    const addressAllow = entry('allow:ip:198.51.100.41', Action.ACTION_ALLOW, '198.51.100.41', clock + 48 * HOUR);
    for (const allow of [endpointAllow, addressAllow]) await writer.replace(allow);
    await suspended.suspend(endpointAllow, [block]);
    expect(await suspended.restore(endpointAllow.id)).toEqual([]);
    expect(await suspended.heldBy(addressAllow.id)).toEqual([block.id]);
    await writer.remove(addressAllow.id);
    await writer.remove(endpointAllow.id);
    expect(await suspended.restore(addressAllow.id)).toEqual([block.id]);
  });
});
