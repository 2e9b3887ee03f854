/**
 * A fixed set of 32-bit integers (the patterns' name hashes), asked once per suffix of every
 * question: open addressing in typed arrays, so asking neither allocates nor boxes a number.
 * Filled once; at most a quarter full, so a miss ends after a probe or two.
 */
export class Int32Set {
  private readonly values: Int32Array;
  /** 1 where values[i] holds a member (any integer, 0 included, can be one). */
  private readonly used: Uint8Array;
  /** 32 − log2(capacity): the top bits of a multiplied value pick the slot. */
  private readonly shift: number;
  private readonly mask: number;
  readonly size: number;

  constructor(members: Iterable<number>) {
    const distinct = [...new Set(Array.from(members, (member) => member | 0))];
    let bits = 3;
    while (1 << bits < distinct.length * 4) bits++;
    this.values = new Int32Array(1 << bits);
    this.used = new Uint8Array(1 << bits);
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
    this.size = distinct.length;
    for (const member of distinct) {
      let slot = this.slotOf(member);
      while (this.used[slot] === 1) slot = (slot + 1) & this.mask;
      this.values[slot] = member;
      this.used[slot] = 1;
    }
  }

  has(value: number): boolean {
    for (let slot = this.slotOf(value); this.used[slot] === 1; slot = (slot + 1) & this.mask) {
      if (this.values[slot] === value) return true;
    }
    return false;
  }

  /** Fibonacci hashing: the member's bits spread over the slot's. */
  private slotOf(value: number): number {
    return Math.imul(value, 0x9e3779b1) >>> this.shift;
  }
}
