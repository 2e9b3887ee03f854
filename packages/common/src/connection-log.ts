/**
 * What an operator reads about a connection (Redis, NATS): one line when it comes up, one when it
 * is lost, with the cause in plain words, a reminder while it stays down, and one when it is back
 * with how long it was gone — never a line per failed retry, and never a client library's
 * internal wording ("Reached the max retries per request limit").
 */
import type { Logger } from 'pino';
import { connectionFailure, type ConnectionFailure } from './connections.js';

/** The cause of a connection failure for a person: client-library internals become what happened. */
export function connectionCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (/max retries per request limit|Connection is closed|connection closed|CONNECTION_CLOSED/i.test(message)) return 'the connection closed';
  if (/Stream isn't writeable|enableOfflineQueue/i.test(message)) return 'not connected';
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) return 'connection refused';
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|connect timeout|timed out/i.test(message)) return 'connection timed out';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(message)) return 'host name not found';
  if (code === 'ECONNRESET' || /ECONNRESET/.test(message)) return 'connection reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || /EHOSTUNREACH|ENETUNREACH/.test(message)) return 'no route to the server';
  return message.split('\n')[0]!.slice(0, 200);
}

export interface ConnectionLogOptions {
  /** The service as people name it: "Redis", "NATS". */
  service: string;
  /** Fields every line carries, e.g. the URL (without credentials). */
  context?: Record<string, unknown>;
  /** While it stays down, a reminder this often (ms). */
  remindMs?: number;
  now?: () => number;
}

export class ConnectionLog {
  private state: 'never' | 'up' | 'down' = 'never';
  private downSince = 0;
  private lastLine = 0;
  private lastFailure: ConnectionFailure | null = null;
  private seenCause: string | null = null;
  private readonly remindMs: number;
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    private readonly options: ConnectionLogOptions,
  ) {
    this.remindMs = options.remindMs ?? 600_000;
    this.now = options.now ?? Date.now;
  }

  get connected(): boolean {
    return this.state === 'up';
  }

  /** The cause of the last failure logged or seen, for a start-up message; null while none. */
  get lastCause(): string | null {
    return this.seenCause;
  }

  up(): void {
    if (this.state === 'up') return;
    const { service, context } = this.options;
    if (this.state === 'never') this.logger.info({ ...context }, `connected to ${service}`);
    else this.logger.info({ ...context, downSeconds: Math.round((this.now() - this.downSince) / 1000) }, `${service} is back`);
    this.state = 'up';
  }

  /**
   * A failure: logged when the connection goes down (or never came up), when the kind of failure
   * changes (unreachable, credentials, TLS, ...; not "closed" then "refused" while retrying), and
   * as a reminder every remindMs. `consequence` says what p2pwall does meanwhile; for a failure
   * that is not mere unreachability (refused credentials, TLS) it is the whole message, since it
   * names what to check. The cause goes in `err`.
   */
  down(error: unknown, consequence: string, level: 'warn' | 'error' = 'warn'): void {
    const now = this.now();
    const cause = connectionCause(error);
    const failure = connectionFailure(error);
    this.seenCause = cause;
    const { service, context } = this.options;
    const firstLine = this.state !== 'down';
    if (!firstLine && failure === this.lastFailure && now - this.lastLine < this.remindMs) return;
    const what = failure !== 'unreachable' ? consequence : firstLine ? `${this.state === 'up' ? 'lost' : 'cannot reach'} ${service}: ${cause}; ${consequence}` : `${service} still unavailable: ${cause}; ${consequence}`;
    if (firstLine) {
      this.state = 'down';
      this.downSince = now;
    }
    this.write(level, { ...context, err: cause, ...(firstLine ? {} : { downSeconds: Math.round((now - this.downSince) / 1000) }) }, what, now, failure);
  }

  private write(level: 'warn' | 'error', fields: Record<string, unknown>, message: string, now: number, failure: ConnectionFailure): void {
    this.logger[level](fields, message);
    this.lastLine = now;
    this.lastFailure = failure;
  }
}
