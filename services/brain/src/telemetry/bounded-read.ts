import type { Redis } from 'ioredis';

/** What `read` answers within timeoutMs; undefined when it fails or takes longer (a scrape never waits). */
export async function within<T>(timeoutMs: number, read: () => Promise<T | undefined>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    return await Promise.race([read().catch(() => undefined), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A read of Redis for a scrape: undefined while Redis is not connected, when the read fails, or
 * when it does not answer within timeoutMs. The brain's Redis client queues commands while it
 * reconnects, and a scrape must not wait for that.
 */
export function boundedRead<T>(redis: Redis, timeoutMs: number, read: () => Promise<T | undefined>): Promise<T | undefined> {
  if (redis.status !== 'ready') return Promise.resolve(undefined);
  return within(timeoutMs, read);
}
