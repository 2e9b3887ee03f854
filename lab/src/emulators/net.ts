/** Small socket helpers with timeouts, shared by the emulators. */
import { createConnection, type Socket } from 'node:net';
import type { Endpoint } from '../netns/addresses.js';
import { outcomeOf } from './common.js';

export type ConnectOutcome = 'ok' | 'timeout' | 'refused' | 'unreachable' | 'error' | 'aborted';

export interface ConnectResult {
  outcome: ConnectOutcome;
  socket?: Socket;
  ms: number;
  error?: string;
}

/** A TCP connect that ends in at most timeoutMs (a dropped SYN is a timeout, a RST a refusal). */
export function connectTcp(target: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<ConnectResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve({ outcome: 'aborted', ms: 0 });
    const socket = createConnection({ host: target.ip, port: target.port });
    let settled = false;
    const finish = (result: Omit<ConnectResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('connect');
      if (result.outcome !== 'ok') socket.destroy();
      else socket.on('error', () => undefined);
      resolve({ ...result, ms: Date.now() - started });
    };
    const onAbort = () => finish({ outcome: 'aborted' });
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ outcome: 'ok', socket }));
    socket.once('error', (error) => finish({ outcome: outcomeOf(error), error: (error as NodeJS.ErrnoException).code ?? error.message }));
  });
}

/**
 * Reads from a socket until `enough(buffer)` says so, the peer closes, maxBytes arrive or
 * timeoutMs passes without that. Resolves with what arrived and why it stopped.
 */
export function readUntil(socket: Socket, enough: (data: Buffer) => boolean, timeoutMs: number, maxBytes = 1 << 20, signal?: AbortSignal): Promise<{ data: Buffer; end: 'enough' | 'closed' | 'timeout' | 'limit' | 'aborted' | 'error' }> {
  return new Promise((resolve) => {
    // A buffer that doubles as data arrives: linear in what is read, however it is cut.
    let buffer = Buffer.allocUnsafe(4096);
    let length = 0;
    let settled = false;
    const finish = (end: 'enough' | 'closed' | 'timeout' | 'limit' | 'aborted' | 'error') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      // Hold further data for the next reader (a flowing socket with no listener drops it).
      socket.pause();
      resolve({ data: buffer.subarray(0, length), end });
    };
    const onData = (chunk: Buffer) => {
      if (length + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + chunk.length));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      chunk.copy(buffer, length);
      length += chunk.length;
      if (enough(buffer.subarray(0, length))) finish('enough');
      else if (length >= maxBytes) finish('limit');
    };
    const onEnd = () => finish('closed');
    const onError = () => finish('error');
    const onAbort = () => finish('aborted');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}

export interface HttpHead {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  /** Bytes after the blank line that came with the head. */
  rest: Buffer;
}

/** Parses an HTTP head (request or response) from the start of data, or null when it is not complete. */
export function parseHead(data: Buffer): HttpHead | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const statusLine = lines[0] ?? '';
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  return { statusLine, status, headers, rest: data.subarray(end + 4) };
}

/** Writes all of data, honouring back-pressure; resolves false when the socket failed first. */
export function writeAll(socket: Socket, data: Uint8Array | string): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(false);
    socket.write(data, (error) => resolve(!error));
  });
}
