import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { octetFrames } from './parse.js';

/**
 * Real receivers for the notification tests, on free ports of 127.0.0.1: an HTTP server (what a
 * webhook, Slack or Teams endpoint is) and syslog listeners over UDP, TCP and TLS. Each keeps what
 * it received with the time it arrived.
 */

export interface Received<T> {
  items: T[];
  /** Resolves once `count` items arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
}

function received<T>(): Received<T> & { add(item: T): void } {
  const items: T[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    items,
    add(item: T) {
      items.push(item);
      for (const waiter of waiters.filter((w) => items.length >= w.count)) waiter.resolve();
    },
    waitFor(count: number, timeoutMs = 5000) {
      if (items.length >= count) return Promise.resolve(items);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} items (got ${items.length})`)), timeoutMs);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(items)) });
      });
    },
  };
}

export interface HttpRequestSeen {
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
  /** The status it was answered with. */
  status: number;
}

export interface HttpReceiver extends Received<HttpRequestSeen> {
  url: string;
  port: number;
  /** The statuses of the next answers, in order (then 200); 0: no answer at all. */
  answers: number[];
  close(): Promise<void>;
}

export async function startHttpReceiver(port = 0): Promise<HttpReceiver> {
  const seen = received<HttpRequestSeen>();
  const answers: number[] = [];
  const server: Server = createHttpServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const status = answers.shift() ?? 200;
      if (status === 0) {
        // 0: never answer (a receiver that hangs); the sender must give up on its own
        seen.add({ headers: request.headers, body, atMs: Date.now(), status });
        return;
      }
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
      seen.add({ headers: request.headers, body, atMs: Date.now(), status });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    ...seen,
    items: seen.items,
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    answers,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that nothing listens on (taken and given back). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface SyslogSeen {
  text: string;
  atMs: number;
}

export interface SyslogReceiver extends Received<SyslogSeen> {
  port: number;
  /** TCP and TLS: connections accepted so far. */
  connections: number;
  /** Drops every open connection (the sender must make a new one). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startUdpSyslog(): Promise<SyslogReceiver> {
  const seen = received<SyslogSeen>();
  const socket = createSocket('udp4');
  socket.on('message', (message) => seen.add({ text: message.toString('utf8'), atMs: Date.now() }));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { ...seen, items: seen.items, port: socket.address().port, connections: 0, dropConnections: () => undefined, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A syslog listener over TCP, or TLS with `tls` (PEM files), reading RFC 6587 octet-counted frames. */
export async function startStreamSyslog(tls?: { cert: string; key: string }): Promise<SyslogReceiver> {
  const seen = received<SyslogSeen>();
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const onSocket = (socket: Socket) => {
    state.connections += 1;
    sockets.add(socket);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const { frames, rest } = octetFrames(buffer);
      buffer = Buffer.from(rest);
      for (const frame of frames) seen.add({ text: frame.toString('utf8'), atMs: Date.now() });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: NetServer = tls ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onSocket) : createNetServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...seen,
    items: seen.items,
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
