/**
 * bench/brain (issue 4 §6).
 *
 *   1. Ingest: flow summaries per second one `p2pwall-brain serve` process consumes and correlates,
 *      with a real nats-server (JetStream, file store) and redis-server on this machine. Pre-built
 *      batches (bench/src/brain/batches.ts) are published as fast as JetStream acks them, then we
 *      wait until the durable consumer has nothing pending or unacked. Goal ≥ 50,000 flows/s.
 *   2. Propagation: in the namespace lab (two sites, live sensors, NATS + Redis + brain in the
 *      internet namespace), a Kazaa client at site A reveals 200 peers per round; for each, the
 *      time from sensor A's `peer` log line to sensor B's `shared decision applied` line (the
 *      decision is then in B's engine and queued for its kernel set, flushed every 20 ms).
 *      p50/p99 over ≥ 200 events. Goal p99 < 250 ms.
 *
 * Results: bench/results/brain.json and a table on stdout. Needs root for part 2 (skipped otherwise).
 * BENCH_BRAIN_PARTS=ingest (or propagation) runs one part; the other keeps its last recorded result.
 * BENCH_BRAIN_BATCHES=n changes the ingest batch count; BENCH_BRAIN_NODE_ARGS adds node options to
 * the ingest brain (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"); BENCH_BRAIN_LOG=file keeps its log.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSUMERS, STREAMS, blockedPeer } from '@p2pwall/common';
import { Lab, SensorProcess, labUnavailableReason, startNats, startRedis, type SensorLogLine } from '@p2pwall/lab';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { buildBatches } from './brain/batches.js';
import { machineBusyMs, peakRssMb, processCpuMs, redisCommandStats, redisCpuMs, type CommandStat } from './brain/cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BRAIN_CLI = join(HERE, '..', '..', 'services', 'brain', 'dist', 'cli.js');
const RESULTS = join(HERE, '..', 'results', 'brain.json');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The node options services/brain/Dockerfile's p2pwall-brain runs the brain with. */
const BRAIN_NODE_OPTIONS = ['--max-semi-space-size=64'];

function brainYaml(dir: string, natsUrl: string, redisUrl: string, fetchBatch = 256): string {
  const path = join(dir, `brain-${Date.now()}.yaml`);
  writeFileSync(path, `nats:\n  servers: ["${natsUrl}"]\nredis:\n  url: ${redisUrl}\nconsumer:\n  fetchBatch: ${fetchBatch}\nblocklist:\n  sweepSeconds: 1\nlog:\n  level: debug\napi:\n  enabled: false\ntelemetry:\n  listen:\n    port: 0\n`);
  return path;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The Redis commands that took the most server time during the run, with calls and µs per call. */
function topCommands(stats: Record<string, CommandStat>): Record<string, { calls: number; usec: number; usecPerCall: number }> {
  const top = Object.entries(stats)
    .filter(([name]) => !['info', 'ping', 'config', 'client', 'command'].includes(name))
    .sort(([, a], [, b]) => b.usec - a.usec)
    .slice(0, 8);
  return Object.fromEntries(top.map(([name, s]) => [name, { ...s, usecPerCall: s.calls > 0 ? Math.round((10 * s.usec) / s.calls) / 10 : 0 }]));
}

async function ingest(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'p2pwall-bench-brain-'));
  const nats = await startNats();
  const redis = await startRedis();
  const log: string[] = [];
  const nodeArgs = (process.env['BENCH_BRAIN_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
  const brain = spawn(process.execPath, [...BRAIN_NODE_OPTIONS, ...nodeArgs, BRAIN_CLI, 'serve', '--config', brainYaml(dir, nats.url, redis.url)], { stdio: ['ignore', 'pipe', 'pipe'] });
  // pino writes to stderr; stdout is read too so that neither pipe fills up
  brain.stderr.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  brain.stdout.resume();
  try {
    for (let i = 0; i < 200 && !log.join('').includes('brain serving'); i++) await sleep(50);
    if (!log.join('').includes('brain serving')) throw new Error(`the brain did not start within 10 s: ${log.join('').slice(-2000)}`);
    // 300 batches: long enough for the rate to settle as windows, copies and incidents fill (the
    // first 100 alone run faster, on empty state)
    const batches = buildBatches({ batches: Number(process.env['BENCH_BRAIN_BATCHES'] ?? 300), flowsPerBatch: 500, sites: 4 });
    const flows = batches.reduce((sum, b) => sum + b.flows, 0);
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const cpuBefore = { brain: processCpuMs(brain.pid), redis: redisCpuMs(redis.url), machine: machineBusyMs() };
    const start = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    for (const batch of batches) {
      const p: Promise<unknown> = js.publish(batch.subject, batch.data, { msgID: batch.msgId }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const published = performance.now() - start;
    let lastReport = 0;
    for (;;) {
      const info = await jsm.consumers.info(STREAMS.summaries, CONSUMERS.brain);
      if (info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= batches.length) break;
      if (performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        process.stderr.write(`ingest: ${info.ack_floor.stream_seq}/${batches.length} batches acked after ${Math.round(lastReport - start)} ms\n`);
      }
      if (performance.now() - start > 90_000) throw new Error(`ingest: not done within 90 s (${info.ack_floor.stream_seq}/${batches.length} batches acked)`);
      await sleep(5);
    }
    const done = performance.now() - start;
    const cpuAfter = { brain: processCpuMs(brain.pid), redis: redisCpuMs(redis.url), machine: machineBusyMs() };
    const delta = (key: keyof typeof cpuAfter) => (cpuAfter[key] !== undefined && cpuBefore[key] !== undefined ? Math.round(cpuAfter[key] - cpuBefore[key]) : null);
    // Publishing (this process and nats-server) overlaps the first part of the run; the brain and
    // redis-server figures are theirs alone. machine: every CPU of the machine, busy ms.
    const cpuMs = { brain: delta('brain'), redisServer: delta('redis'), machineBusy: delta('machine'), machineCapacity: Math.round(done * cpus().length) };
    const redisCommands = topCommands(redisCommandStats(redis.url));
    const brainPeakRssMb = peakRssMb(brain.pid);
    await nc.close();
    brain.kill('SIGTERM');
    const exited = new Promise((resolve) => brain.once('exit', resolve));
    await Promise.race([exited, sleep(15_000)]);
    if (brain.exitCode === null) brain.kill('SIGKILL');
    if (process.env['BENCH_BRAIN_LOG']) writeFileSync(process.env['BENCH_BRAIN_LOG'], log.join(''));
    const stopped = log.join('').split('\n').filter((line) => line.includes('"brain stopped"')).map((line) => JSON.parse(line) as { ingest: Record<string, number>; blocklist: Record<string, number> })[0];
    return { date: new Date().toISOString(), batches: batches.length, flowsPerBatch: 500, flows, publishMs: Math.round(published), totalMs: Math.round(done), flowsPerSecond: Math.round(flows / (done / 1000)), goal: 50_000, brain: `consumer defaults (fetchBatch 256, concurrency 8), blocklist.sweepSeconds 1, node ${BRAIN_NODE_OPTIONS.join(' ')}`, brainPeakRssMb, cpuMs, redisCommands, brainCounters: stopped?.ingest ?? null, blocklistCounters: stopped?.blocklist ?? null };
  } finally {
    if (brain.exitCode === null && brain.signalCode === null) brain.kill('SIGKILL');
    await nats.cleanup();
    await redis.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function propagation(): Promise<Record<string, unknown>> {
  const reason = labUnavailableReason();
  if (reason) return { skipped: reason };
  const prefix = `p2pbb${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
  const lab = await Lab.up({ prefix, sites: ['a', 'b'] });
  const work = mkdtempSync(join(tmpdir(), 'p2pwall-bench-prop-'));
  const host = '198.18.0.254';
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const nats = await startNats({ namespace: lab.inet, host });
    cleanups.push(() => nats.cleanup());
    const redis = await startRedis({ namespace: lab.inet, host });
    cleanups.push(() => redis.cleanup());
    const output = join(work, 'brain.log');
    lab.spawn(lab.inet, process.execPath, [BRAIN_CLI, 'serve', '--config', brainYaml(work, nats.url, redis.url)], { detached: true, output, role: 'brain' });
    for (let i = 0; i < 300; i++) {
      let text = '';
      try {
        text = readFileSync(output, 'utf8');
      } catch {
        /* not yet */
      }
      if (text.includes('brain serving')) break;
      await sleep(50);
    }
    const config = (site: string) => ({ site, gateway: 'gw1', onExit: 'remove', log: { events: 'cp', level: 'debug' }, uplink: { nats: { servers: [nats.url], heartbeatSeconds: 1 }, redis: { url: redis.url, snapshotFile: join(work, `${site}.snapshot`) } } });
    const a = await SensorProcess.start({ namespace: lab.site('a').gateway, config: config('a') });
    const b = await SensorProcess.start({ namespace: lab.site('b').gateway, config: config('b') });
    cleanups.push(async () => {
      for (const s of [a, b]) {
        await s.stop();
        s.cleanup();
      }
    });
    const delays: number[] = [];
    const rounds = [1, 3];
    for (const [index, seed] of rounds.entries()) {
      const peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--seed', String(seed), '--cache-size', '200', '--no-extras', '--no-ipv6', '--duration', '60']);
      await peers.ready();
      const client = lab.emulate(lab.site('a').clients[index]!.ns, 'kazaa-client', ['--phases', 'udp', '--seed', String(seed), '--cache-size', '200', '--rate', '300', '--pong-wait', '300']);
      await client.wait(60_000);
      await peers.stop();
    }
    const key = (line: SensorLogLine) => `${String(line['ip'])}:${String(line['port'])}`;
    const peerLines = a.events('peer');
    const deadline = Date.now() + 5000;
    let applied = new Map<string, number>();
    while (Date.now() < deadline) {
      // keyed by the peer the decision blocks, whatever transport it names
      applied = new Map(b.lines.filter((l) => l.msg === 'shared decision applied' && l['effect'] === 'block-peer').map((l) => [blockedPeer(String(l['decision']))?.token ?? '', Number(l['applied'])]));
      if (peerLines.every((line) => applied.has(key(line)))) break;
      await sleep(50);
    }
    let missing = 0;
    for (const line of peerLines) {
      const at = applied.get(key(line));
      if (at === undefined) missing += 1;
      else delays.push(at - line.time);
    }
    delays.sort((x, y) => x - y);
    return { date: new Date().toISOString(), events: delays.length, missing, p50Ms: quantile(delays, 0.5), p99Ms: quantile(delays, 0.99), maxMs: delays[delays.length - 1], goalP99Ms: 250, sensorBatch: 'defaults (detections leave within 20 ms)' };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await lab.down();
    rmSync(work, { recursive: true, force: true });
  }
}

type Part = 'ingest' | 'propagation';
const PARTS: Part[] = ['ingest', 'propagation'];
const wanted = (process.env['BENCH_BRAIN_PARTS'] ?? PARTS.join(',')).split(',').map((p) => p.trim());
const unknownParts = wanted.filter((p) => !PARTS.includes(p as Part));
if (unknownParts.length > 0) throw new Error(`BENCH_BRAIN_PARTS: unknown part(s) ${unknownParts.join(', ')} (known: ${PARTS.join(', ')})`);
// A part not run keeps what the results file last recorded (each part carries its own date).
const previous = (existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : {}) as Partial<Record<Part, Record<string, unknown>>>;
const ingestResult = wanted.includes('ingest') ? await ingest() : (previous.ingest ?? { skipped: 'not run (BENCH_BRAIN_PARTS)' });
const propagationResult = wanted.includes('propagation') ? await propagation() : (previous.propagation ?? { skipped: 'not run (BENCH_BRAIN_PARTS)' });
const result = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, ingest: ingestResult, propagation: propagationResult };
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
const row = (name: string, value: unknown, goal: string) => process.stdout.write(`${name.padEnd(34)} ${String(value).padStart(10)}   ${goal}\n`);
process.stdout.write(`${'measure'.padEnd(34)} ${'value'.padStart(10)}   goal\n`);
row('ingest flows/s (1 brain)', ingestResult['flowsPerSecond'], '>= 50000');
row('ingest total ms', ingestResult['totalMs'], '');
row('ingest brain peak RSS MB', ingestResult['brainPeakRssMb'], '');
const cpu = ingestResult['cpuMs'] as Record<string, number | null> | undefined;
row('ingest CPU ms: brain', cpu?.['brain'], '');
row('ingest CPU ms: redis-server', cpu?.['redisServer'], '');
row('ingest CPU ms: machine busy', cpu ? `${cpu['machineBusy']}/${cpu['machineCapacity']}` : undefined, '');
row('propagation events', propagationResult['events'] ?? propagationResult['skipped'], '>= 200');
row('propagation p50 ms', propagationResult['p50Ms'], '');
row('propagation p99 ms', propagationResult['p99Ms'], '< 250');
process.stdout.write(`results: ${RESULTS}\n`);
