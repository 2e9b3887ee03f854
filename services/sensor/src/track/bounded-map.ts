/**
 * A Map bounded in size that evicts its least recently refreshed entry. It relies on a Map's
 * insertion order: refreshing an entry re-inserts it at the end, so the oldest is always first.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  evictions = 0;

  constructor(
    readonly capacity: number,
    /** Told about each entry evicted to make room. */
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(capacity >= 1)) throw new RangeError('a bounded table needs room for at least one entry');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** Inserts or replaces, as the most recent entry; evicts the oldest when full. */
  set(key: K, value: V): void {
    if (this.entries.delete(key)) {
      this.entries.set(key, value);
      return;
    }
    if (this.entries.size >= this.capacity) this.evictOldest();
    this.entries.set(key, value);
  }

  /** Marks an existing entry as the most recent. */
  refresh(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  private evictOldest(): void {
    const oldest = this.entries.entries().next();
    if (oldest.done) return;
    this.entries.delete(oldest.value[0]);
    this.evictions++;
    this.onEvict?.(oldest.value[0], oldest.value[1]);
  }
}
