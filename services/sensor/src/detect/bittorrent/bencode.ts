/**
 * A bounded bencode scanner (BEP 3) over bytes that arrive from anyone: it reads in place,
 * allocates nothing, never throws, and gives up on anything that is not canonical enough to be a
 * real client's (a length with a leading zero, an integer of more than 19 digits, nesting deeper
 * than MAX_DEPTH). Every loop moves forward by at least one byte, so a scan costs at most the
 * bytes it was given.
 *
 * Results: an offset >= 0 (where the next value starts), INVALID, or TRUNCATED (the bytes end
 * inside the value: a reply split over TCP segments that may still be completed).
 */

export const INVALID = -1;
export const TRUNCATED = -2;

/** Lists and dictionaries nested deeper than this are refused: no real message comes close. */
export const MAX_DEPTH = 16;

const D = 0x64; // d
const L = 0x6c; // l
const I = 0x69; // i
const E = 0x65; // e
const COLON = 0x3a;
const MINUS = 0x2d;
const ZERO = 0x30;

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** Where a string value lies, filled by readString. One per caller; holds no bytes. */
export class Span {
  start = 0;
  end = 0;

  get length(): number {
    return this.end - this.start;
  }
}

/**
 * Reads the byte string `<len>:<bytes>` at buf[pos]: fills `span` and returns the offset after it.
 * Lengths above `maxLength` are INVALID (no field we read is longer than a packet).
 */
export function readString(buf: Uint8Array, pos: number, end: number, span: Span, maxLength = 1 << 20): number {
  if (pos >= end) return TRUNCATED;
  let i = pos;
  let length = 0;
  if (!isDigit(buf[i]!)) return INVALID;
  if (buf[i] === ZERO && i + 1 < end && buf[i + 1] !== COLON) return INVALID;
  while (i < end && isDigit(buf[i]!)) {
    length = length * 10 + buf[i]! - ZERO;
    if (length > maxLength) return INVALID;
    i++;
  }
  if (i >= end) return TRUNCATED;
  if (buf[i] !== COLON) return INVALID;
  const start = i + 1;
  if (start + length > end) return TRUNCATED;
  span.start = start;
  span.end = start + length;
  return start + length;
}

/** The last integer readInteger read. */
export const integer = { value: 0 };

/** Reads `i<digits>e` at buf[pos] into `integer.value`; returns the offset after it. */
export function readInteger(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return TRUNCATED;
  if (buf[pos] !== I) return INVALID;
  let i = pos + 1;
  let negative = false;
  if (i < end && buf[i] === MINUS) {
    negative = true;
    i++;
  }
  const digits = i;
  let value = 0;
  while (i < end && isDigit(buf[i]!)) {
    if (i - digits >= 19) return INVALID;
    value = value * 10 + buf[i]! - ZERO;
    i++;
  }
  if (i >= end) return TRUNCATED;
  if (i === digits || buf[i] !== E) return INVALID;
  integer.value = negative ? -value : value;
  return i + 1;
}

const skipSpan = new Span();

/** Skips one whole value (string, integer, list or dict) at buf[pos]; returns the offset after it. */
export function skipValue(buf: Uint8Array, pos: number, end: number): number {
  let depth = 0;
  let i = pos;
  do {
    if (i >= end) return TRUNCATED;
    const byte = buf[i]!;
    if (byte === D || byte === L) {
      if (++depth > MAX_DEPTH) return INVALID;
      i++;
      continue;
    }
    if (byte === E) {
      // An `e` closes a list or dict only inside one; at depth 0 it is no value at all.
      if (depth === 0) return INVALID;
      depth--;
      i++;
      continue;
    }
    i = byte === I ? readInteger(buf, i, end) : readString(buf, i, end, skipSpan);
    if (i < 0) return i;
  } while (depth > 0);
  return i;
}

/**
 * Walks one dictionary's entries in place: `open` at its `d`, then `next()` until it returns
 * false; after each, `key` spans the key and `valueAt` is where its value starts. The value is
 * skipped on the next call unless the caller moved `resumeAt` past it. `status` says why the walk
 * ended: 0 at the closing `e` (then `resumeAt` is after it), INVALID or TRUNCATED.
 */
export class DictWalk {
  readonly key = new Span();
  buf: Uint8Array = new Uint8Array(0);
  end = 0;
  valueAt = 0;
  /** Where the next key starts (after a value the caller read itself). */
  resumeAt = 0;
  status = 0;
  private pendingValue = false;

  open(buf: Uint8Array, pos: number, end: number): boolean {
    this.buf = buf;
    this.end = end;
    this.pendingValue = false;
    if (pos >= end) {
      this.status = TRUNCATED;
      return false;
    }
    if (buf[pos] !== D) {
      this.status = INVALID;
      return false;
    }
    this.resumeAt = pos + 1;
    this.status = 0;
    return true;
  }

  /** The caller read the value itself and it ends at `after`. */
  consumed(after: number): void {
    this.resumeAt = after;
    this.pendingValue = false;
  }

  next(): boolean {
    const buf = this.buf;
    const end = this.end;
    let i = this.resumeAt;
    if (this.pendingValue) {
      i = skipValue(buf, this.valueAt, end);
      this.pendingValue = false;
      if (i < 0) return this.stop(i);
    }
    if (i >= end) return this.stop(TRUNCATED);
    if (buf[i] === E) {
      this.resumeAt = i + 1;
      return this.stop(0);
    }
    i = readString(buf, i, end, this.key, 256);
    if (i < 0) return this.stop(i);
    if (i >= end) return this.stop(TRUNCATED);
    this.valueAt = i;
    this.resumeAt = i;
    this.pendingValue = true;
    return true;
  }

  /** Whether the current key is `literal` (ASCII bytes). */
  keyIs(literal: Uint8Array): boolean {
    const key = this.key;
    if (key.end - key.start !== literal.length) return false;
    const buf = this.buf;
    for (let i = 0; i < literal.length; i++) if (buf[key.start + i] !== literal[i]) return false;
    return true;
  }

  private stop(status: number): boolean {
    this.status = status;
    return false;
  }
}
