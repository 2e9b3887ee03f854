/**
 * A token bucket (pure: the clock is passed in). `burst` tokens at most; `perMinute` come back
 * each minute. An event takes one token or is refused.
 */
export interface Bucket {
  tokens: number;
  atMs: number;
}

export function fullBucket(burst: number, nowMs: number): Bucket {
  return { tokens: burst, atMs: nowMs };
}

/** The bucket after `nowMs`, and whether an event may go now. */
export function takeToken(bucket: Bucket, nowMs: number, rate: { perMinute: number; burst: number }): { bucket: Bucket; allowed: boolean } {
  const elapsed = Math.max(0, nowMs - bucket.atMs);
  const tokens = Math.min(rate.burst, bucket.tokens + (elapsed * rate.perMinute) / 60_000);
  if (tokens < 1) return { bucket: { tokens, atMs: Math.max(nowMs, bucket.atMs) }, allowed: false };
  return { bucket: { tokens: tokens - 1, atMs: Math.max(nowMs, bucket.atMs) }, allowed: true };
}
