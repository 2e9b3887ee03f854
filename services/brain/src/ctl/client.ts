import type { ErrorView } from '../api/views.js';

/**
 * The brain's HTTP API over global fetch. Every failure becomes a CtlError whose exit code says
 * which kind it was, so scripts can tell "brain down" (3) from "token wrong" (4) from "my
 * request was wrong" (2) from "brain broken" (5).
 */

export const EXIT = { ok: 0, usage: 1, rejected: 2, unreachable: 3, auth: 4, server: 5 } as const;

export class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
  timeoutMs: number;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** The base URL with a trailing slash, so a brain behind a path prefix keeps its prefix. */
export function baseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CtlError(`--url: "${text}" is not a URL (e.g. http://127.0.0.1:8080)`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CtlError(`--url: "${text}" is not an http(s) URL`, EXIT.usage);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

/** The request URL: the path (without its leading slash) under the base, with the defined query values. */
export function requestUrl(base: URL, path: string, query: Query = {}): URL {
  const url = new URL(path.replace(/^\/+/, ''), base);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url;
}

/** The deepest cause's message: fetch reports "fetch failed" and hides ECONNREFUSED in `cause`. */
function causeOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth += 1) {
    const next = (current as { cause?: unknown } | null)?.cause;
    if (next === undefined || next === null) break;
    current = next;
  }
  if (current instanceof Error) {
    const code = (current as NodeJS.ErrnoException).code;
    return code && !current.message.includes(code) ? `${code} ${current.message}` : current.message;
  }
  return String(current);
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** What the brain said in an error body ({statusCode, error, message}), or the start of whatever it sent. */
function serverMessage(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as Partial<ErrorView>;
    if (typeof parsed.message === 'string' && parsed.message !== '') return parsed.message;
    if (typeof parsed.error === 'string' && parsed.error !== '') return parsed.error;
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim().slice(0, 200);
  return text === '' ? `HTTP ${status}` : text;
}

/** Maps a non-2xx answer to the error a person or script can act on. */
export function errorForStatus(status: number, body: string, hasToken: boolean): CtlError {
  if (status === 401) {
    return hasToken
      ? new CtlError('the brain rejected the token (401)', EXIT.auth)
      : new CtlError('the brain wants a token (401): set P2PWALL_TOKEN or pass --token', EXIT.auth);
  }
  if (status === 403) return new CtlError('this token may only read; use an admin token (403)', EXIT.auth);
  if (status >= 400 && status < 500) return new CtlError(`the brain refused the request (${status}): ${serverMessage(status, body)}`, EXIT.rejected);
  return new CtlError(`the brain failed (${status}): ${serverMessage(status, body)}`, EXIT.server);
}

export interface RawAnswer {
  status: number;
  body: string;
}

export class BrainClient {
  private readonly base: URL;

  constructor(private readonly options: ClientOptions) {
    this.base = baseUrl(options.url);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, query);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, undefined, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.json<T>('DELETE', path);
  }

  /** One request without judging the status (for /health/ready, where 503 carries the reasons). */
  async raw(method: string, path: string, query?: Query, body?: unknown, authorize = true): Promise<RawAnswer> {
    const url = requestUrl(this.base, path, query);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (authorize && this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const where = this.base.href.replace(/\/$/, '');
    try {
      const response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      if (isTimeout(error)) throw new CtlError(`cannot reach the brain at ${where}: no answer within ${this.options.timeoutMs} ms`, EXIT.unreachable);
      throw new CtlError(`cannot reach the brain at ${where}: ${causeOf(error)}`, EXIT.unreachable);
    }
  }

  private async json<T>(method: string, path: string, query?: Query, body?: unknown): Promise<T> {
    const answer = await this.raw(method, path, query, body);
    if (answer.status < 200 || answer.status >= 300) throw errorForStatus(answer.status, answer.body, Boolean(this.options.token));
    try {
      return JSON.parse(answer.body) as T;
    } catch {
      throw new CtlError(`the brain answered ${method} ${path} with something that is not JSON: ${answer.body.trim().slice(0, 120)}`, EXIT.server);
    }
  }
}
