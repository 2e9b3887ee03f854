/**
 * Log lines about things that can happen once per message (a malformed message, a sensor that
 * misbehaves on every batch, a failing dependency) at most once per interval per key, so a flood
 * of them writes a few lines, not one per message. Each line that is written says how many of its
 * key were left out since the previous one; the caller counts every occurrence in its metrics
 * whether logged or not. Pure apart from its bounded memory: the clock is passed in.
 */
export class LogLimiter {
  private readonly keys = new Map<string, { lastMs: number; leftOut: number }>();

  constructor(
    private readonly intervalMs: number,
    /** Keys remembered at most; when full, the memory starts over (a few extra lines, never unbounded memory). */
    private readonly maxKeys = 10_000,
  ) {}

  /**
   * Whether a line about `key` may be written now: undefined when one was written within the
   * interval (this one is left out and counted); otherwise how many were left out since that line
   * (and this one is recorded as written now).
   */
  take(key: string, nowMs: number): { leftOut: number } | undefined {
    const entry = this.keys.get(key);
    if (entry !== undefined && nowMs - entry.lastMs < this.intervalMs) {
      entry.leftOut += 1;
      return undefined;
    }
    if (entry === undefined && this.keys.size >= this.maxKeys) this.keys.clear();
    const leftOut = entry?.leftOut ?? 0;
    this.keys.set(key, { lastMs: nowMs, leftOut: 0 });
    return { leftOut };
  }
}
