/**
 * The HTTP-style header block at the start of one direction of a TCP stream: reassembly in
 * sequence order, and a walker over its complete lines. Detectors that look at clear-text
 * request/response heads (FastTrack transfers, BitTorrent trackers, …) share it.
 *
 * Everything works on bytes: nothing here turns a payload into a string, and walking lines
 * allocates nothing, so a detector pays for text only when a line actually matches.
 */
import type { Transport } from '@p2pwall/common';
import { TCP_SYN } from '../decode/packet.js';
import type { ModuleBufferBudget } from './buffer-budget.js';
import type { NamedPeer, PacketReader } from './module.js';

/** At most this many bytes of a stream's start are kept; a header block longer than that is cut. */
export const HEADER_BLOCK_CAPACITY = 4096;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

const EMPTY = new Uint8Array(0);

/** The bytes of an ASCII literal, for byte-level comparisons. */
export function ascii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0x7f;
  return bytes;
}

function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

/** Whether buf[offset, end) begins with `literal`, byte for byte. */
export function startsWith(buf: Uint8Array, offset: number, end: number, literal: Uint8Array): boolean {
  if (end - offset < literal.length) return false;
  for (let i = 0; i < literal.length; i++) {
    if (buf[offset + i] !== literal[i]) return false;
  }
  return true;
}

/** Like startsWith, ignoring ASCII case; `lowerLiteral` must be lower case. */
export function startsWithCaseless(buf: Uint8Array, offset: number, end: number, lowerLiteral: Uint8Array): boolean {
  if (end - offset < lowerLiteral.length) return false;
  for (let i = 0; i < lowerLiteral.length; i++) {
    if (lowerAscii(buf[offset + i]!) !== lowerLiteral[i]) return false;
  }
  return true;
}

/**
 * Whether the bytes available so far agree with `literal` (they may be fewer than it): used to
 * decide, from a stream's first bytes, whether it can still turn out to start with `literal`.
 */
export function couldStartWith(buf: Uint8Array, offset: number, end: number, literal: Uint8Array): boolean {
  const count = Math.min(end - offset, literal.length);
  for (let i = 0; i < count; i++) {
    if (buf[offset + i] !== literal[i]) return false;
  }
  return true;
}

/**
 * When the line buf[lineStart, lineEnd) is the header `name: value` (name compared without
 * case, no space before the colon), the offset where its value starts, after optional
 * whitespace; otherwise -1. `lowerName` is the name in lower case, without the colon.
 */
export function headerValueStart(buf: Uint8Array, lineStart: number, lineEnd: number, lowerName: Uint8Array): number {
  const colon = lineStart + lowerName.length;
  if (colon >= lineEnd || buf[colon] !== COLON) return -1;
  if (!startsWithCaseless(buf, lineStart, colon, lowerName)) return -1;
  let value = colon + 1;
  while (value < lineEnd && (buf[value] === SPACE || buf[value] === TAB)) value++;
  return value;
}

/** The end of buf[start, end) without trailing spaces and tabs. */
export function trimEnd(buf: Uint8Array, start: number, end: number): number {
  while (end > start && (buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--;
  return end;
}

export function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

export function isHexDigit(byte: number | undefined): boolean {
  return byte !== undefined && (isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46));
}

/**
 * Reads 1 to `maxDigits` decimal digits at buf[start, end) into `parsed`; returns the offset
 * after them, or -1 when there is no digit or more than `maxDigits` in a row.
 */
function readDecimal(buf: Uint8Array, start: number, end: number, maxDigits: number, parsed: { value: number }): number {
  let i = start;
  let value = 0;
  while (i < end && isDigit(buf[i])) {
    if (i - start === maxDigits) return -1;
    value = value * 10 + buf[i]! - 0x30;
    i++;
  }
  if (i === start) return -1;
  parsed.value = value;
  return i;
}

const decimal = { value: 0 };

/** `a.b.c.d:port` (octets 0–255, port 1–65535, blanks around allowed) → a named peer for `transport`; otherwise null. */
export function parseIpv4Endpoint(buf: Uint8Array, start: number, end: number, via: string, transport: Transport = 'both'): NamedPeer | null {
  end = trimEnd(buf, start, end);
  let i = start;
  const octets: number[] = [];
  for (let octet = 0; octet < 4; octet++) {
    i = readDecimal(buf, i, end, 3, decimal);
    if (i < 0 || decimal.value > 255 || i >= end) return null;
    if (buf[i] !== (octet < 3 ? 0x2e /* . */ : 0x3a) /* : */) return null;
    octets.push(decimal.value);
    i++;
  }
  i = readDecimal(buf, i, end, 5, decimal);
  if (i !== end || decimal.value < 1 || decimal.value > 65535) return null;
  return { ip: octets.join('.'), port: decimal.value, transport, via };
}

/**
 * Printable text for operators (event details): at most `max` characters, anything outside
 * printable ASCII shown as `?`. Only call it for a line that matched.
 */
export function printable(buf: Uint8Array, start: number, end: number, max = 64): string {
  const stop = Math.min(end, start + max);
  let text = '';
  for (let i = start; i < stop; i++) {
    const byte = buf[i]!;
    text += byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : '?';
  }
  return stop < end ? `${text}…` : text;
}

/**
 * Walks the complete lines of a header block held in buf[from, to). A line ends at LF; a CR
 * before it is not part of the line. The first blank line after the start line ends the block:
 * the walker stops there and never looks at what follows (the body). A line that is still
 * incomplete at `to` is not handed out; `resumeAt` says where to start again once more bytes
 * have arrived.
 *
 * One walker can be reused for every packet (reset it each time): it holds no bytes of its own.
 */
export class HeaderLines {
  buf: Uint8Array = EMPTY;
  /** The current line: buf[lineStart, lineEnd), without its line ending. */
  lineStart = 0;
  lineEnd = 0;
  /** Whether the current line ended in CR LF (rather than a bare LF). */
  crlf = false;
  /** Index of the current line in the stream (0: the start line). */
  index = -1;
  /** The blank line that ends the header block was reached. */
  blockEnded = false;
  private cursor = 0;
  private end = 0;

  /**
   * Positions the walker before the line that starts at `from`, which is line `firstIndex` of
   * the stream.
   */
  reset(buf: Uint8Array, from: number, to: number, firstIndex: number): void {
    this.buf = buf;
    this.cursor = from;
    this.end = to;
    this.index = firstIndex - 1;
    this.lineStart = from;
    this.lineEnd = from;
    this.crlf = false;
    this.blockEnded = false;
  }

  /** Where the first line not handed out yet starts. */
  get resumeAt(): number {
    return this.cursor;
  }

  /** Where the bytes the walker may read end. */
  get limit(): number {
    return this.end;
  }

  /** Index of the first line not handed out yet. */
  get nextIndex(): number {
    return this.index + 1;
  }

  /** Advances to the next complete line; false when there is none yet, or the block ended. */
  next(): boolean {
    if (this.blockEnded) return false;
    const buf = this.buf;
    const end = this.end;
    let lf = this.cursor;
    // A bounded loop rather than indexOf: buf may be a large capture buffer holding more than this packet.
    while (lf < end && buf[lf] !== LF) lf++;
    if (lf >= end) return false;
    const start = this.cursor;
    const crlf = lf > start && buf[lf - 1] === CR;
    this.cursor = lf + 1;
    this.index++;
    this.lineStart = start;
    this.lineEnd = crlf ? lf - 1 : lf;
    this.crlf = crlf;
    if (this.lineEnd === start && this.index > 0) {
      this.blockEnded = true;
      return false;
    }
    return true;
  }
}

/** The sequence number of a segment's first payload byte (a SYN takes one number before it). */
function payloadSeq(packet: PacketReader): number {
  return (packet.tcpFlags & TCP_SYN) !== 0 ? (packet.tcpSeq + 1) >>> 0 : packet.tcpSeq;
}

/**
 * Walks the header lines in a stream's first segment where they lie, in the packet buffer:
 * most header blocks fit in one segment, and then nothing needs to be copied or kept.
 */
export function walkFirstSegment(lines: HeaderLines, packet: PacketReader): void {
  const start = packet.payloadOffset;
  lines.reset(packet.buf, start, start + Math.min(packet.payloadLength, HEADER_BLOCK_CAPACITY), 0);
}

/** A head's first buffer, for a segment shorter than this; it doubles as bytes arrive. */
export const HEAD_START_CAPACITY = 64;

/**
 * What a kept head costs beyond its bytes (its objects and the buffer's own header, measured
 * with test/engine/head-memory.test.ts), charged to the budget with them so that the budget
 * bounds the heap, not only the bytes.
 */
export const HEAD_OVERHEAD_BYTES = 448;

/**
 * The first bytes of one direction of a TCP stream, kept in sequence order until the header
 * block's blank line has been walked or HEADER_BLOCK_CAPACITY bytes are held. Only the segment
 * that carries the next expected sequence number is taken: retransmissions and segments that
 * arrive ahead of a gap are ignored (an engine that sees only a flow's first packets would
 * rather lose a rare match than buffer out-of-order data).
 *
 * Its buffer starts just large enough for the first segment (at least HEAD_START_CAPACITY) and
 * doubles as bytes arrive, each growth paid from the module buffer budget first: a stream that
 * sent one byte holds a few dozen. When the budget refuses a growth, the head is finished with
 * what it has.
 *
 * Create one (StreamHead.start) only when a header block spans segments: after walking the
 * first segment in place (walkFirstSegment), pass the walker so the head knows how far it got.
 * Whoever drops a head gives its heldBytes back to the budget.
 */
export class StreamHead {
  bytes: Uint8Array;
  length = 0;
  /** Where the first line not walked yet starts, and its index in the stream. */
  private scanned: number;
  private nextLineIndex: number;
  private nextSeq: number;
  /** Nothing more will be collected: the block ended, the capacity is reached, or the budget refused. */
  finished = false;

  /** A head holding the first segment, or null when the budget cannot pay for it (counted there). */
  static start(firstSegment: PacketReader, walked: HeaderLines, budget: ModuleBufferBudget): StreamHead | null {
    const capacity = capacityFor(Math.min(firstSegment.payloadLength, HEADER_BLOCK_CAPACITY), HEAD_START_CAPACITY);
    if (!budget.tryReserve(capacity + HEAD_OVERHEAD_BYTES)) return null;
    return new StreamHead(firstSegment, walked, budget, capacity);
  }

  private constructor(
    firstSegment: PacketReader,
    walked: HeaderLines,
    private readonly budget: ModuleBufferBudget,
    capacity: number,
  ) {
    this.bytes = new Uint8Array(capacity);
    this.copy(firstSegment);
    this.nextSeq = (payloadSeq(firstSegment) + firstSegment.payloadLength) >>> 0;
    this.scanned = walked.resumeAt - firstSegment.payloadOffset;
    this.nextLineIndex = walked.nextIndex;
    this.finished = walked.blockEnded || this.length >= HEADER_BLOCK_CAPACITY;
  }

  /** Bytes of the budget this head holds. */
  get heldBytes(): number {
    return this.bytes.length + HEAD_OVERHEAD_BYTES;
  }

  /** Index of the first line not walked yet (0 while the start line is incomplete). */
  get pendingLineIndex(): number {
    return this.nextLineIndex;
  }

  /** Appends the segment when it is the next one in sequence; returns whether bytes were added. */
  append(segment: PacketReader): boolean {
    if (this.finished || payloadSeq(segment) !== this.nextSeq) return false;
    this.nextSeq = (this.nextSeq + segment.payloadLength) >>> 0;
    return this.copy(segment) > 0;
  }

  /** Positions `lines` on the part not walked yet. */
  walk(lines: HeaderLines): void {
    lines.reset(this.bytes, this.scanned, this.length, this.nextLineIndex);
  }

  /** Records how far `lines` got after walk(); the head is finished at the block end or the capacity. */
  walked(lines: HeaderLines): void {
    this.scanned = lines.resumeAt;
    this.nextLineIndex = lines.nextIndex;
    if (lines.blockEnded || this.length >= HEADER_BLOCK_CAPACITY) this.finished = true;
  }

  private copy(segment: PacketReader): number {
    const count = Math.min(segment.payloadLength, HEADER_BLOCK_CAPACITY - this.length);
    if (count <= 0) return 0;
    if (this.length + count > this.bytes.length && !this.grow(this.length + count)) {
      this.finished = true;
      return 0;
    }
    const start = segment.payloadOffset;
    this.bytes.set(segment.buf.subarray(start, start + count), this.length);
    this.length += count;
    return count;
  }

  /** Doubles the buffer until `needed` bytes fit, if the budget pays for it. */
  private grow(needed: number): boolean {
    const capacity = capacityFor(needed, this.bytes.length * 2);
    if (!this.budget.tryReserve(capacity - this.bytes.length)) return false;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    return true;
  }
}

/** The smallest power-of-two multiple of `from` that holds `needed` bytes, at most HEADER_BLOCK_CAPACITY. */
function capacityFor(needed: number, from: number): number {
  let capacity = from;
  while (capacity < needed) capacity *= 2;
  return Math.min(capacity, HEADER_BLOCK_CAPACITY);
}
