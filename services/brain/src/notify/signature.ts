import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The webhook signature: `X-P2pwall-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
 * with `X-P2pwall-Timestamp: <unix seconds>`. Signing the timestamp with the body lets a
 * receiver refuse a replayed request (an old timestamp) without keeping every delivery id. Each
 * attempt is signed afresh, so a retry after an hour still passes a five-minute tolerance.
 */

export const SIGNATURE_HEADER = 'x-p2pwall-signature';
export const TIMESTAMP_HEADER = 'x-p2pwall-timestamp';

export function signature(secret: string, timestampSeconds: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

/** What a receiver does (README shows it): the signature matches and the timestamp is within `toleranceSeconds` of `nowSeconds`. */
export function verifySignature(secret: string, header: string | undefined, timestamp: string | undefined, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  if (header === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(secret, Number(timestamp), body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
