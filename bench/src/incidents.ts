/**
 * bench/incidents (issue 5 §5): with 100,000 incidents stored in a real redis-server, how long
 * filtered list queries take through IncidentStore (what GET /v1/incidents runs). Goal: a
 * filtered list query answers in under 100 ms.
 *
 * The incidents are written through the same Lua script the brain uses (IncidentStore.record),
 * spread over 30 days, 10 sites, 40 gateways, 50,000 inside hosts, 3 protocols and 5,000 peer
 * addresses. Each query shape runs 50 times; p50/p99/max go to bench/results/incidents.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IncidentStore, type IncidentQuery, type IncidentUpdate } from '@p2pwall/brain/incidents';
import { startRedis } from '@p2pwall/lab';
import { Redis } from 'ioredis';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, '..', 'results', 'incidents.json');
const INCIDENTS = Number(process.env['BENCH_INCIDENTS'] ?? 100_000);
const DAY = 86_400_000;
const PROTOCOLS = ['fasttrack', 'bittorrent', 'unknown'];

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function update(i: number, now: number): IncidentUpdate {
  let state = ((i + 1) * 2654435761) >>> 0;
  // xorshift32: the low bits of a plain LCG repeat with a short period, which would correlate fields
  const rand = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
  const site = `site-${i % 10}`;
  const last = now - rand(30 * DAY);
  const peers = new Map<string, number>();
  for (let p = 0, n = 1 + rand(12); p < n; p++) {
    const peer = rand(5000);
    peers.set(`198.18.${peer >> 8}.${peer & 255}:${1214 + rand(3000)}`, last - 1000);
  }
  return {
    site,
    // Each host has one incident per protocol, so the 100k are distinct episodes.
    hostIp: `10.${i % 10}.${(i >> 8) & 255}.${i & 255}`,
    protocol: PROTOCOLS[Math.floor(i / 50_000) % 3]!,
    opens: true,
    firstSeenMs: last - rand(3_600_000),
    lastSeenMs: last,
    gateway: `gw-${i % 10}-${rand(4)}`,
    rules: new Map([['fasttrack/udp-ping', 1 + rand(50)]]),
    peers,
    activity: true,
    // one ended flow: its counts go in whole, and nothing stays behind as a live flow
    flows: new Map([[`gw|17|10.0.0.1|40000|198.18.0.1:1214|${last}`, { attemptsBlocked: rand(100), bytes: rand(1_000_000), ended: true }]]),
    samples: [{ seenMs: last, gateway: 'gw', protocol: 'udp', peer: [...peers.keys()][0]!, app: 'fasttrack', rules: ['fasttrack/udp-ping'], verdict: 'accept', packetsOut: 1, packetsIn: 1, bytesOut: 40, bytesIn: 40 }],
    decisions: new Map([[`host:${site}:10.0.0.1`, last]]),
  };
}

const redisServer = await startRedis();
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
try {
  const now = Date.now();
  const store = new IncidentStore(redis, { quietMs: 1_800_000, retentionMs: 90 * DAY, maxSamples: 20, listItems: 20, now: () => now });
  const loadStart = performance.now();
  for (let i = 0; i < INCIDENTS; i += 1000) {
    await store.record(Array.from({ length: Math.min(1000, INCIDENTS - i) }, (_, k) => update(i + k, now)));
  }
  const loadMs = performance.now() - loadStart;
  const stored = await redis.zcard('p2pwall:v1:incidents:by-all:');
  const memory = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);

  const sample = update(4242, now);
  const shapes: Record<string, IncidentQuery> = {
    'newest 50': { limit: 50 },
    'site, since 24h': { site: 'site-3', since: now - DAY, limit: 50 },
    'site + gateway + protocol, 7d': { site: 'site-2', gateway: 'gw-2-1', protocol: 'bittorrent', since: now - 7 * DAY, limit: 50 },
    'host': { host: sample.hostIp, limit: 50 },
    'peer ip': { peer: [...sample.peers.keys()][0]!.split(':')[0]!, limit: 50 },
    'peer ip:port + site': { peer: [...sample.peers.keys()][0]!, site: sample.site, limit: 50 },
    'site, until 20d ago (deep)': { site: 'site-5', until: now - 20 * DAY, limit: 50 },
    'protocol, 1000 per page': { protocol: 'fasttrack', limit: 1000 },
  };
  const queries: Record<string, unknown> = {};
  for (const [name, query] of Object.entries(shapes)) {
    const times: number[] = [];
    let items = 0;
    for (let r = 0; r < 50; r++) {
      const start = performance.now();
      const page = await store.list(query);
      times.push(performance.now() - start);
      items = page.items.length;
      if (r === 0 && page.nextCursor) {
        // the second page costs the same: check it once
        const start2 = performance.now();
        await store.list({ ...query, cursor: page.nextCursor });
        times.push(performance.now() - start2);
      }
    }
    times.sort((a, b) => a - b);
    queries[name] = { items, p50Ms: +quantile(times, 0.5).toFixed(2), p99Ms: +quantile(times, 0.99).toFixed(2), maxMs: +times[times.length - 1]!.toFixed(2) };
    if (items === 0) throw new Error(`bench/incidents: query "${name}" found nothing: the data set is not what it should be`);
  }
  const result = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, incidents: stored, loadMs: Math.round(loadMs), loadPerSecond: Math.round(stored / (loadMs / 1000)), redisUsedMemoryBytes: memory, goalMs: 100, queries };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${stored} incidents stored in ${Math.round(loadMs)} ms (${result.loadPerSecond}/s), redis ${Math.round(memory / 1048576)} MiB\n`);
  process.stdout.write(`${'query'.padEnd(34)} ${'items'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}   goal < 100 ms\n`);
  for (const [name, q] of Object.entries(queries) as [string, { items: number; p50Ms: number; p99Ms: number }][]) process.stdout.write(`${name.padEnd(34)} ${String(q.items).padStart(6)} ${String(q.p50Ms).padStart(8)} ${String(q.p99Ms).padStart(8)}\n`);
  process.stdout.write(`results: ${RESULTS}\n`);
} finally {
  redis.disconnect();
  await redisServer.cleanup();
}
