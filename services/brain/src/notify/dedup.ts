/**
 * "Sent within the window already?" for event keys (events.ts dedupKey); the clock is passed
 * in. Memory is bounded: past `maxKeys` the keys seen longest ago are forgotten first (at worst
 * an event is sent twice, never memory without end).
 */
export class DedupWindow {
  /** key → when it was last let through; a Map keeps insertion order, oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** true: new (or its window passed): let it through, and remember it; false: a duplicate. */
  admit(key: string, nowMs: number): boolean {
    if (this.windowMs <= 0) return true;
    const last = this.seen.get(key);
    if (last !== undefined && nowMs - last < this.windowMs) return false;
    this.seen.delete(key);
    this.seen.set(key, nowMs);
    while (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
