import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, REDIS_KEYS, routeConsoleWarnings, type Logger } from '@p2pwall/common';
import { capturedLog, startRedis, type RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisUplinkConfig } from '../../src/config.js';
import { BlocklistFollower, type BlocklistSource } from '../../src/uplink/blocklist.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

function decision(id: string, last: number, overrides: Partial<p2pwall.v1.IDecision> = {}): p2pwall.v1.IDecision {
  return { id, scope: p2pwall.v1.Scope.SCOPE_IP, ip: Uint8Array.of(203, 0, 113, last), action: p2pwall.v1.Action.ACTION_BLOCK, origin: p2pwall.v1.Origin.ORIGIN_CORRELATION, createdMs: 1, ...overrides };
}

/** What the brain does: hash + version + stream entry in one transaction. */
class Brain {
  constructor(readonly redis: Redis) {}
  async upsert(d: p2pwall.v1.IDecision): Promise<void> {
    const version = Number((await this.redis.get(REDIS_KEYS.blocklistVersion)) ?? 0) + 1;
    await this.redis.multi()
      .hset(REDIS_KEYS.decisions, d.id!, Buffer.from(p2pwall.v1.Decision.encode(d).finish()))
      .set(REDIS_KEYS.blocklistVersion, version)
      .xadd(REDIS_KEYS.blocklistChanges, '*', 'c', Buffer.from(p2pwall.v1.BlocklistChange.encode({ version, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, decision: d }).finish()))
      .exec();
  }
  async remove(id: string): Promise<void> {
    const version = Number((await this.redis.get(REDIS_KEYS.blocklistVersion)) ?? 0) + 1;
    await this.redis.multi()
      .hdel(REDIS_KEYS.decisions, id)
      .set(REDIS_KEYS.blocklistVersion, version)
      .xadd(REDIS_KEYS.blocklistChanges, '*', 'c', Buffer.from(p2pwall.v1.BlocklistChange.encode({ version, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE, decisionId: id }).finish()))
      .exec();
  }
}

interface Env {
  server: RedisServer;
  brain: Brain;
  dir: string;
  log: string[];
  start(overrides?: Partial<RedisUplinkConfig>, startTimeoutMs?: number, onLoaded?: (source: BlocklistSource) => void, followerLogger?: Logger): Promise<BlocklistFollower>;
}

async function env(): Promise<Env> {
  const server = await startRedis();
  cleanups.push(() => server.cleanup());
  const redis = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
  redis.on('error', () => undefined);
  cleanups.push(() => redis.disconnect());
  const dir = mkdtempSync(join(tmpdir(), 'p2pwall-blocklist-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const log: string[] = [];
  return {
    server, brain: new Brain(redis), dir, log,
    start: async (overrides = {}, startTimeoutMs = 2000, onLoaded, followerLogger = logger) => {
      const follower = await BlocklistFollower.start({
        config: { url: server.url, username: null, password: null, tls: { ca: null, cert: null, key: null }, snapshotFile: join(dir, 'blocklist.snapshot'), ...overrides },
        logger: followerLogger, blockMs: 200, saveDebounceMs: 50, republishGraceMs: 300, startTimeoutMs, retryDelayMs: 100,
        onUpsert: (d) => log.push(`+${d.id}`),
        onRemove: (d) => log.push(`-${d.id}`),
        onLoaded,
      });
      cleanups.push(() => follower.stop());
      return follower;
    },
  };
}

const ids = (follower: BlocklistFollower): string[] => follower.decisions().map((d) => d.id).sort();

describe('blocklist follower', () => {
  it('loads the snapshot at start; expired decisions are not applied', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    await e.brain.upsert(decision('b', 2, { expiresMs: Date.now() + 3_600_000 }));
    await e.brain.upsert(decision('old', 3, { expiresMs: Date.now() - 1 }));
    const follower = await e.start();
    expect(ids(follower)).toEqual(['a', 'b']);
    expect(follower.version).toBe(3);
    expect(e.log.sort()).toEqual(['+a', '+b']);
    expect(follower.stats.expiredSkipped).toBe(1);
  });

  it('applies live changes in order', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    const follower = await e.start();
    e.log.length = 0;
    await e.brain.upsert(decision('b', 2));
    await e.brain.remove('a');
    await e.brain.upsert(decision('c', 3));
    await e.brain.upsert(decision('b', 2, { reason: 'updated' }));
    await until('4 changes', () => follower.version === 5);
    expect(e.log).toEqual(['+b', '-a', '+c', '+b']);
    expect(follower.decisions().find((d) => d.id === 'b')?.reason).toBe('updated');
    expect(follower.stats).toMatchObject({ changes: 4, resyncs: 0, snapshots: 1 });
  });

  it('tells where the blocklist was read from, its entries by scope, and the version last seen in Redis (lag)', async () => {
    const e = await env();
    const { SCOPE_ENDPOINT, SCOPE_HOST } = p2pwall.v1.Scope;
    await e.brain.upsert(decision('ip', 1));
    await e.brain.upsert(decision('ep', 2, { scope: SCOPE_ENDPOINT, port: 1214 }));
    await e.brain.upsert(decision('host', 3, { scope: SCOPE_HOST, ip: Uint8Array.of(192, 168, 1, 5) }));
    const sources: BlocklistSource[] = [];
    const follower = await e.start({}, 2000, (source) => sources.push(source));
    expect(sources).toEqual(['redis']);
    expect(follower.stats).toMatchObject({ loadedFrom: 'redis', version: 3, latestSeenVersion: 3, byScope: { endpoint: 1, ip: 1, host: 1, other: 0 } });
    // An update that changes an entry's scope moves it; a removal takes it out.
    await e.brain.upsert(decision('ip', 1, { scope: SCOPE_ENDPOINT, port: 80 }));
    await e.brain.remove('host');
    await until('two changes', () => follower.version === 5);
    expect(follower.stats).toMatchObject({ latestSeenVersion: 5, byScope: { endpoint: 2, ip: 0, host: 0, other: 0 } });
    // The version key moves on while the stream says nothing (a stalled writer): the lag shows.
    await e.brain.redis.set(REDIS_KEYS.blocklistVersion, 9);
    await until('version 9 seen', () => follower.stats.latestSeenVersion === 9);
    expect(follower.version).toBe(5);
  });

  it('re-reads the snapshot when the stream was trimmed past its position', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    await e.brain.upsert(decision('b', 2));
    const follower = await e.start();
    const v = (n: number) => Buffer.from(p2pwall.v1.BlocklistChange.encode({ version: n, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, decision: decision(`x${n}`, n) }).finish());
    const enc = (d: p2pwall.v1.IDecision) => Buffer.from(p2pwall.v1.Decision.encode(d).finish());
    // Three changes and a trim in one transaction: the follower only ever sees version 5.
    await e.brain.redis.multi()
      .hset(REDIS_KEYS.decisions, 'x3', enc(decision('x3', 3))).xadd(REDIS_KEYS.blocklistChanges, '*', 'c', v(3))
      .hdel(REDIS_KEYS.decisions, 'a').xadd(REDIS_KEYS.blocklistChanges, '*', 'c', Buffer.from(p2pwall.v1.BlocklistChange.encode({ version: 4, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE, decisionId: 'a' }).finish()))
      .hset(REDIS_KEYS.decisions, 'x5', enc(decision('x5', 5))).xadd(REDIS_KEYS.blocklistChanges, '*', 'c', v(5))
      .set(REDIS_KEYS.blocklistVersion, 5)
      .xtrim(REDIS_KEYS.blocklistChanges, 'MAXLEN', 1)
      .exec();
    await until('resync', () => follower.version === 5);
    expect(ids(follower)).toEqual(['b', 'x3', 'x5']);
    expect(follower.stats.resyncs).toBe(1);
    expect(follower.stats.snapshots).toBe(2);
    expect(e.log).toContain('-a');
    await e.brain.upsert(decision('y', 6));
    await until('next change', () => follower.version === 6);
  });

  it('uses the snapshot file when Redis is down at start, and resyncs when Redis comes back', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    await e.brain.upsert(decision('b', 2));
    const first = await e.start();
    await until('file saved', () => first.stats.fileSaves >= 1);
    await first.stop();
    await e.brain.remove('b'); // happens while no sensor runs
    const dump = await e.brain.redis.multi().hgetallBuffer(REDIS_KEYS.decisions).get(REDIS_KEYS.blocklistVersion).exec();
    await e.server.stop();
    e.log.length = 0;
    const t0 = Date.now();
    const sources: BlocklistSource[] = [];
    const second = await e.start({}, 500, (source) => sources.push(source));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(second.stats.fileLoads).toBe(1);
    expect(second.stats.loadedFrom).toBe('file');
    expect(sources).toEqual(['file']);
    expect(ids(second)).toEqual(['a', 'b']);
    expect(second.version).toBe(2);
    expect(e.log.sort()).toEqual(['+a', '+b']);
    // Redis back with its data (as a persistent Redis would be): resync removes b.
    await e.server.restart();
    const [[, hash], [, version]] = dump as [[null, Record<string, Buffer>], [null, string]];
    for (const [field, value] of Object.entries(hash)) await e.brain.redis.hset(REDIS_KEYS.decisions, field, value);
    await e.brain.redis.set(REDIS_KEYS.blocklistVersion, version);
    await e.brain.redis.set(REDIS_KEYS.epoch, '1'); // the brain's "blocklist complete" marker
    await until('resync after Redis returned', () => second.version === 3, 15_000);
    expect(ids(second)).toEqual(['a']);
    expect(second.stats.loadedFrom).toBe('redis');
    expect(sources[0]).toBe('file');
    expect(sources.slice(1)).toContain('redis');
    expect(e.log).toContain('-b');
  });

  it('keeps its entries when Redis restarts empty, until the brain republishes (epoch marker)', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    await e.brain.upsert(decision('b', 2));
    await e.brain.redis.set(REDIS_KEYS.epoch, '1');
    const follower = await e.start();
    e.log.length = 0;
    const snapshots = follower.stats.snapshots;
    await e.server.restart();
    await until('re-snapshot after restart', () => follower.stats.snapshots > snapshots && follower.stats.awaitingEpoch, 15_000);
    await sleep(500);
    expect(ids(follower)).toEqual(['a', 'b']);
    expect(e.log).toEqual([]);
    // The brain republishes: a new epoch counting from 1, only "a" survives, then the marker.
    await e.brain.upsert(decision('a', 1));
    await e.brain.upsert(decision('c', 3));
    await sleep(400);
    expect(ids(follower)).toEqual(['a', 'b', 'c']); // merged, nothing removed yet
    await e.brain.redis.set(REDIS_KEYS.epoch, '2');
    await until('epoch taken', () => !follower.stats.awaitingEpoch, 10_000);
    expect(ids(follower)).toEqual(['a', 'c']);
    expect(e.log).toContain('-b');
    expect(follower.version).toBe(2);
  });

  it('counts and skips a malformed stream entry without crashing', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    const follower = await e.start();
    await e.brain.redis.xadd(REDIS_KEYS.blocklistChanges, '*', 'c', Buffer.from([0xff, 0xff, 0xff]));
    await e.brain.redis.xadd(REDIS_KEYS.blocklistChanges, '*', 'x', 'y');
    await e.brain.upsert(decision('b', 2));
    await until('b applied', () => follower.version === 2);
    expect(follower.stats.malformed).toBe(2);
    expect(ids(follower)).toEqual(['a', 'b']);
    await e.brain.upsert(decision('c', 3));
    await until('still following', () => follower.version === 3);
  });

  it('1,000 unreadable decisions are counted, and logged in one line (issue 12 §11)', async () => {
    const e = await env();
    await e.brain.upsert(decision('a', 1));
    for (let i = 0; i < 1000; i += 1) await e.brain.redis.hset(REDIS_KEYS.decisions, `junk-${i}`, Buffer.from([0xff, 0xff, 0xff, i & 0xff]));
    const lines: { msg: string }[] = [];
    const follower = await e.start({}, 2000, undefined, createLogger({ name: 'flood', level: 'warn', destination: { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) } }));
    expect(ids(follower)).toEqual(['a']);
    expect(follower.stats.malformed).toBe(1000);
    expect(lines.filter((l) => l.msg === 'unreadable decision skipped')).toHaveLength(1);
  });
});

describe('blocklist follower: what the log says about Redis', () => {
  function capture() {
    const { logger: captured, lines } = capturedLog('test');
    return { lines, captured };
  }

  it('one line when connected, one when lost (plain cause), one when back; no client internals', async () => {
    const server = await startRedis();
    cleanups.push(() => server.cleanup());
    const { lines, captured } = capture();
    const follower = await BlocklistFollower.start({
      config: { url: server.url, username: null, password: null, tls: { ca: null, cert: null, key: null }, snapshotFile: null },
      logger: captured, blockMs: 100, retryDelayMs: 50,
      onUpsert: () => undefined,
      onRemove: () => undefined,
    });
    cleanups.push(() => follower.stop());
    await until('connected line', () => lines.some((line) => line.msg === 'connected to Redis'));
    await server.stop();
    await until('lost line', () => lines.some((line) => line.msg.startsWith('lost Redis')));
    // Retries every 50-500 ms for 2 s: still one line.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await server.restart();
    await until('back line', () => lines.some((line) => line.msg === 'Redis is back'), 15_000);
    const messages = lines.map((line) => line.msg);
    expect(messages.filter((msg) => /Redis/.test(msg))).toEqual(['connected to Redis', expect.stringMatching(/^lost Redis: (the connection closed|connection refused|connection reset); keeping the blocklist we have$/), 'Redis is back']);
    expect(JSON.stringify(lines)).not.toMatch(/maxRetriesPerRequest|max retries/);
  });

  it("ioredis's console warning about an unneeded password becomes a JSON line of the log", async () => {
    const server = await startRedis();
    cleanups.push(() => server.cleanup());
    const { lines, captured } = capture();
    const original = console.warn;
    const printed: unknown[] = [];
    console.warn = (...args: unknown[]) => void printed.push(args);
    cleanups.push(() => {
      console.warn = original;
    });
    routeConsoleWarnings(captured);
    const follower = await BlocklistFollower.start({
      config: { url: server.url, username: null, password: 'not-needed-password', tls: { ca: null, cert: null, key: null }, snapshotFile: null },
      logger: captured, blockMs: 100,
      onUpsert: () => undefined,
      onRemove: () => undefined,
    });
    cleanups.push(() => follower.stop());
    await until('library warning logged', () => lines.some((line) => line['component'] === 'library'));
    expect(lines.find((line) => line['component'] === 'library')).toMatchObject({ level: 'warn', msg: expect.stringMatching(/does not require a password, but a password was supplied$/) });
    expect(printed).toEqual([]);
  });
});
