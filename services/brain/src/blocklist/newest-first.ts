/**
 * Decisions in the API's listing order — newest first (createdMs descending), then by id — kept
 * sorted as they come and go, so a page is a binary search and a short walk, never a sort of the
 * whole blocklist. The items sit in sorted blocks of at most MAX_BLOCK: an insert or delete moves
 * at most one block's items, not the whole list's.
 */

export interface ListingKey {
  id: string;
  createdMs: number;
}

const MAX_BLOCK = 1024;

/** Whether `a` comes before `b` in the listing: newer first, then by id. */
export function listedBefore(a: ListingKey, b: ListingKey): boolean {
  return a.createdMs > b.createdMs || (a.createdMs === b.createdMs && a.id < b.id);
}

export class NewestFirst<T extends ListingKey> {
  private blocks: T[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The first block whose last item is not before `key` (the block `key` belongs in); blocks.length when none. */
  private blockFor(key: ListingKey): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const block = this.blocks[mid]!;
      if (listedBefore(block[block.length - 1]!, key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first index of `block` whose item is not before `key`. */
  private static indexIn<T extends ListingKey>(block: readonly T[], key: ListingKey): number {
    let lo = 0;
    let hi = block.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (listedBefore(block[mid]!, key)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds an item (the caller keeps ids unique: delete the old one first). */
  add(item: T): void {
    this.count += 1;
    if (this.blocks.length === 0) {
      this.blocks.push([item]);
      return;
    }
    const b = Math.min(this.blockFor(item), this.blocks.length - 1);
    const block = this.blocks[b]!;
    block.splice(NewestFirst.indexIn(block, item), 0, item);
    if (block.length > MAX_BLOCK) this.blocks.splice(b + 1, 0, block.splice(MAX_BLOCK >> 1));
  }

  /** Removes the item with this id and createdMs; false when it is not there. */
  delete(key: ListingKey): boolean {
    const b = this.blockFor(key);
    const block = this.blocks[b];
    if (!block) return false;
    const i = NewestFirst.indexIn(block, key);
    const found = block[i];
    if (!found || found.id !== key.id || found.createdMs !== key.createdMs) return false;
    block.splice(i, 1);
    if (block.length === 0) this.blocks.splice(b, 1);
    this.count -= 1;
    return true;
  }

  /**
   * Walks the items listed after `after` (from the start when undefined), at most `maxVisits` of
   * them, and returns those `accept` takes, at most `limit`. `last`: the last item visited (the
   * next walk starts after it); `done`: nothing is left to visit.
   */
  walk(after: ListingKey | undefined, accept: (item: T) => boolean, limit: number, maxVisits: number): { items: T[]; last: ListingKey | undefined; done: boolean } {
    const items: T[] = [];
    let b = after === undefined ? 0 : this.blockFor(after);
    let i = after === undefined || !this.blocks[b] ? 0 : NewestFirst.indexIn(this.blocks[b]!, after);
    // skip `after` itself
    if (after !== undefined) {
      const at = this.blocks[b]?.[i];
      if (at && at.id === after.id && at.createdMs === after.createdMs) i += 1;
    }
    let last: ListingKey | undefined = after;
    let visits = 0;
    for (; b < this.blocks.length; b += 1, i = 0) {
      const block = this.blocks[b]!;
      for (; i < block.length; i += 1) {
        if (items.length >= limit || visits >= maxVisits) return { items, last, done: false };
        const item = block[i]!;
        visits += 1;
        last = item;
        if (accept(item)) items.push(item);
      }
    }
    return { items, last, done: true };
  }
}
