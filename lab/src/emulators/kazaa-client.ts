/**
 * `emulate kazaa-client` (in a client namespace): a FastTrack client's start-up, following the
 * three connection modes of protocols README §1.4, then a clear-text download:
 *
 * 1. `udp`: a flood of identical node pings from one local UDP port to every peer of its cache,
 *    at a set rate, collecting pongs until a short window after the last ping.
 * 2. `parallel`: TCP connects, all at once, to peers that answered `0x28` (Kazaa never connects to
 *    `0x29` answerers), or to the cache when none answered; on connect, the 12-byte hello, then
 *    8 bytes awaited.
 * 3. `serial`: one-at-a-time connects to further cache entries, with short timeouts.
 * 4. `download`: `GET /.hash=…` with Kazaa's headers (UserAgent: KazaaClient, X-Kazaa-Username,
 *    X-Kazaa-Network, X-Kazaa-SupernodeIP) from the search-result uploader.
 *
 * Every attempt and its outcome is logged. Being blocked is the point, so the exit status is 0
 * whatever the network did.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EXAMPLE_HASH, hashRequest, nodePing, nodePong, sessionHello } from '../fasttrack/payloads.js';
import { formatEndpoint, inFamily, KAZAA_SUPERNODE, KAZAA_UPLOADER, type Endpoint } from '../netns/addresses.js';
import { errorCode, sleep, type RoleContext } from './common.js';
import { connectTcp, parseHead, readUntil, writeAll, type ConnectOutcome } from './net.js';

export const KAZAA_PHASES = ['udp', 'parallel', 'serial', 'download'] as const;
export type KazaaPhase = (typeof KAZAA_PHASES)[number];

export interface KazaaClientOptions {
  cache: Endpoint[];
  phases?: readonly KazaaPhase[];
  network?: string;
  /** Local UDP port of the flood (Kazaa's listening port). */
  port?: number;
  /** Pings per second. */
  rate?: number;
  /** How long to keep collecting pongs after the last ping. */
  pongWaitMs?: number;
  /** Targets of the parallel phase, connected all at once. */
  parallel?: number;
  connectTimeoutMs?: number;
  /** Wait for the 8-byte hello reply this long. */
  helloTimeoutMs?: number;
  /** Further cache entries tried one at a time. */
  serial?: number;
  serialTimeoutMs?: number;
  downloadFrom?: Endpoint;
  /** The client's supernode, named in X-Kazaa-SupernodeIP. */
  supernode?: Endpoint;
  hash?: string;
  username?: string;
  downloadTimeoutMs?: number;
  /** Use the IPv6 twins of every outside address. */
  ipv6?: boolean;
  /**
   * After the last phase, keep the UDP port open this long, answering node pings with pongs as
   * a running Kazaa does (what ftwall's half-life probe of a locked client expects). Only when
   * the udp phase ran.
   */
  lingerMs?: number;
}

export interface TcpPhaseSummary {
  attempts: number;
  connected: number;
  timeouts: number;
  refused: number;
  unreachable: number;
  errors: number;
  hellos: number;
  ms: number;
}

export interface KazaaClientSummary {
  network: string;
  family: 4 | 6;
  cacheSize: number;
  phases: KazaaPhase[];
  udp: { pingsSent: number; sendErrors: number; pongs: number; pong2: number; answered: number; ms: number; pingsReceived: number } | null;
  parallel: TcpPhaseSummary | null;
  serial: TcpPhaseSummary | null;
  download: { from: string; outcome: string; status: number | null; bodyBytes: number; kazaaIp: string | null; supernodeIp: string | null; ms: number } | null;
  /** From the first ping (or first connect) to the end of the last phase. */
  startupMs: number;
  [key: string]: unknown;
}

export async function runKazaaClient(options: KazaaClientOptions, { log, signal }: RoleContext): Promise<KazaaClientSummary> {
  const v6 = options.ipv6 ?? false;
  const cache = options.cache.map((peer) => ({ ip: inFamily(peer.ip, v6), port: peer.port }));
  const phases = [...(options.phases ?? KAZAA_PHASES)];
  const network = options.network ?? 'KaZaA';
  const connectTimeoutMs = options.connectTimeoutMs ?? 1500;
  const helloTimeoutMs = options.helloTimeoutMs ?? 1500;
  const started = Date.now();
  const summary: KazaaClientSummary = { network, family: v6 ? 6 : 4, cacheSize: cache.length, phases, udp: null, parallel: null, serial: null, download: null, startupMs: 0 };
  const tried = new Set<string>();
  let answered: Endpoint[] = [];
  let udpSocket: UdpSocket | undefined;

  if (phases.includes('udp') && !signal.aborted) {
    const result = await udpFlood(cache, { port: options.port ?? 3531, rate: options.rate ?? 1000, pongWaitMs: options.pongWaitMs ?? 1000, network, v6 }, { log, signal });
    summary.udp = result.summary;
    answered = result.answered;
    udpSocket = result.socket;
  }

  const tcpAttempt = async (phase: 'parallel' | 'serial', target: Endpoint, timeoutMs: number, stats: TcpPhaseSummary) => {
    const to = formatEndpoint(target);
    tried.add(to);
    stats.attempts++;
    log.write('connect-start', { phase, to });
    const connection = await connectTcp(target, timeoutMs, signal);
    count(stats, connection.outcome);
    log.write('connect', { phase, to, outcome: connection.outcome, ms: connection.ms, ...(connection.error ? { error: connection.error } : {}) });
    if (!connection.socket) return;
    const socket = connection.socket;
    await writeAll(socket, sessionHello({ seed: (Math.random() * 0xffffffff) >>> 0 }));
    const reply = await readUntil(socket, (data) => data.length >= 8, helloTimeoutMs, 4096, signal);
    const outcome = reply.data.length >= 8 ? 'answered' : reply.end === 'closed' ? 'closed' : reply.end;
    if (outcome === 'answered') stats.hellos++;
    log.write('hello', { phase, to, outcome, bytes: reply.data.length });
    socket.destroy();
  };

  if (phases.includes('parallel') && !signal.aborted) {
    const stats = emptyTcpStats();
    const begun = Date.now();
    const pool = answered.length > 0 ? answered : cache;
    const targets = pool.slice(0, options.parallel ?? 20);
    log.write('phase', { phase: 'parallel', targets: targets.length, from: answered.length > 0 ? 'answered' : 'cache' });
    await Promise.all(targets.map((target) => tcpAttempt('parallel', target, connectTimeoutMs, stats)));
    stats.ms = Date.now() - begun;
    summary.parallel = stats;
  }

  if (phases.includes('serial') && !signal.aborted) {
    const stats = emptyTcpStats();
    const begun = Date.now();
    const targets = cache.filter((peer) => !tried.has(formatEndpoint(peer))).slice(0, options.serial ?? 20);
    log.write('phase', { phase: 'serial', targets: targets.length });
    for (const target of targets) {
      if (signal.aborted) break;
      await tcpAttempt('serial', target, options.serialTimeoutMs ?? 1000, stats);
    }
    stats.ms = Date.now() - begun;
    summary.serial = stats;
  }

  if (phases.includes('download') && !signal.aborted) {
    const from = options.downloadFrom ?? KAZAA_UPLOADER;
    const target = { ip: inFamily(from.ip, v6), port: from.port };
    const supernode = options.supernode ?? KAZAA_SUPERNODE;
    log.write('phase', { phase: 'download', from: formatEndpoint(target) });
    summary.download = await download(target, { network, supernode, hash: options.hash ?? EXAMPLE_HASH, username: options.username ?? 'alice', port: options.port ?? 3531, timeoutMs: options.downloadTimeoutMs ?? 5000 }, { log, signal });
  }

  summary.startupMs = Date.now() - started;
  if (udpSocket) {
    if ((options.lingerMs ?? 0) > 0 && !signal.aborted) {
      log.write('phase', { phase: 'linger', ms: options.lingerMs });
      await sleep(options.lingerMs!, signal);
    }
    udpSocket.close();
  }
  return summary;
}

function emptyTcpStats(): TcpPhaseSummary {
  return { attempts: 0, connected: 0, timeouts: 0, refused: 0, unreachable: 0, errors: 0, hellos: 0, ms: 0 };
}

function count(stats: TcpPhaseSummary, outcome: ConnectOutcome): void {
  if (outcome === 'ok') stats.connected++;
  else if (outcome === 'timeout') stats.timeouts++;
  else if (outcome === 'refused') stats.refused++;
  else if (outcome === 'unreachable') stats.unreachable++;
  else if (outcome !== 'aborted') stats.errors++;
}

async function udpFlood(
  cache: Endpoint[],
  options: { port: number; rate: number; pongWaitMs: number; network: string; v6: boolean },
  { log, signal }: RoleContext,
): Promise<{ summary: NonNullable<KazaaClientSummary['udp']>; answered: Endpoint[]; socket: UdpSocket }> {
  const begun = Date.now();
  const socket = createSocket(options.v6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
  const stats = { pingsSent: 0, sendErrors: 0, pongs: 0, pong2: 0, answered: 0, ms: 0, pingsReceived: 0 };
  const answered = new Map<string, Endpoint>();
  socket.on('message', (message, remote) => {
    const from = { ip: remote.address, port: remote.port };
    const type = message[0];
    if (type === 0x28) {
      stats.pongs++;
      const nameEnd = message.indexOf(0, 11);
      log.write('pong', { from: formatEndpoint(from), type: '0x28', network: message.subarray(11, nameEnd < 0 ? message.length : nameEnd).toString('latin1'), bytes: message.length });
      answered.set(formatEndpoint(from), from);
    } else if (type === 0x29) {
      stats.pong2++;
      log.write('pong', { from: formatEndpoint(from), type: '0x29', bytes: message.length });
    } else if (type === 0x27) {
      // A node ping to us (another node, or a firewall checking that we still run FastTrack): answer it.
      stats.pingsReceived++;
      const nameEnd = message.indexOf(0, 6);
      const network = message.subarray(6, nameEnd < 0 ? message.length : nameEnd).toString('latin1');
      log.write('ping-received', { from: formatEndpoint(from), network, bytes: message.length });
      socket.send(nodePong({ network }), remote.port, remote.address, (error) => log.write('pong-sent', { to: formatEndpoint(from), ...(error ? { error: errorCode(error) } : {}) }));
    } else {
      log.write('udp-other', { from: formatEndpoint(from), first: type, bytes: message.length });
    }
  });
  socket.on('error', (error) => log.write('udp-error', { error: errorCode(error) }));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: options.port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  log.write('phase', { phase: 'udp', targets: cache.length, port: options.port, rate: options.rate });
  const ping = nodePing({ network: options.network });
  const rate = Math.max(1, options.rate);
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < cache.length && !signal.aborted) {
    // Send what is due by now at the rate, then sleep a tick.
    const due = Math.min(cache.length, Math.max(sent + 1, Math.floor(((Date.now() - begun) * rate) / 1000)));
    while (sent < due) {
      const peer = cache[sent++]!;
      pending.push(
        new Promise((resolve) => {
          socket.send(ping, peer.port, peer.ip, (error) => {
            if (error) {
              stats.sendErrors++;
              log.write('ping-failed', { to: formatEndpoint(peer), error: errorCode(error) });
            } else {
              stats.pingsSent++;
              log.write('ping', { to: formatEndpoint(peer), bytes: ping.length });
            }
            resolve();
          });
        }),
      );
    }
    if (sent < cache.length) await sleep(Math.max(1, Math.min(10, 1000 / rate)), signal);
  }
  await Promise.all(pending);
  await sleep(options.pongWaitMs, signal);
  // The port stays open (Kazaa keeps listening) until the client ends; see lingerMs.
  stats.answered = answered.size;
  stats.ms = Date.now() - begun;
  return { summary: stats, answered: [...answered.values()], socket };
}

async function download(
  target: Endpoint,
  options: { network: string; supernode: Endpoint; hash: string; username: string; port: number; timeoutMs: number },
  { log, signal }: RoleContext,
): Promise<NonNullable<KazaaClientSummary['download']>> {
  const begun = Date.now();
  const from = formatEndpoint(target);
  const result = { from, outcome: 'failed', status: null as number | null, bodyBytes: 0, kazaaIp: null as string | null, supernodeIp: null as string | null, ms: 0 };
  const connection = await connectTcp(target, options.timeoutMs, signal);
  log.write('connect', { phase: 'download', to: from, outcome: connection.outcome, ms: connection.ms, ...(connection.error ? { error: connection.error } : {}) });
  if (!connection.socket) {
    result.outcome = connection.outcome;
    result.ms = Date.now() - begun;
    log.write('download', result);
    return result;
  }
  const socket = connection.socket;
  const local = socket.localAddress && !socket.localAddress.includes(':') ? `${socket.localAddress}:${options.port}` : undefined;
  const request = hashRequest({ host: from, hash: options.hash, network: options.network, username: options.username, supernodeIp: formatEndpoint(options.supernode), ...(local ? { kazaaIp: local } : {}) });
  await writeAll(socket, Buffer.from(request, 'latin1'));
  const remaining = Math.max(1, options.timeoutMs - (Date.now() - begun));
  // Parse the head once; after that only the body length is compared.
  let expected: number | undefined;
  const reply = await readUntil(
    socket,
    (data) => {
      if (expected === undefined) {
        const head = parseHead(data);
        if (!head) return false;
        const length = Number(head.headers['content-length'] ?? NaN);
        expected = Number.isFinite(length) ? data.length - head.rest.length + length : Infinity;
      }
      return data.length >= expected;
    },
    remaining,
    80 * 1024 * 1024,
    signal,
  );
  socket.destroy();
  const head = parseHead(reply.data);
  if (head) {
    result.status = head.status;
    result.bodyBytes = head.rest.length;
    result.kazaaIp = head.headers['x-kazaa-ip'] ?? null;
    result.supernodeIp = head.headers['x-kazaa-supernodeip'] ?? null;
    const length = Number(head.headers['content-length'] ?? NaN);
    result.outcome = head.status >= 200 && head.status < 300 && (!Number.isFinite(length) || head.rest.length >= length) ? 'ok' : `http-${head.status}`;
  } else {
    result.outcome = reply.end === 'timeout' ? 'timeout' : reply.data.length === 0 ? 'no-reply' : 'bad-reply';
  }
  result.ms = Date.now() - begun;
  log.write('download', result);
  return result;
}
