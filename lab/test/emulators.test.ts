/**
 * The FastTrack emulators against each other in this process, over loopback only (127.0.0.x,
 * high ports): no root, no namespaces. The namespace lab test runs them as commands.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonLog, runFasttrackPeers, runKazaaClient, runProbe, sessionHelloReply, type Endpoint } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-lab-emu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 40 peers on 127.0.0.10–49, ports spread over a high range that depends on this process. */
const base = 20000 + ((process.pid * 37) % 20000);
const cache: Endpoint[] = Array.from({ length: 40 }, (_, i) => ({ ip: `127.0.0.${10 + i}`, port: base + i }));
const uploader: Endpoint = { ip: '127.0.0.60', port: base + 100 };

function lines(file: string): { event: string; [key: string]: unknown }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { event: string });
}

describe('emulators over loopback', () => {
  it('kazaa-client against fasttrack-peers: pings and pongs, handshakes, a download naming the supernode', async () => {
    const peersLog = join(dir, 'peers.jsonl');
    const clientLog = join(dir, 'client.jsonl');
    const stop = new AbortController();
    const peerLog = new JsonLog(peersLog);
    // Every 4th peer answers pings; the rest stay silent.
    const peers = runFasttrackPeers({ cache, extras: [uploader], ipv6: false, answerEvery: 4, bodyBytes: 1000, idleTimeoutMs: 2000 }, { log: peerLog, signal: stop.signal });
    const deadline = Date.now() + 5000;
    while (!(peerLog.counts.ready ?? 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(peerLog.counts.ready).toBe(1);

    const log = new JsonLog(clientLog);
    const summary = await runKazaaClient(
      { cache, port: 0, rate: 2000, pongWaitMs: 300, parallel: 5, serial: 5, connectTimeoutMs: 1000, serialTimeoutMs: 500, downloadFrom: uploader, supernode: cache[1]! },
      { log, signal: new AbortController().signal },
    );
    log.close();
    stop.abort();
    const peerSummary = await peers;
    peerLog.close();

    expect(summary.udp).toMatchObject({ pingsSent: 40, sendErrors: 0, pongs: 10, answered: 10 });
    expect(summary.parallel).toMatchObject({ attempts: 5, connected: 5, hellos: 5 });
    expect(summary.serial).toMatchObject({ attempts: 5, connected: 5, hellos: 5 });
    expect(summary.download).toMatchObject({ outcome: 'ok', status: 206, bodyBytes: 1000, kazaaIp: `127.0.0.60:${uploader.port}` });
    expect(peerSummary).toMatchObject({ bindFailures: 0, pings: 40, pongs: 10, hellos: 10, downloads: 1, accepted: 11 });

    const events = lines(peersLog);
    expect(events.filter((e) => e.event === 'udp-ping')).toHaveLength(40);
    expect(events.filter((e) => e.event === 'udp-ping').every((e) => e.network === 'KaZaA')).toBe(true);
    expect(events.filter((e) => e.event === 'tcp-accept')).toHaveLength(11);
    const served = events.find((e) => e.event === 'download-served');
    expect(served).toMatchObject({ username: 'alice', network: 'KaZaA', userAgent: expect.stringMatching(/^KazaaClient/), clientSupernodeIp: `127.0.0.11:${cache[1]!.port}`, example: true });
    // Parallel connects go to peers that answered (every 4th: 0, 4, 8, …), in cache order.
    const parallel = lines(clientLog).filter((e) => e.event === 'connect' && e.phase === 'parallel').map((e) => e.to);
    expect(new Set(parallel)).toEqual(new Set([0, 4, 8, 12, 16].map((i) => `${cache[i]!.ip}:${cache[i]!.port}`)));
    for (const entry of lines(clientLog)) expect(typeof entry.ts).toBe('number');
  });

  it('kazaa-client reports refused and timed-out connects and still ends normally', async () => {
    const log = new JsonLog();
    // Nothing listens: loopback refuses at once. (A timeout needs a dropped SYN: see the netns test.)
    const summary = await runKazaaClient({ cache: cache.slice(0, 6), phases: ['parallel', 'serial', 'download'], parallel: 3, serial: 3, downloadFrom: uploader }, { log, signal: new AbortController().signal });
    expect(summary.parallel).toMatchObject({ attempts: 3, refused: 3, connected: 0 });
    expect(summary.serial).toMatchObject({ attempts: 3, refused: 3 });
    expect(summary.download).toMatchObject({ outcome: 'refused' });
  });

  it('kazaa-client keeps its UDP port while it lingers, answering node pings with pongs', async () => {
    const log = new JsonLog();
    const port = base + 300;
    const client = runKazaaClient({ cache: cache.slice(30, 32), phases: ['udp'], port, pongWaitMs: 50, lingerMs: 1500 }, { log, signal: new AbortController().signal });
    await new Promise((r) => setTimeout(r, 300));
    const probe = await runProbe({ udp: [{ ip: '127.0.0.1', port }], timeoutMs: 1000 }, { log: new JsonLog(), signal: new AbortController().signal });
    expect(probe.results[0]).toMatchObject({ outcome: 'reply', first: 0x28, bytes: 17 });
    const summary = await client;
    expect(summary.udp).toMatchObject({ pingsSent: 2, pingsReceived: 1 });
  });

  it('stops at once when aborted', async () => {
    const stop = new AbortController();
    const started = Date.now();
    const peers = runFasttrackPeers({ cache: cache.slice(0, 3), extras: [], ipv6: false }, { log: new JsonLog(), signal: stop.signal });
    setTimeout(() => stop.abort(), 100);
    await peers;
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('probe: UDP reply, TCP hello, refusal', async () => {
    const stop = new AbortController();
    const log = new JsonLog();
    const peers = runFasttrackPeers({ cache: cache.slice(20, 22), extras: [], ipv6: false }, { log, signal: stop.signal });
    while (!log.counts.ready) await new Promise((r) => setTimeout(r, 10));
    const result = await runProbe({ udp: [cache[20]!], tcp: [cache[21]!, { ip: '127.0.0.99', port: base + 200 }], hello: true, timeoutMs: 1000 }, { log: new JsonLog(), signal: new AbortController().signal });
    stop.abort();
    await peers;
    expect(result.results.map((r) => [r.kind, r.outcome])).toEqual([
      ['udp', 'reply'],
      ['tcp', 'hello-answered'],
      ['tcp', 'refused'],
    ]);
    expect(sessionHelloReply()).toHaveLength(8);
  });
});
