import { get, type IncomingHttpHeaders } from 'node:http';

/**
 * HTTP for the console's tests, each request on a connection of its own that closes with it:
 * fetch() (undici) keeps connections open in the test process (and opens a spare one when a body
 * is cancelled), and one it holds keeps the brain's stop waiting.
 */

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function httpGet(url: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** A live stream (text/event-stream) as it arrives; close() ends the connection. */
export interface Stream {
  status: number;
  contentType: string | undefined;
  body: string;
  /** Waits until `wanted` is in what came (or the time runs out); returns what came. */
  until(wanted: RegExp, timeoutMs: number): Promise<string>;
  close(): void;
}

export function openStream(url: string, token?: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (response) => {
      response.setEncoding('utf8');
      const stream: Stream = {
        status: response.statusCode ?? 0,
        contentType: response.headers['content-type'],
        body: '',
        until: async (wanted, timeoutMs) => {
          const deadline = Date.now() + timeoutMs;
          while (!wanted.test(stream.body) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
          return stream.body;
        },
        close: () => request.destroy(),
      };
      response.on('data', (chunk: string) => (stream.body += chunk));
      response.on('error', () => undefined);
      resolve(stream);
    });
    request.on('error', reject);
  });
}

