/**
 * Ordinary traffic that a P2P firewall must leave alone.
 *
 * `emulate benign-servers` (inet): an HTTP server on 203.0.113.250:80 (`/` a page,
 * `/bulk?bytes=N` N bytes), a DNS-like echo on 198.51.100.153:53, an NTP-like responder on
 * 198.51.100.123:123 and a TCP bulk source/sink on 203.0.113.250:5001 (`GET <n>\n` streams n
 * bytes back; `PUT <n>\n` then n bytes is answered `OK <n>\n`); each also on its IPv6 twin.
 * A UDP echo on 203.0.113.250:27015 (high-port UDP, as a game server's). Given a certificate
 * (`--tls-cert`, `--tls-key`), the same pages over HTTPS on :443.
 *
 * `emulate benign-client` (a client namespace): an HTTP GET of the page, a DNS-like query, an
 * NTP-like query and a bulk download, each reported with success and time (and bytes/s for the
 * bulk); on request (`--checks …,tls,udp-high`) an HTTPS GET of the page and a high-port UDP
 * exchange too. Exit status 0 either way.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { BULK_PORT, DNS_PORT, formatEndpoint, inFamily, ipv6Twin, LAB_HOSTS, NTP_PORT, TLS_PORT, UDP_ECHO_PORT, WEB_PORT, type Endpoint } from '../netns/addresses.js';
import { aborted, errorCode, type JsonLog, type RoleContext } from './common.js';
import { connectTcp, readUntil, writeAll } from './net.js';

/** The most bytes one bulk request may ask for. */
export const MAX_BULK_BYTES = 4 * 1024 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

export const PAGE = '<!doctype html><title>p2pwall lab</title><p>An ordinary page on an ordinary web server.</p>\n';

export interface BenignServersOptions {
  web?: string;
  dns?: string;
  ntp?: string;
  /** Also serve on the IPv6 twins (default true). */
  ipv6?: boolean;
  /** PEM files: with both, the web pages are served over HTTPS on :443 as well. */
  tlsCert?: string;
  tlsKey?: string;
}

/** Streams n bytes to a writable in 64 KiB chunks, honouring back-pressure; false if it failed or was aborted. */
async function stream(write: (chunk: Buffer) => boolean, drain: () => Promise<void>, bytes: number, signal: AbortSignal): Promise<boolean> {
  let left = bytes;
  while (left > 0) {
    if (signal.aborted) return false;
    const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    left -= chunk.length;
    if (!write(chunk)) await drain();
  }
  return true;
}

/** Counts (and discards) what arrives until n bytes, the end, or timeoutMs. */
function countUntil(socket: Socket, n: number, timeoutMs: number, signal: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    let count = 0;
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      socket.off('data', onData);
      socket.off('close', finish);
      resolve(count);
    };
    const onData = (chunk: Buffer) => {
      count += chunk.length;
      if (count >= n) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    signal.addEventListener('abort', finish, { once: true });
    socket.on('data', onData);
    socket.on('close', finish);
    socket.resume();
  });
}

function socketDrain(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

export async function runBenignServers(options: BenignServersOptions, { log, signal }: RoleContext): Promise<Record<string, unknown>> {
  const web = options.web ?? LAB_HOSTS.web;
  const dns = options.dns ?? LAB_HOSTS.dns;
  const ntp = options.ntp ?? LAB_HOSTS.ntp;
  const families = (ip: string) => ((options.ipv6 ?? true) && twinOf(ip) ? [ip, twinOf(ip)!] : [ip]);
  const counts = { http: 0, tls: 0, dns: 0, ntp: 0, echo: 0, bulk: 0, bindFailures: 0 };
  const closers: (() => void)[] = [];
  const sockets = new Set<Socket>();

  const pages = (scheme: 'http' | 'tls', host: string): RequestListener => (req, res) => {
    const url = new URL(req.url ?? '/', 'http://lab');
    const remote = formatEndpoint({ ip: req.socket.remoteAddress ?? '?', port: req.socket.remotePort ?? 0 });
    counts[scheme]++;
    if (url.pathname === '/bulk') {
      const bytes = Math.min(MAX_BULK_BYTES, Math.max(0, Number(url.searchParams.get('bytes') ?? 0) || 0));
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes });
      const begun = Date.now();
      void stream((chunk) => res.write(chunk), () => new Promise((r) => res.once('drain', r)), bytes, signal).then((ok) => {
        res.end();
        log.write(scheme, { server: host, remote, path: url.pathname, status: 200, bytes, ok, ms: Date.now() - begun });
      });
      return;
    }
    const found = url.pathname === '/' || url.pathname === '/index.html';
    const body = found ? PAGE : 'not found\n';
    res.writeHead(found ? 200 : 404, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    log.write(scheme, { server: host, remote, path: url.pathname, status: found ? 200 : 404, bytes: body.length });
  };
  const tls = options.tlsCert && options.tlsKey ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) } : undefined;

  const webServer = (scheme: 'http' | 'tls', host: string) =>
    new Promise<void>((resolve) => {
      const server: HttpServer = scheme === 'tls' ? createHttpsServer(tls!, pages(scheme, host)) : createHttpServer(pages(scheme, host));
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      listen(server, host, scheme === 'tls' ? TLS_PORT : WEB_PORT, log, counts, closers, resolve);
    });

  const bulkServer = (host: string) =>
    new Promise<void>((resolve) => {
      const server: Server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        void (async () => {
          const remote = formatEndpoint({ ip: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 });
          const head = await readUntil(socket, (data) => data.includes(0x0a), 10_000, 256, signal);
          const line = head.data.subarray(0, Math.max(0, head.data.indexOf(0x0a))).toString('latin1').trim();
          const match = /^(GET|PUT) (\d{1,10})$/.exec(line);
          const begun = Date.now();
          counts.bulk++;
          if (!match) {
            log.write('bulk', { server: host, remote, ok: false, error: `bad request line "${line.slice(0, 40)}"` });
            socket.end('ERR expected "GET <bytes>" or "PUT <bytes>"\n');
            return;
          }
          const bytes = Math.min(MAX_BULK_BYTES, Number(match[2]));
          if (match[1] === 'GET') {
            const ok = await stream((chunk) => socket.write(chunk), () => socketDrain(socket), bytes, signal);
            socket.end();
            log.write('bulk', { server: host, remote, direction: 'download', bytes, ok, ms: Date.now() - begun });
          } else {
            let received = head.data.length - (head.data.indexOf(0x0a) + 1);
            if (received < bytes) received += await countUntil(socket, bytes - received, 120_000, signal);
            await writeAll(socket, `OK ${received}\n`);
            socket.end();
            log.write('bulk', { server: host, remote, direction: 'upload', bytes: received, ok: received >= bytes, ms: Date.now() - begun });
          }
        })();
      });
      listen(server, host, BULK_PORT, log, counts, closers, resolve);
    });

  const udpServer = (host: string, port: number, kind: 'dns' | 'ntp' | 'echo') =>
    new Promise<void>((resolve) => {
      const socket: UdpSocket = createSocket(host.includes(':') ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
      socket.on('message', (message, remote) => {
        counts[kind]++;
        const reply = kind === 'dns' ? dnsAnswer(message) : kind === 'ntp' ? ntpAnswer(message) : message;
        socket.send(reply, remote.port, remote.address);
        log.write(kind, { server: host, remote: formatEndpoint({ ip: remote.address, port: remote.port }), bytes: message.length });
      });
      socket.once('error', (error) => {
        counts.bindFailures++;
        log.write('bind-failed', { proto: 'udp', server: `${host}:${port}`, error: errorCode(error) });
        socket.close();
        resolve();
      });
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        closers.push(() => socket.close());
        resolve();
      });
    });

  await Promise.all([
    ...families(web).flatMap((host) => [webServer('http', host), bulkServer(host), ...(tls ? [webServer('tls', host)] : [])]),
    ...families(dns).map((host) => udpServer(host, DNS_PORT, 'dns')),
    ...families(ntp).map((host) => udpServer(host, NTP_PORT, 'ntp')),
    ...families(web).map((host) => udpServer(host, UDP_ECHO_PORT, 'echo')),
  ]);
  log.write('ready', { web, dns, ntp, tls: tls !== undefined, bindFailures: counts.bindFailures });
  await aborted(signal);
  for (const close of closers) close();
  for (const socket of sockets) socket.destroy();
  return counts;
}

function twinOf(ip: string): string | undefined {
  try {
    return ipv6Twin(ip);
  } catch {
    return undefined;
  }
}

function listen(server: Server | HttpServer, host: string, port: number, log: JsonLog, counts: { bindFailures: number }, closers: (() => void)[], resolve: () => void): void {
  server.once('error', (error) => {
    counts.bindFailures++;
    log.write('bind-failed', { proto: 'tcp', server: formatEndpoint({ ip: host, port }), error: errorCode(error) });
    resolve();
  });
  server.listen({ host, port, ipv6Only: true }, () => {
    server.removeAllListeners('error');
    server.on('error', () => undefined);
    closers.push(() => server.close());
    resolve();
  });
}

/** A DNS query for example.com (A), id 0x1234. */
export function dnsQuery(id = 0x1234): Buffer {
  return Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0, 0, 1, 0, 1]);
}

/** The DNS-like echo: the query back with its QR (response) bit set. */
function dnsAnswer(query: Buffer): Buffer {
  if (query.length < 12) return query;
  const answer = Buffer.from(query);
  answer[2] = (answer[2]! | 0x80) & 0xff;
  return answer;
}

/** NTP-like: a 48-byte server (mode 4) reply, stratum 2, originate = the client's transmit, transmit = now. */
function ntpAnswer(query: Buffer): Buffer {
  const reply = Buffer.alloc(48);
  reply[0] = (0 << 6) | (4 << 3) | 4;
  reply[1] = 2;
  if (query.length >= 48) query.copy(reply, 24, 40, 48);
  const ntpSeconds = Math.floor(Date.now() / 1000) + 2208988800;
  reply.writeUInt32BE(ntpSeconds >>> 0, 32);
  reply.writeUInt32BE(ntpSeconds >>> 0, 40);
  return reply;
}

/** The checks a benign client runs by default. */
export const BENIGN_CHECKS = ['http', 'dns', 'ntp', 'bulk'] as const;
/** Checks run only when asked for: `tls` needs servers started with a certificate; `udp-high` is the echo on :27015. */
export const OPTIONAL_BENIGN_CHECKS = ['tls', 'udp-high'] as const;
export type BenignCheck = (typeof BENIGN_CHECKS)[number] | (typeof OPTIONAL_BENIGN_CHECKS)[number];

export interface BenignClientOptions {
  checks?: readonly BenignCheck[];
  web?: string;
  dns?: string;
  ntp?: string;
  ipv6?: boolean;
  bulkBytes?: number;
  timeoutMs?: number;
  bulkTimeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  [key: string]: unknown;
}

export async function runBenignClient(options: BenignClientOptions, { log, signal }: RoleContext): Promise<Record<string, unknown>> {
  const v6 = options.ipv6 ?? false;
  const web = inFamily(options.web ?? LAB_HOSTS.web, v6);
  const dns = inFamily(options.dns ?? LAB_HOSTS.dns, v6);
  const ntp = inFamily(options.ntp ?? LAB_HOSTS.ntp, v6);
  const timeoutMs = options.timeoutMs ?? 5000;
  const checks: readonly BenignCheck[] = options.checks ?? BENIGN_CHECKS;
  const results: Partial<Record<BenignCheck, CheckResult>> = {};
  for (const check of checks) {
    if (signal.aborted) break;
    const begun = Date.now();
    let result: CheckResult;
    try {
      if (check === 'http') result = await httpGet({ ip: web, port: WEB_PORT }, '/', timeoutMs, signal);
      else if (check === 'tls') result = await httpGet({ ip: web, port: TLS_PORT }, '/', timeoutMs, signal, true);
      else if (check === 'udp-high') result = await udpQuery({ ip: web, port: UDP_ECHO_PORT }, HIGH_PORT_DATAGRAM, (reply) => reply.equals(HIGH_PORT_DATAGRAM), timeoutMs, signal);
      else if (check === 'dns') result = await udpQuery({ ip: dns, port: DNS_PORT }, dnsQuery(), (reply) => reply.length >= 12 && reply.readUInt16BE(0) === 0x1234 && (reply[2]! & 0x80) !== 0, timeoutMs, signal);
      else if (check === 'ntp') result = await udpQuery({ ip: ntp, port: NTP_PORT }, ntpRequest(), (reply) => reply.length >= 48 && (reply[0]! & 7) === 4, timeoutMs, signal);
      else result = await bulkDownload({ ip: web, port: BULK_PORT }, options.bulkBytes ?? 20_000_000, options.bulkTimeoutMs ?? 60_000, signal);
    } catch (error) {
      result = { ok: false, ms: Date.now() - begun, error: errorCode(error) };
    }
    results[check] = result;
    log.write(check, result);
  }
  return { family: v6 ? 6 : 4, allOk: checks.every((check) => results[check]?.ok === true), ...results };
}

/** 64 bytes that look like a game's state update: no protocol's magic, a counter and noise. */
const HIGH_PORT_DATAGRAM = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 151 + 7) & 0xff));

function ntpRequest(): Buffer {
  const request = Buffer.alloc(48);
  request[0] = (0 << 6) | (4 << 3) | 3;
  const ntpSeconds = Math.floor(Date.now() / 1000) + 2208988800;
  request.writeUInt32BE(ntpSeconds >>> 0, 40);
  return request;
}

/** One datagram, up to 3 tries, each waiting timeoutMs/3 for a reply that `valid` accepts. */
async function udpQuery(target: Endpoint, payload: Buffer, valid: (reply: Buffer) => boolean, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
  const begun = Date.now();
  const socket = createSocket(target.ip.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => resolve());
    });
    socket.on('error', () => undefined);
    for (let attempt = 1; attempt <= 3 && !signal.aborted; attempt++) {
      const reply = new Promise<Buffer | null>((resolve) => {
        const timer = setTimeout(() => done(null), Math.max(200, timeoutMs / 3));
        const onMessage = (message: Buffer) => {
          if (valid(message)) done(message);
        };
        function done(value: Buffer | null) {
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(value);
        }
        socket.on('message', onMessage);
      });
      socket.send(payload, target.port, target.ip);
      const answer = await reply;
      if (answer) return { ok: true, ms: Date.now() - begun, tries: attempt, target: formatEndpoint(target), bytes: answer.length };
    }
    return { ok: false, ms: Date.now() - begun, tries: 3, target: formatEndpoint(target), error: 'no reply' };
  } finally {
    socket.close();
  }
}

/** GET over HTTP, or over TLS (the lab's certificate is a throwaway one: the handshake and the page are what count, not who signed it). */
function httpGet(target: Endpoint, path: string, timeoutMs: number, signal: AbortSignal, overTls = false): Promise<CheckResult> {
  const begun = Date.now();
  return new Promise((resolve) => {
    const request = overTls ? httpsRequest : httpRequest;
    const req = request({ host: target.ip, port: target.port, path, timeout: timeoutMs, signal, headers: { 'User-Agent': 'p2pwall-lab benign-client' }, ...(overTls ? { rejectUnauthorized: false } : {}) }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ ok: res.statusCode === 200, ms: Date.now() - begun, status: res.statusCode, bytes, target: formatEndpoint(target) }));
      res.on('error', (error) => resolve({ ok: false, ms: Date.now() - begun, status: res.statusCode, error: errorCode(error) }));
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error) => resolve({ ok: false, ms: Date.now() - begun, target: formatEndpoint(target), error: errorCode(error) }));
    req.end();
  });
}

async function bulkDownload(target: Endpoint, bytes: number, timeoutMs: number, signal: AbortSignal): Promise<CheckResult> {
  const begun = Date.now();
  const connection = await connectTcp(target, Math.min(timeoutMs, 5000), signal);
  if (!connection.socket) return { ok: false, ms: Date.now() - begun, bytes: 0, target: formatEndpoint(target), error: connection.outcome };
  const socket = connection.socket;
  const transferStart = Date.now();
  let received = 0;
  const done = new Promise<'closed' | 'timeout' | 'aborted'>((resolve) => {
    const timer = setTimeout(() => finish('timeout'), Math.max(1, timeoutMs - (Date.now() - begun)));
    const onAbort = () => finish('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    function finish(end: 'closed' | 'timeout' | 'aborted') {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(end);
    }
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => undefined);
  });
  await writeAll(socket, `GET ${bytes}\n`);
  const end = await done;
  socket.destroy();
  const seconds = Math.max(1e-3, (Date.now() - transferStart) / 1000);
  return { ok: received === bytes, ms: Date.now() - begun, bytes: received, expected: bytes, bytesPerSecond: Math.round(received / seconds), end, target: formatEndpoint(target) };
}
