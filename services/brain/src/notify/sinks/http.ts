import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PermanentFailure } from '../queue.js';
import { signature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../signature.js';

/**
 * One POST of a JSON body (the imperative edge of webhook, slack and teams sinks). 2xx: sent;
 * 408, 429, 5xx, a timeout or a network error: throws (retried by the queue); any other status:
 * PermanentFailure (a receiver that refuses the payload will not take it later either).
 */

export interface HttpTarget {
  url: URL;
  /** HMAC key: signed when given. */
  secret: string | null;
  timeoutMs: number;
  userAgent: string;
}

/** Longest answer body read (for the log line of a failure). */
const MAX_ANSWER = 512;

export class HttpStatusError extends Error {}

export function postJson(target: HttpTarget, body: string, headers: Record<string, string>, nowMs = Date.now()): Promise<void> {
  const all: Record<string, string> = { 'content-type': 'application/json', 'user-agent': target.userAgent, 'content-length': String(Buffer.byteLength(body)), ...headers };
  if (target.secret !== null) {
    const timestamp = Math.floor(nowMs / 1000);
    all[TIMESTAMP_HEADER] = String(timestamp);
    all[SIGNATURE_HEADER] = signature(target.secret, timestamp, body);
  }
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // the whole attempt, not only an idle socket: a receiver answering a byte at a time is cut off too
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${target.timeoutMs} ms`)), target.timeoutMs);
    const settle = (error?: Error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const req = request(target.url, { method: 'POST', headers: all, agent: false }, (response: IncomingMessage) => {
      let answer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (answer.length < MAX_ANSWER) answer += chunk.slice(0, MAX_ANSWER - answer.length);
      });
      response.on('error', settle);
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return settle();
        const message = `HTTP ${status}${answer ? `: ${answer.replace(/\s+/g, ' ').trim()}` : ''}`;
        settle(status === 408 || status === 429 || status >= 500 ? new HttpStatusError(message) : new PermanentFailure(message));
      });
    });
    req.on('error', settle);
    req.end(body);
  });
}
