/**
 * A Map bounded in size that evicts its least recently refreshed entry. It relies on a Map's
 * insertion order: refreshing an entry re-inserts it at the end, so the oldest is always first.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  /** Where the last sweep stopped; Map iterators stay valid while entries come and go. */
  private sweepCursor: IterableIterator<[K, V]> | null = null;
  /** Whether the last sweep reached the end of the table (the next one starts from the oldest). */
  sweepWrapped = false;
  evictions = 0;

  constructor(
    readonly capacity: number,
    /** Told about each entry evicted to make room. */
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(capacity >= 1)) throw new RangeError('a bounded table needs room for at least one entry');
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Inserts or replaces, as the most recent entry; evicts the oldest when full. */
  set(key: K, value: V): void {
    if (this.map.delete(key)) {
      this.map.set(key, value);
      return;
    }
    if (this.map.size >= this.capacity) this.evictOldest();
    this.map.set(key, value);
  }

  /** Inserts a key the caller knows is not in the map (spares set's delete), evicting the oldest when full. */
  add(key: K, value: V): void {
    if (this.map.size >= this.capacity) this.evictOldest();
    this.map.set(key, value);
  }

  /** Marks an existing entry as the most recent. */
  refresh(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
  }

  /** Gives a key already held a new value, keeping its place in the order. */
  replace(key: K, value: V): void {
    this.map.set(key, value);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /**
   * Visits at most `budget` entries, carrying on where the previous sweep stopped, and deletes
   * those `isDead` says are dead. Lets a periodic sweep bound its work per call on a large table.
   */
  sweep(budget: number, isDead: (value: V, key: K) => boolean): V[] {
    const removed: V[] = [];
    this.sweepWrapped = false;
    for (let visited = 0; visited < budget; visited++) {
      this.sweepCursor ??= this.map.entries();
      const next = this.sweepCursor.next();
      if (next.done) {
        // The next sweep starts again from the oldest entry.
        this.sweepCursor = null;
        this.sweepWrapped = true;
        break;
      }
      const [key, value] = next.value;
      if (isDead(value, key)) {
        this.map.delete(key);
        removed.push(value);
      }
    }
    return removed;
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  private evictOldest(): void {
    const oldest = this.map.entries().next();
    if (oldest.done) return;
    this.map.delete(oldest.value[0]);
    this.evictions++;
    this.onEvict?.(oldest.value[0], oldest.value[1]);
  }
}
