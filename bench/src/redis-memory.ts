/**
 * bench/redis-memory (issue 12 §8): what the brain keeps in Redis per batch and per incident, in a
 * real redis-server, measured as INFO memory's used_memory before and after.
 *
 *   1. The duplicate check, 100,000 summary batches of 10 sensor instances, both ways side by side:
 *      one key per batch (SET … PX NX, what the brain did before) and one string per sensor
 *      instance (ingest/dedup.ts, the brain's script). Scaled to a day at the ingest benchmark's
 *      rate (bench/results/brain.json: flows/s over flows per batch, ~100 batches/s).
 *   2. Incidents: 20,000 written through IncidentStore (the brain's script) with maxTotal 10,000:
 *      bytes per incident, how many were evicted, and Redis memory at the brain's default caps.
 *
 * Results: bench/results/redis-memory.json and a table on stdout. BENCH_REDIS_BATCHES changes
 * the batch count.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REDIS_KEYS } from '@p2pwall/common';
import { claimBatch, Claim, DEFAULT_DEDUP_WINDOW_BATCHES } from '@p2pwall/brain/dedup';
import { DEFAULT_MAX_INCIDENTS_TOTAL, IncidentStore, type IncidentUpdate } from '@p2pwall/brain/incidents';
import { startRedis } from '@p2pwall/lab';
import { Redis } from 'ioredis';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, '..', 'results', 'redis-memory.json');
const BRAIN_RESULTS = join(HERE, '..', 'results', 'brain.json');
const BATCHES = Number(process.env['BENCH_REDIS_BATCHES'] ?? 100_000);
const INSTANCES = 10;
const DAY_MS = 86_400_000;
const INCIDENTS = 20_000;
const INCIDENT_CAP = 10_000;
/** Commands in flight at once (ioredis writes them together: a pipeline). */
const IN_FLIGHT = 1000;

/** The ingest benchmark's batches per second (flows/s over flows per batch); 100 when it has not run. */
function statedRate(): { batchesPerSecond: number; source: string } {
  if (existsSync(BRAIN_RESULTS)) {
    const ingest = (JSON.parse(readFileSync(BRAIN_RESULTS, 'utf8')) as { ingest?: { flowsPerSecond?: number; flowsPerBatch?: number } }).ingest;
    if (ingest?.flowsPerSecond && ingest.flowsPerBatch) return { batchesPerSecond: Math.round(ingest.flowsPerSecond / ingest.flowsPerBatch), source: `bench/results/brain.json: ${ingest.flowsPerSecond} flows/s in batches of ${ingest.flowsPerBatch}` };
  }
  return { batchesPerSecond: 100, source: 'assumed (bench/results/brain.json missing)' };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN);
}

/** Runs `each(i)` for i < n, IN_FLIGHT at a time. */
async function inChunks(n: number, each: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += IN_FLIGHT) await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n - i) }, (_, k) => each(i + k)));
}

/** used_memory growth (bytes) and keys after `fill` on an empty server. */
async function measure(redis: Redis, fill: () => Promise<void>): Promise<{ bytes: number; keys: number; ms: number }> {
  await redis.flushall();
  const before = await usedMemory(redis);
  const start = performance.now();
  await fill();
  const ms = performance.now() - start;
  return { bytes: (await usedMemory(redis)) - before, keys: await redis.dbsize(), ms: Math.round(ms) };
}

const instanceOf = (i: number) => `inst-${i % INSTANCES}`;
const sequenceOf = (i: number) => Math.floor(i / INSTANCES) + 1;

function incident(i: number, now: number): IncidentUpdate {
  const last = now - (INCIDENTS - i) * 1000;
  const peers = new Map(Array.from({ length: 1 + (i % 12) }, (_, p) => [`198.18.${(i + p) & 255}.${p + 1}:${1214 + p}`, last] as [string, number]));
  return {
    site: `site-${i % 10}`,
    hostIp: `10.${i % 10}.${(i >> 8) & 255}.${i & 255}`,
    protocol: 'fasttrack',
    opens: true,
    firstSeenMs: last - 60_000,
    lastSeenMs: last,
    gateway: `gw-${i % 4}`,
    rules: new Map([['fasttrack/udp-ping', 1 + (i % 50)]]),
    peers,
    activity: true,
    // one ended flow: its counts go in whole, and nothing stays behind as a live flow
    flows: new Map([[`gw|17|10.0.0.1|40000|198.18.0.1:1214|${last}`, { attemptsBlocked: i % 100, bytes: 40 * (i % 1000), ended: true }]]),
    samples: [{ seenMs: last, gateway: `gw-${i % 4}`, protocol: 'udp', peer: [...peers.keys()][0]!, app: 'fasttrack', rules: ['fasttrack/udp-ping'], verdict: 'accept', packetsOut: 1, packetsIn: 1, bytesOut: 40, bytesIn: 40 }],
    decisions: new Map([[`host:site-${i % 10}:10.0.0.1`, last]]),
  };
}

const redisServer = await startRedis();
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
try {
  const rate = statedRate();
  const batchesPerDay = rate.batchesPerSecond * 86_400;
  const now = Date.now();

  const perBatchKey = await measure(redis, () => inChunks(BATCHES, (i) => redis.set(`p2pwall:v1:ingest:seen:site-a:gw1:${instanceOf(i)}:${sequenceOf(i)}`, String(now), 'PX', DAY_MS, 'NX')));
  let claimed = 0;
  const perInstance = await measure(redis, () =>
    inChunks(BATCHES, async (i) => {
      if ((await claimBatch(redis, REDIS_KEYS.seenBatches('site-a', 'gw1', instanceOf(i)), sequenceOf(i), DEFAULT_DEDUP_WINDOW_BATCHES, DAY_MS)) === Claim.Claimed) claimed += 1;
    }),
  );
  if (claimed !== BATCHES) throw new Error(`bench/redis-memory: ${claimed} of ${BATCHES} batches claimed`);
  let duplicates = 0;
  await inChunks(BATCHES, async (i) => {
    if (i % 10 === 0 && (await claimBatch(redis, REDIS_KEYS.seenBatches('site-a', 'gw1', instanceOf(i)), sequenceOf(i), DEFAULT_DEDUP_WINDOW_BATCHES, DAY_MS)) === Claim.Duplicate) duplicates += 1;
  });
  if (duplicates !== BATCHES / 10) throw new Error(`bench/redis-memory: ${duplicates} of ${BATCHES / 10} redeliveries recognised`);
  // used_memory's growth includes fixed costs (the script cache); the strings themselves, and one whose window is full:
  let stringBytes = 0;
  for (const key of await redis.keys(REDIS_KEYS.seenBatches('site-a', 'gw1', '*'))) stringBytes += Number(await redis.memory('USAGE', key));
  const full = REDIS_KEYS.seenBatches('site-a', 'gw1', 'full-window');
  await inChunks(2 * DEFAULT_DEDUP_WINDOW_BATCHES, (i) => claimBatch(redis, full, i + 1, DEFAULT_DEDUP_WINDOW_BATCHES, DAY_MS));
  const fullWindowBytes = Number(await redis.memory('USAGE', full));

  const store = new IncidentStore(redis, { quietMs: 1_800_000, retentionMs: 90 * DAY_MS, maxPerSite: INCIDENT_CAP, maxTotal: INCIDENT_CAP, maxSamples: 20, listItems: 20, now: () => now });
  const incidents = await measure(redis, async () => {
    for (let i = 0; i < INCIDENTS; i += 500) await store.record(Array.from({ length: Math.min(500, INCIDENTS - i) }, (_, k) => incident(i + k, now)));
  });
  const kept = await redis.zcard(REDIS_KEYS.incidentIndex('all'));
  const perIncident = incidents.bytes / kept;

  const mb = (bytes: number) => +(bytes / 1_048_576).toFixed(2);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    statedRate: { ...rate, batchesPerDay },
    dedup: {
      batches: BATCHES,
      sensorInstances: INSTANCES,
      windowBatches: DEFAULT_DEDUP_WINDOW_BATCHES,
      keyPerBatch: { usedMemoryBytes: perBatchKey.bytes, keys: perBatchKey.keys, bytesPerBatch: Math.round(perBatchKey.bytes / BATCHES), mbPer100kBatches: mb((perBatchKey.bytes * 100_000) / BATCHES), mbPerDay: mb((perBatchKey.bytes / BATCHES) * batchesPerDay), ms: perBatchKey.ms },
      stringPerInstance: { usedMemoryBytes: perInstance.bytes, keys: perInstance.keys, memoryUsageBytes: stringBytes, bytesPerSensorInstanceFullWindow: fullWindowBytes, mbPer100kBatches: mb((perInstance.bytes * 100_000) / BATCHES), note: 'does not grow with batches past the window: bytesPerSensorInstanceFullWindow per sensor instance seen within dedupSeconds (a day), whatever the rate', ms: perInstance.ms },
      redeliveriesRecognised: duplicates,
    },
    incidents: { written: INCIDENTS, cap: INCIDENT_CAP, kept, evicted: store.evicted, usedMemoryBytes: incidents.bytes, bytesPerIncident: Math.round(perIncident), mbAtDefaultMaxTotal: mb(perIncident * DEFAULT_MAX_INCIDENTS_TOTAL), defaultMaxTotal: DEFAULT_MAX_INCIDENTS_TOTAL },
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  const d = result.dedup;
  process.stdout.write(`stated rate: ${rate.batchesPerSecond} batches/s (${rate.source}) = ${batchesPerDay.toLocaleString('en-US')} batches a day\n`);
  process.stdout.write(`duplicate check, ${BATCHES.toLocaleString('en-US')} batches of ${INSTANCES} sensor instances:\n`);
  process.stdout.write(`  one key per batch (before):     ${String(d.keyPerBatch.keys).padStart(7)} keys ${String(d.keyPerBatch.mbPer100kBatches).padStart(8)} MB per 100k batches, ${d.keyPerBatch.mbPerDay} MB a day at the stated rate\n`);
  process.stdout.write(`  one string per sensor instance: ${String(d.stringPerInstance.keys).padStart(7)} keys ${String(d.stringPerInstance.mbPer100kBatches).padStart(8)} MB per 100k batches (the strings: ${stringBytes} bytes); ${fullWindowBytes} bytes a sensor instance once its window of ${DEFAULT_DEDUP_WINDOW_BATCHES} is full, whatever the rate\n`);
  process.stdout.write(`incidents: ${INCIDENTS} written, ${kept} kept (cap ${INCIDENT_CAP}), ${store.evicted} evicted; ${result.incidents.bytesPerIncident} bytes each: ${result.incidents.mbAtDefaultMaxTotal} MB at the default maxTotal ${DEFAULT_MAX_INCIDENTS_TOTAL}\n`);
  process.stdout.write(`results: ${RESULTS}\n`);
} finally {
  redis.disconnect();
  await redisServer.cleanup();
}
