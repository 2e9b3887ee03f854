/**
 * The shape every offline packet source has (pcap, pcapng, a merge of several), and the one
 * error they throw for problems an operator can act on.
 */

export interface CapturedPacket {
  /** ms since epoch, fractional (µs or ns precision folded into the fraction) */
  ts: number;
  /** the frame bytes as captured: a view that may be overwritten by the next call to next() */
  data: Uint8Array;
  wireLength: number;
  linkType: number; // LINKTYPE_* value
  interfaceIndex: number; // 0 for classic pcap
}

/**
 * A stream of captured packets. To keep per-packet work free of allocation, next() returns the
 * same CapturedPacket object each time, and its `data` views the source's read buffer: both are
 * valid only until the next call to next() (copy `data` to keep it longer).
 */
export interface PacketSource {
  readonly path: string;
  /** Records cut short by the end of the file (a capture copied while still being written). */
  readonly truncatedRecords: number;
  next(): CapturedPacket | null; // null at end of file
  close(): void;
}

export interface CaptureErrorDetails {
  path?: string;
  /** Byte offset in the file of the damaged header or block, for corruption. */
  offset?: number;
  cause?: unknown;
}

/** A capture that cannot be read: its message names the file and, for damage, where it is. */
export class CaptureError extends Error {
  override readonly name = 'CaptureError';
  readonly path: string | undefined;
  readonly offset: number | undefined;

  constructor(message: string, details: CaptureErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.path = details.path;
    this.offset = details.offset;
  }
}

/** The error for a header or block whose contents cannot be right. */
export function damagedCapture(path: string, offset: number, problem: string): CaptureError {
  return new CaptureError(`capture file ${path} is damaged at byte offset ${offset}: ${problem}`, { path, offset });
}

/**
 * The most bytes one packet record may hold. Wireshark and libpcap use the same bound (their
 * largest snapshot length); a bigger length in a record header means the file is damaged.
 */
export const MAX_CAPTURED_LENGTH = 262_144;

/** The latest (and, negated, earliest) time a Date can hold, in ms: 8.64e15, about year 275760. */
export const MAX_TIMESTAMP_MS = 8.64e15;
