/**
 * A capture held in memory, as a reader that slurped a file would hold it: the frames' bytes
 * packed back to back, in time order, into a few large buffers, each frame a Uint8Array view into
 * one of them, and the timestamps in one Float64Array.
 */

/** Large enough that a capture needs only a handful of buffers, small enough to allocate easily. */
const CHUNK_BYTES = 64 * 1024 * 1024;

export interface InMemoryCapture {
  /** Ethernet frames, each a view into one of `chunks`. */
  readonly frames: readonly Uint8Array[];
  /** ms since the epoch, non-decreasing. */
  readonly ts: Float64Array;
  readonly chunks: readonly Uint8Array[];
  /** Sum of the frames' lengths. */
  readonly bytes: number;
}

/** Bytes appended into big buffers, so that the small per-packet buffers can die young. */
class Staging {
  readonly chunks: Uint8Array[] = [];
  private chunk = new Uint8Array(0);
  private cursor = 0;

  /** Copies `frame` in; returns where it went as chunk index × 2^32 + offset. */
  append(frame: Uint8Array): number {
    if (this.cursor + frame.length > this.chunk.length) {
      this.chunk = new Uint8Array(Math.max(CHUNK_BYTES, frame.length));
      this.chunks.push(this.chunk);
      this.cursor = 0;
    }
    this.chunk.set(frame, this.cursor);
    const at = (this.chunks.length - 1) * 2 ** 32 + this.cursor;
    this.cursor += frame.length;
    return at;
  }
}

/** Collects frames in any order; `build` sorts them by time (stably) and packs them in that order. */
export class CaptureBuilder {
  private readonly times: number[] = [];
  private readonly places: number[] = [];
  private readonly lengths: number[] = [];
  private staging = new Staging();
  private bytes = 0;

  get size(): number {
    return this.times.length;
  }

  add(ts: number, frame: Uint8Array): void {
    this.times.push(ts);
    this.places.push(this.staging.append(frame));
    this.lengths.push(frame.length);
    this.bytes += frame.length;
  }

  build(): InMemoryCapture {
    const count = this.times.length;
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    const times = this.times;
    order.sort((a, b) => times[a]! - times[b]! || a - b);

    const staged = this.staging.chunks;
    const chunks: Uint8Array[] = [];
    const frames: Uint8Array[] = new Array<Uint8Array>(count);
    const ts = new Float64Array(count);
    let remaining = this.bytes;
    let chunk = new Uint8Array(0);
    let cursor = 0;
    for (let i = 0; i < count; i++) {
      const index = order[i]!;
      const length = this.lengths[index]!;
      const place = this.places[index]!;
      const from = place % 2 ** 32;
      if (cursor + length > chunk.length) {
        chunk = new Uint8Array(Math.max(Math.min(CHUNK_BYTES, remaining), length));
        chunks.push(chunk);
        cursor = 0;
      }
      chunk.set(staged[Math.floor(place / 2 ** 32)]!.subarray(from, from + length), cursor);
      frames[i] = chunk.subarray(cursor, cursor + length);
      ts[i] = times[index]!;
      cursor += length;
      remaining -= length;
    }
    const capture = { frames, ts, chunks, bytes: this.bytes };
    this.times.length = 0;
    this.places.length = 0;
    this.lengths.length = 0;
    this.staging = new Staging();
    this.bytes = 0;
    return capture;
  }
}
