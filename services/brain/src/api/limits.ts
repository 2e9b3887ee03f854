/**
 * What keeps many API clients from starving the brain (its ingest and its health probes run on the
 * same event loop): a per-token rate limit (token bucket) and a bound on /v1 requests in flight.
 * Pure state and arithmetic; server.ts answers 429 and 503 from them.
 */

export interface ApiLimits {
  /** /v1 requests handled at once; more get 503 at once. */
  maxConcurrent: number;
  /** Sustained /v1 requests per second of one token; more get 429. */
  perTokenPerSecond: number;
  /** Requests one token may make at once above its rate (the bucket's size). */
  perTokenBurst: number;
  /** A request not answered within this long gets 503 (its handler is told through request.signal). */
  requestTimeoutSeconds: number;
}

export interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Takes one request from a token bucket refilled at `perSecond` up to `burst`; when empty, how long until one is there. */
export function takeFromBucket(bucket: Bucket | undefined, nowMs: number, perSecond: number, burst: number): { bucket: Bucket; allowed: boolean; retryAfterSeconds: number } {
  const elapsed = bucket === undefined ? 0 : Math.max(0, nowMs - bucket.updatedMs);
  const tokens = bucket === undefined ? burst : Math.min(burst, bucket.tokens + (elapsed * perSecond) / 1000);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, updatedMs: nowMs }, allowed: true, retryAfterSeconds: 0 };
  return { bucket: { tokens, updatedMs: nowMs }, allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)) };
}

/** Per-token buckets and the count of requests in flight, for one API. */
export class RequestLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private inFlight = 0;

  constructor(private readonly limits: ApiLimits) {}

  /** Whether `token` may make a request now (tokens are the configured ones: the map stays as small as the config). */
  admitToken(token: string, nowMs: number): { allowed: boolean; retryAfterSeconds: number } {
    const taken = takeFromBucket(this.buckets.get(token), nowMs, this.limits.perTokenPerSecond, this.limits.perTokenBurst);
    this.buckets.set(token, taken.bucket);
    return taken;
  }

  /** Counts a request in when there is room; call the returned release once it is answered or gone. */
  enter(): (() => void) | undefined {
    if (this.inFlight >= this.limits.maxConcurrent) return undefined;
    this.inFlight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
    };
  }

  get active(): number {
    return this.inFlight;
  }
}
