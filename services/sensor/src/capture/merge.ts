/**
 * Interleaves several captures (one per gateway interface, say) into one stream in time order.
 */
import type { CapturedPacket, PacketSource } from './source.js';

/**
 * Yields the packets of all sources in timestamp order; on equal timestamps the earlier source
 * in `sources` goes first. Each source is assumed to be in time order itself (captures are, up to
 * small clock steps); out-of-order packets within one source come out where they stand.
 *
 * Nothing is copied: each source has at most one packet pending here, and a source is asked for
 * its next packet only after its pending one has been returned, so the pending packets of the
 * other sources (and their buffers) stay untouched. The packet returned is the source's own
 * object, valid, as with any PacketSource, until the next call to next(). Each source must
 * appear once: two entries sharing one reader would overwrite each other's pending packet.
 *
 * A linear scan picks the earliest pending packet: the number of captures merged is small.
 */
export function mergeByTime(sources: PacketSource[]): PacketSource {
  return new MergedSource(sources);
}

class MergedSource implements PacketSource {
  readonly path: string;
  private readonly pending: (CapturedPacket | null)[];
  private started = false;
  /** The source whose packet was returned last: it is the one to advance before choosing again. */
  private returned = -1;

  constructor(private readonly sources: PacketSource[]) {
    if (new Set(sources).size !== sources.length) throw new TypeError('mergeByTime: the same source is listed twice');
    this.path = sources.map((source) => source.path).join(' + ');
    this.pending = sources.map(() => null);
  }

  get truncatedRecords(): number {
    let total = 0;
    for (const source of this.sources) total += source.truncatedRecords;
    return total;
  }

  next(): CapturedPacket | null {
    const pending = this.pending;
    if (!this.started) {
      this.started = true;
      for (let i = 0; i < this.sources.length; i++) pending[i] = this.sources[i]!.next();
    } else if (this.returned >= 0) {
      pending[this.returned] = this.sources[this.returned]!.next();
    }
    let earliest = -1;
    let earliestTs = Infinity;
    for (let i = 0; i < pending.length; i++) {
      const packet = pending[i];
      // Strictly earlier only, so that ties go to the source listed first.
      if (packet && (earliest < 0 || packet.ts < earliestTs)) {
        earliest = i;
        earliestTs = packet.ts;
      }
    }
    this.returned = earliest;
    return earliest < 0 ? null : pending[earliest]!;
  }

  close(): void {
    for (const source of this.sources) source.close();
  }
}
