/**
 * One direction of a Direct Connect TCP stream, read as commands: NMDC's end in `|`, ADC's in
 * `\n`. A command cut by the segment's end is kept (at most MAX_COMMAND bytes, paid from the
 * module buffer budget) and read whole once the next segment arrives; a longer one (a hub's
 * `$NickList`) is skipped to its end. Once binary data follows (`$ADCSND`, `CSND`) or a command
 * does not read as Direct Connect, the direction is done and nothing more is read or kept.
 *
 * Segments are taken in the order they arrive: a reordered one makes the next command fail its
 * checks, and the direction is then done (a rare miss, never a false match).
 */
import type { ModuleBufferBudget } from '../buffer-budget.js';

export const Dialect = {
  /** Nothing read yet. */
  unknown: 0,
  nmdc: 1,
  adc: 2,
  /** Not Direct Connect, or nothing more to read. */
  done: 3,
} as const;
export type Dialect = (typeof Dialect)[keyof typeof Dialect];

/** The longest command kept across segments (an ADC INF is 200–500 bytes, an NMDC `$Lock` about 100). */
export const MAX_COMMAND = 1024;
/**
 * What a kept tail costs beyond its bytes (the typed array, its buffer and their headers),
 * charged with them: a generous estimate, not measured (StreamHead's measured 448 covers more
 * objects).
 */
const TAIL_OVERHEAD_BYTES = 256;

export const PIPE = 0x7c;
export const LF = 0x0a;

export class DirectionStream {
  dialect: Dialect = Dialect.unknown;
  /** Commands read whole so far in this direction. */
  commands = 0;
  /** The first command was an opener that needs a later one to say more (`$Supports`, `$MyNick`). */
  opener = 0;
  /** A command longer than MAX_COMMAND is being skipped: drop bytes up to its end. */
  skipping = false;
  tail: Uint8Array | null = null;
  tailLength = 0;

  terminator(): number {
    return this.dialect === Dialect.adc ? LF : PIPE;
  }

  /** Keeps buf[start, end) for the next segment; false when the budget refused (the direction is then done). */
  keep(buf: Uint8Array, start: number, end: number, budget: ModuleBufferBudget): boolean {
    if (this.tail === null) {
      if (!budget.tryReserve(MAX_COMMAND + TAIL_OVERHEAD_BYTES)) return false;
      this.tail = new Uint8Array(MAX_COMMAND);
    }
    // buf may be the module's scratch, which already holds the old tail: copy within bounds.
    this.tail.set(buf.subarray(start, end), 0);
    this.tailLength = end - start;
    return true;
  }

  /** Drops the tail and gives its bytes back. */
  release(budget: ModuleBufferBudget): void {
    if (this.tail !== null) budget.release(MAX_COMMAND + TAIL_OVERHEAD_BYTES);
    this.tail = null;
    this.tailLength = 0;
  }

  finish(budget: ModuleBufferBudget): void {
    this.dialect = Dialect.done;
    this.skipping = false;
    this.release(budget);
  }

  get heldBytes(): number {
    return this.tail === null ? 0 : MAX_COMMAND + TAIL_OVERHEAD_BYTES;
  }
}

/** Where `byte` first occurs in buf[start, end), or -1 (a bounded loop: buf may be a capture buffer). */
export function indexOfByte(buf: Uint8Array, start: number, end: number, byte: number): number {
  for (let i = start; i < end; i++) if (buf[i] === byte) return i;
  return -1;
}
