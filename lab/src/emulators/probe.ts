/**
 * `emulate probe` (anywhere): one-shot reachability checks for tests, each reported with its
 * outcome and time: `--udp ip:port` (send a payload, by default a FastTrack node ping, and wait
 * for any reply), `--tcp ip:port` (a connect; with `--hello`, also the 12/8-byte FastTrack
 * handshake), `--http URL` (a GET; ok on any 2xx).
 */
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { nodePing, sessionHello } from '../fasttrack/payloads.js';
import { formatEndpoint, type Endpoint } from '../netns/addresses.js';
import { errorCode, type RoleContext } from './common.js';
import { connectTcp, readUntil, writeAll } from './net.js';

export interface ProbeOptions {
  udp?: Endpoint[];
  tcp?: Endpoint[];
  http?: string[];
  /** UDP payload (default: a KaZaA node ping). */
  payload?: Uint8Array;
  /** After a TCP connect, send the session hello and wait for the 8-byte reply. */
  hello?: boolean;
  timeoutMs?: number;
}

export interface ProbeResult {
  kind: 'udp' | 'tcp' | 'http';
  target: string;
  ok: boolean;
  outcome: string;
  ms: number;
  [key: string]: unknown;
}

export async function runProbe(options: ProbeOptions, { log, signal }: RoleContext): Promise<{ ok: boolean; results: ProbeResult[] }> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const results: ProbeResult[] = [];
  const record = (result: ProbeResult) => {
    results.push(result);
    log.write('probe', result);
  };
  for (const target of options.udp ?? []) record(await probeUdp(target, options.payload ?? nodePing(), timeoutMs));
  for (const target of options.tcp ?? []) {
    const begun = Date.now();
    const connection = await connectTcp(target, timeoutMs, signal);
    if (!connection.socket) {
      record({ kind: 'tcp', target: formatEndpoint(target), ok: false, outcome: connection.outcome, ms: connection.ms });
      continue;
    }
    let outcome = 'connected';
    if (options.hello) {
      await writeAll(connection.socket, sessionHello());
      const reply = await readUntil(connection.socket, (data) => data.length >= 8, timeoutMs, 4096, signal);
      outcome = reply.data.length >= 8 ? 'hello-answered' : `hello-${reply.end}`;
    }
    connection.socket.destroy();
    record({ kind: 'tcp', target: formatEndpoint(target), ok: outcome === 'connected' || outcome === 'hello-answered', outcome, ms: Date.now() - begun });
  }
  for (const url of options.http ?? []) record(await probeHttp(url, timeoutMs));
  return { ok: results.every((r) => r.ok), results };
}

function probeUdp(target: Endpoint, payload: Uint8Array, timeoutMs: number): Promise<ProbeResult> {
  const begun = Date.now();
  return new Promise((resolve) => {
    const socket = createSocket(target.ip.includes(':') ? 'udp6' : 'udp4');
    const finish = (ok: boolean, outcome: string, extra: Record<string, unknown> = {}) => {
      clearTimeout(timer);
      socket.close();
      resolve({ kind: 'udp', target: formatEndpoint(target), ok, outcome, ms: Date.now() - begun, ...extra });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    socket.on('message', (message, remote) => finish(true, 'reply', { bytes: message.length, first: message[0], from: formatEndpoint({ ip: remote.address, port: remote.port }) }));
    socket.on('error', (error) => finish(false, 'error', { error: errorCode(error) }));
    socket.send(payload, target.port, target.ip);
  });
}

function probeHttp(url: string, timeoutMs: number): Promise<ProbeResult> {
  const begun = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: { ok: boolean; outcome: string; [key: string]: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ kind: 'http', target: url, ms: Date.now() - begun, ...result });
    };
    const req = httpRequest(url, { headers: { 'User-Agent': 'p2pwall-lab probe' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => finish({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, outcome: `http-${res.statusCode}`, status: res.statusCode, bytes }));
      res.on('error', (error) => finish({ ok: false, outcome: 'error', error: errorCode(error) }));
    });
    const timer = setTimeout(() => {
      finish({ ok: false, outcome: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error) => finish({ ok: false, outcome: 'error', error: errorCode(error) }));
    req.end();
  });
}
