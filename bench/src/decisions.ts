/**
 * bench/decisions (issue 12 §1): a real `p2pwall-brain serve` process with 200,000 decisions in
 * its redis-server: the brain's memory (RSS idle with them, peak over the run) and the latency of
 * the API's blocklist reads, one at a time and 20 at once.
 *
 * The decisions are written into the hash as the brain stores them (encoded Decision), with the
 * epoch marker set, before the brain starts: 150,000 endpoint blocks, 30,000 ip blocks, 15,000 host
 * locks and 5,000 allow entries, each with a little evidence. Every request has a 60 s timeout; a
 * request that fails (the brain gone, a timeout) is counted, not retried. Results go to
 * bench/results/decisions.json (BENCH_DECISIONS changes the count, BENCH_OUT the file).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REDIS_KEYS } from '@p2pwall/common';
import { freePort, startNats, startRedis } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { peakRssMb } from './brain/cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BRAIN_CLI = join(HERE, '..', '..', 'services', 'brain', 'dist', 'cli.js');
const RESULTS = process.env['BENCH_OUT'] ?? join(HERE, '..', 'results', 'decisions.json');
const DECISIONS = Number(process.env['BENCH_DECISIONS'] ?? 200_000);
/** The node options services/brain/Dockerfile's p2pwall-brain runs the brain with. */
const BRAIN_NODE_OPTIONS = ['--max-semi-space-size=64'];
const TOKEN = 'bench-read-token-0000000001';
const HOUR = 3_600_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const { Scope, Origin, Action, Transport } = p2pwall.v1;

function rssMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Decision i: an outside peer in 198.18.0.0/15, or an inside host of one of 10 sites. */
function decision(i: number, now: number): { id: string; bytes: Uint8Array } {
  const a = (i >> 8) & 255;
  const b = i & 255;
  const peer = `198.${18 + ((i >> 16) & 1)}.${a}.${b}`;
  const site = `site-${i % 10}`;
  const host = `10.${i % 10}.${a}.${b}`;
  const kind = i % 40;
  let id: string;
  let scope: p2pwall.v1.Scope;
  let ip: string;
  let port = 0;
  let action = Action.ACTION_BLOCK;
  let siteOf = '';
  if (kind < 30) {
    port = 1214 + (i % 5000);
    id = `endpoint:${peer}:${port}`;
    scope = Scope.SCOPE_ENDPOINT;
    ip = peer;
  } else if (kind < 36) {
    id = `ip:${peer}`;
    scope = Scope.SCOPE_IP;
    ip = peer;
  } else if (kind < 39) {
    id = `host:${site}:${host}`;
    scope = Scope.SCOPE_HOST;
    ip = host;
    siteOf = site;
  } else {
    id = `allow:ip:${peer}`;
    scope = Scope.SCOPE_IP;
    ip = peer;
    action = Action.ACTION_ALLOW;
  }
  const created = now - (i % 100_000) * 1000;
  const bytes = p2pwall.v1.Decision.encode({
    id,
    scope,
    ip: Uint8Array.from(ip.split('.').map(Number)),
    port,
    site: siteOf,
    origin: action === Action.ACTION_ALLOW ? Origin.ORIGIN_MANUAL : kind % 2 === 0 ? Origin.ORIGIN_SIGNATURE : Origin.ORIGIN_CORRELATION,
    action,
    reason: action === Action.ACTION_ALLOW ? 'partner' : `fasttrack peer learned via fasttrack/udp-ping by ${site}/gw1/0`,
    evidence: { hosts: [`${site}/${host}`, `${site}/10.${i % 10}.0.${b}`], sites: [site], sensors: [`${site}/gw1/0`], rules: ['fasttrack/udp-ping'], count: 2, firstSeenMs: created - 5000, lastSeenMs: created },
    createdMs: created,
    expiresMs: now + 24 * HOUR,
    author: action === Action.ACTION_ALLOW ? 'alice' : 'p2pwall-brain',
    simulated: false,
    transport: Transport.TRANSPORT_BOTH,
  }).finish();
  return { id, bytes };
}

interface Timed {
  ms: number;
  status: number;
}

async function get(base: string, path: string): Promise<Timed & { body: unknown }> {
  const start = performance.now();
  try {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(60_000) });
    const body: unknown = await response.json();
    return { ms: performance.now() - start, status: response.status, body };
  } catch {
    return { ms: performance.now() - start, status: 0, body: undefined };
  }
}

function summary(times: Timed[]): Record<string, number> {
  const ms = times.map((t) => t.ms).sort((a, b) => a - b);
  return { requests: times.length, ok: times.filter((t) => t.status === 200).length, failed: times.filter((t) => t.status === 0).length, p50Ms: +quantile(ms, 0.5).toFixed(1), p99Ms: +quantile(ms, 0.99).toFixed(1), maxMs: +ms[ms.length - 1]!.toFixed(1) };
}

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-bench-decisions-'));
const [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
const log: string[] = [];
let brainPid: number | undefined;
let exitCode: number | null | undefined;
const brainDone = { killed: false };
try {
  const now = Date.now();
  const loadStart = performance.now();
  for (let i = 0; i < DECISIONS; i += 5000) {
    const pipeline = redis.pipeline();
    for (let k = i; k < Math.min(DECISIONS, i + 5000); k++) {
      const d = decision(k, now);
      pipeline.hset(REDIS_KEYS.decisions, d.id, Buffer.from(d.bytes));
    }
    await pipeline.exec();
  }
  await redis.set(REDIS_KEYS.epoch, `bench@${now}`);
  await redis.set(REDIS_KEYS.blocklistVersion, String(DECISIONS));
  const stored = await redis.hlen(REDIS_KEYS.decisions);
  const loadMs = performance.now() - loadStart;

  const port = await freePort();
  const yaml = join(dir, 'brain.yaml');
  writeFileSync(yaml, `nats:\n  servers: ["${nats.url}"]\nredis:\n  url: ${redisServer.url}\nstream:\n  storage: memory\nlog:\n  level: info\napi:\n  listen:\n    host: 127.0.0.1\n    port: ${port}\n  tokens:\n    read: ["${TOKEN}"]\n  limits:\n    maxConcurrent: 1000\n    perTokenPerSecond: 100000\n    perTokenBurst: 100000\ntelemetry:\n  listen:\n    port: 0\n`);
  const brain = spawn(process.execPath, [...BRAIN_NODE_OPTIONS, BRAIN_CLI, 'serve', '--config', yaml], { stdio: ['ignore', 'pipe', 'pipe'] });
  brainPid = brain.pid;
  brain.on('exit', (code) => {
    exitCode = code;
  });
  brain.stderr.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  brain.stdout.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  const startStart = performance.now();
  for (let i = 0; i < 1200 && !log.join('').includes('brain serving'); i++) await sleep(50);
  if (!log.join('').includes('brain serving')) throw new Error(`the brain did not start within 60 s: ${log.join('').slice(-2000)}`);
  const startMs = performance.now() - startStart;
  const base = `http://127.0.0.1:${port}`;
  await sleep(3000);
  const idleRssMb = rssMb(brainPid);

  const shapes: Record<string, string> = {
    'decisions, newest 50': '/v1/decisions?limit=50',
    'decisions, 1000 per page': '/v1/decisions?limit=1000',
    'decisions, scope host, site': '/v1/decisions?scope=host&site=site-6&limit=50',
    'decisions, a filter no decision passes': '/v1/decisions?scope=host&site=site-3&limit=50',
    'decisions, value ip': `/v1/decisions?value=198.18.7.9`,
    'allowlist, newest 50': '/v1/allowlist?limit=50',
    'peers, ip': '/v1/peers/198.18.7.9',
    'peers, endpoint': `/v1/peers/198.18.0.0:1214`,
  };
  const sequential: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(shapes)) {
    const times: Timed[] = [];
    let items: number | undefined;
    for (let r = 0; r < 10 && exitCode === undefined; r++) {
      const answer = await get(base, path);
      times.push(answer);
      const body = answer.body as { items?: unknown[]; decisions?: unknown[] } | undefined;
      items = body?.items?.length ?? body?.decisions?.length;
      if (r === 0 && answer.status === 200 && path.startsWith('/v1/decisions?limit=50')) {
        // the next page through the cursor costs the same
        const next = (answer.body as { nextCursor: string | null }).nextCursor;
        if (next) times.push(await get(base, `${path}&cursor=${encodeURIComponent(next)}`));
      }
    }
    sequential[name] = { items, ...summary(times) };
    process.stdout.write(`${name.padEnd(32)} ${JSON.stringify(sequential[name])}\n`);
  }
  const afterSequentialRssMb = rssMb(brainPid);
  const concurrentStart = performance.now();
  const together = exitCode === undefined ? await Promise.all(Array.from({ length: 20 }, () => get(base, '/v1/decisions?limit=50'))) : [];
  const concurrentWallMs = performance.now() - concurrentStart;
  const concurrent = { ...summary(together.length > 0 ? together : [{ ms: 0, status: 0 }]), wallMs: Math.round(concurrentWallMs) };
  process.stdout.write(`20 concurrent decision lists      ${JSON.stringify(concurrent)}\n`);
  await sleep(500);
  const brainAlive = exitCode === undefined;
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    decisions: stored,
    loadMs: Math.round(loadMs),
    brain: `p2pwall-brain serve, node ${BRAIN_NODE_OPTIONS.join(' ')}, defaults (blocklist.sweepSeconds 5), api.limits raised out of the way`,
    brainStartMs: Math.round(startMs),
    brainIdleRssMb: idleRssMb,
    brainRssAfterSequentialMb: afterSequentialRssMb,
    brainPeakRssMb: peakRssMb(brainPid),
    helmMemoryLimitMb: 1024,
    brainAlive,
    brainExitCode: exitCode ?? null,
    sequential,
    concurrent20: concurrent,
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${stored} decisions; brain RSS idle ${idleRssMb} MB, peak ${result.brainPeakRssMb} MB, alive ${brainAlive}\nresults: ${RESULTS}\n`);
  brain.kill('SIGTERM');
  for (let i = 0; i < 200 && exitCode === undefined; i++) await sleep(50);
  if (exitCode === undefined) brain.kill('SIGKILL');
  brainDone.killed = true;
} finally {
  if (!brainDone.killed && brainPid !== undefined && exitCode === undefined) process.kill(brainPid, 'SIGKILL');
  redis.disconnect();
  await Promise.all([nats.cleanup(), redisServer.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
}
