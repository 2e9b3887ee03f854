/**
 * The bytes every protocol module's per-flow buffers may hold together, in one engine. Buffers
 * (a header block that spans segments, say) grow only as bytes arrive, and each growth asks the
 * budget first: a flood of flows that each send a byte that might start something can never
 * make the sensor hold more than this, whatever the number of flows. What the budget refuses is
 * counted, and the module goes on without the buffer (it may miss a match; it never grows).
 */
export class ModuleBufferBudget {
  /** Bytes reserved now. */
  held = 0;
  constructor(
    readonly limit: number,
    /** Where refusals are counted (the engine's counters). */
    private readonly counters: { moduleBuffersRefused: number },
  ) {
    if (!(Number.isInteger(limit) && limit >= 0)) throw new RangeError(`module buffer budget must be a whole number of bytes >= 0, got ${limit}`);
  }

  /** Reserves `bytes` when they fit; otherwise counts the refusal and reserves nothing. */
  tryReserve(bytes: number): boolean {
    if (this.held + bytes > this.limit) {
      this.counters.moduleBuffersRefused++;
      return false;
    }
    this.held += bytes;
    return true;
  }

  /** Gives back bytes reserved earlier. */
  release(bytes: number): void {
    this.held -= bytes;
  }
}
