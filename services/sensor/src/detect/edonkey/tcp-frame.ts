/**
 * eDonkey/eMule TCP framing (families.md §2.1):
 *
 *   marker(1: E3, C5, D4) | length(4, LE) = opcode + body | opcode(1) | body
 *
 * A segment is taken for eDonkey only when it starts with a frame whose opcode is one its marker
 * carries and whose frames end exactly where the segment does, or (a frame longer than the
 * segment) where the stream later says (see `FrameTracker` in edonkey.ts). For random bytes that
 * start with a marker, the 32-bit length meeting the segment's end is a 2^-32 chance.
 */
import { Marker, TCP_OPCODES } from './opcodes.js';

export const FRAME_HEADER = 5;
/** Marker, length and opcode: what must be seen to judge a frame. */
export const FRAME_HEAD = 6;
/**
 * Frames longer than this are not believed: eMule sends parts in 10 KiB blocks (a packed one may
 * be a little larger) and no answer it sends comes near 2 MiB.
 */
export const MAX_FRAME_LENGTH = 0x200000;

/** `walkFrames`: the bytes do not read as eDonkey frames. */
export const NOT_FRAMES = -1;

const OPCODES: (Uint8Array | undefined)[] = [];
for (const [marker, table] of Object.entries(TCP_OPCODES)) OPCODES[Number(marker)] = table;

/** Three compares: what every TCP segment that is not eDonkey costs. */
export function isTcpMarker(byte: number): boolean {
  return byte === Marker.edonkey || byte === Marker.emule || byte === Marker.packed;
}

export function u32le(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

export function u16le(buf: Uint8Array, at: number): number {
  return buf[at]! | (buf[at + 1]! << 8);
}

/** The frame's length field (opcode + body). */
export function frameLength(buf: Uint8Array, at: number): number {
  return u32le(buf, at + 1);
}

/** Whether a frame with a known opcode and a believable length starts at `at` (6 bytes there). */
export function isFrameHead(buf: Uint8Array, at: number, end: number): boolean {
  if (end - at < FRAME_HEAD) return false;
  const opcodes = OPCODES[buf[at]!];
  if (opcodes === undefined) return false;
  const length = frameLength(buf, at);
  return length >= 1 && length <= MAX_FRAME_LENGTH && opcodes[buf[at + FRAME_HEADER]!] === 1;
}

/**
 * Walks the frames in buf[start, end): NOT_FRAMES when one is not a frame; 0 when they end at
 * `end` (a tail of fewer than 6 bytes after a whole frame, starting with a marker, counts as a
 * header cut by the segment);
 * otherwise the bytes the last frame still needs from the stream.
 */
export function walkFrames(buf: Uint8Array, start: number, end: number): number {
  let at = start;
  while (at < end) {
    if (end - at < FRAME_HEAD) return at > start && isTcpMarker(buf[at]!) ? 0 : NOT_FRAMES;
    if (!isFrameHead(buf, at, end)) return NOT_FRAMES;
    const next = at + FRAME_HEADER + frameLength(buf, at);
    if (next > end) return next - end;
    at = next;
  }
  return 0;
}
