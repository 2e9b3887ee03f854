/**
 * The brain's HTTP API as the console calls it: the token lives in sessionStorage (gone when the
 * tab closes) and travels only in the Authorization header, never in a URL.
 */
export type { AllowView, DecisionView, FlowSampleView, HostView, IncidentState, IncidentView, Page, PeerView, SensorView, WorkflowAction, WorkflowStepView } from '../../services/brain/src/api/views.js';

const TOKEN_KEY = 'p2pwall.token';

export type Role = 'read' | 'admin';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  save: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer other than 2xx: the brain's message, which names the field or the refusal. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Query parameters without the empty ones (a filter left blank is no filter). */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, token = session.token()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data as { message?: unknown } | null)?.message;
    throw new ApiError(response.status, typeof message === 'string' ? message : `HTTP ${response.status}`);
  }
  return data as T;
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);

/** A text answer (CSV) with the token in the header, and the next page's cursor when the brain names one. */
export async function getText(path: string, cursorHeader?: string): Promise<{ text: string; next: string | null }> {
  const token = session.token();
  const headers: Record<string, string> = { accept: 'text/csv, text/plain' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  const response = await fetch(path, { method: 'GET', headers, cache: 'no-store', credentials: 'omit' });
  const text = await response.text();
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const data = JSON.parse(text) as { message?: unknown };
      if (typeof data.message === 'string') message = data.message;
    } catch {
      // not the brain's JSON error: the status says it
    }
    throw new ApiError(response.status, message);
  }
  return { text, next: cursorHeader ? response.headers.get(cursorHeader) : null };
}

/**
 * Saves `text` as a file: a Blob's object URL on a link with `download` (the file was fetched
 * with the bearer header; a plain link to the API would have to carry the token in its URL).
 */
export function saveFile(text: string, filename: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  // the browser has taken the file by then; the URL would otherwise hold the text until the tab closes
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The role of a token, or the brain's refusal of it. */
export async function roleOf(token: string): Promise<Role> {
  return (await call<{ role: Role }>('GET', '/v1/session', undefined, token)).role;
}

export const enc = encodeURIComponent;
