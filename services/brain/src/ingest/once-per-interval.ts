/**
 * Whether something keyed (a sensor) may be reported now: at most once per interval per key, so
 * a sensor that misbehaves on every message is logged once a minute, not once a message (pure
 * apart from its bounded memory; the clock is passed in).
 */
export class OncePerInterval {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    /** Keys remembered at most; when full, the memory starts over (a few extra lines, never unbounded memory). */
    private readonly maxKeys = 10_000,
  ) {}

  /** True when `key` was not reported in the last interval (and records it as reported now). */
  take(key: string, nowMs: number): boolean {
    const previous = this.last.get(key);
    if (previous !== undefined && nowMs - previous < this.intervalMs) return false;
    if (previous === undefined && this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, nowMs);
    return true;
  }
}
