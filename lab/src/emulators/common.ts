/**
 * What every emulator shares: a JSON-lines log (one object a line, `ts: Date.now()` first; written
 * synchronously, so a reader in another namespace, or after a kill, sees every finished line),
 * a stop signal (SIGTERM, SIGINT or `--duration`), and the role runner that prints the final
 * JSON summary on stdout.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { dirname } from 'node:path';
import { peerCache } from '../synthetic/scenarios.js';
import type { Endpoint } from '../netns/addresses.js';

export class JsonLog {
  private fd: number | undefined;
  readonly counts: Record<string, number> = {};

  constructor(readonly file?: string) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      this.fd = openSync(file, 'a');
    }
  }

  write(event: string, fields: Record<string, unknown> = {}): void {
    this.counts[event] = (this.counts[event] ?? 0) + 1;
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify({ ts: Date.now(), event, ...fields })}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Aborts on SIGTERM/SIGINT, or when durationMs (if any) has passed. */
export function stopSignal(durationMs?: number): { signal: AbortSignal; reason: () => string; dispose: () => void } {
  const controller = new AbortController();
  // Every pending connect and read listens for the stop: hundreds at once are expected.
  setMaxListeners(10_000, controller.signal);
  let why = '';
  const stop = (reason: string) => {
    if (controller.signal.aborted) return;
    why = reason;
    controller.abort(new Error(reason));
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const timer = durationMs !== undefined && durationMs > 0 ? setTimeout(() => stop('duration'), durationMs) : undefined;
  return {
    signal: controller.signal,
    reason: () => why,
    dispose: () => {
      clearTimeout(timer);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    },
  };
}

/** Resolves after ms, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when the signal aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export interface RoleContext {
  log: JsonLog;
  signal: AbortSignal;
}

/**
 * Runs a role: its log, its stop signal, its summary on stdout (one JSON line, always, also when
 * stopped early or failed). Exit status 0, or 1 only when the role itself failed (not when its
 * traffic was blocked).
 */
export async function runRole(role: string, options: { log?: string; durationMs?: number }, body: (context: RoleContext) => Promise<Record<string, unknown>>): Promise<void> {
  const log = new JsonLog(options.log);
  const stop = stopSignal(options.durationMs);
  const started = Date.now();
  let summary: Record<string, unknown>;
  try {
    log.write('start', { role, pid: process.pid, argv: process.argv.slice(2) });
    summary = { role, ...(await body({ log, signal: stop.signal })) };
  } catch (error) {
    process.exitCode = 1;
    summary = { role, error: error instanceof Error ? error.message : String(error) };
    log.write('error', { message: summary.error });
  }
  summary = { ...summary, stoppedBy: stop.reason() || 'end', durationMs: Date.now() - started };
  log.write('summary', summary);
  log.close();
  stop.dispose();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  // Sockets are closed by now; a stray handle must not keep the emulator alive.
  setTimeout(() => process.exit(), 200).unref();
}

export interface CacheOptions {
  cache?: string;
  cacheSize?: number;
  seed?: number;
}

/** The peer cache: a JSON file of [{ip, port}], or peerCache(size, seed) as the synthetic scenarios use. */
export function loadCache(options: CacheOptions): Endpoint[] {
  if (options.cache) {
    const parsed = JSON.parse(readFileSync(options.cache, 'utf8')) as unknown;
    if (!Array.isArray(parsed)) throw new Error(`${options.cache}: expected a JSON array of {"ip": …, "port": …}`);
    return parsed.map((entry: unknown, i) => {
      const { ip, port } = (entry ?? {}) as { ip?: unknown; port?: unknown };
      if (typeof ip !== 'string' || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${options.cache}: entry ${i} is not {"ip": string, "port": 1–65535}`);
      return { ip, port };
    });
  }
  return peerCache(options.cacheSize ?? 200, options.seed ?? 1);
}

/** Error code of a socket error, for outcomes (`ECONNREFUSED` → refused, …). */
export function outcomeOf(error: unknown): 'refused' | 'unreachable' | 'timeout' | 'error' {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EACCES' || code === 'EPERM') return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'error';
}

export function errorCode(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code ?? (e instanceof Error ? e.message : String(error));
}
