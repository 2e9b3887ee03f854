/**
 * uTP (BEP 29): a 20-byte header that stays in clear even when the stream inside is MSE.
 *
 * One header alone proves little: a 20-byte DNS query whose id begins 0x41 passes for a bare SYN
 * (families.md §1.11), and QUIC, STUN and game packets can match a loose test. So the header test
 * is strict (version 1, type 0-4, a well-formed extension chain of at most 4 known extensions,
 * a non-zero timestamp, SYN and STATE without payload, DATA with payload, a SYN's timestamp
 * difference 0), and a flow counts only on a conversation:
 * - the inside host's SYN (connection id X, seq S) answered by a STATE from the contacted
 *   endpoint (id X, ack S), after which the inside host goes on with id X+1: the initiator's
 *   continuation is its own packet, so the engine's trust rules accept it;
 * - an outside SYN (id X, seq S) that the inside host answers with a STATE (id X, ack S);
 * - mid-stream (a flow that began before the sensor saw it): packets of both ends whose
 *   connection ids are one apart, the inside host's coming second.
 */
import type { PacketReader } from '../module.js';

export const UtpType = { data: 0, fin: 1, state: 2, reset: 3, syn: 4 } as const;

export const UTP_HEADER = 20;
/** Extension types in use: 1 selective ACK, 2 close reason (libtorrent), 3/4 seen in the wild (libutp extension bits). */
const MAX_EXTENSION_TYPE = 4;
const MAX_EXTENSIONS = 4;

/** What utpHeader read from the last header it accepted. Scratch, reused for every packet. */
export const utp = { type: 0, connectionId: 0, seq: 0, ack: 0, payloadAt: 0 };

/**
 * Whether buf[p, p + length) is a uTP packet by the strict test above; fills `utp` when it is.
 * Costs two byte compares for most packets that are not.
 */
export function utpHeader(buf: Uint8Array, p: number, length: number): boolean {
  if (length < UTP_HEADER) return false;
  const first = buf[p]!;
  const type = first >> 4;
  if ((first & 0x0f) !== 1 || type > UtpType.syn) return false;
  let extension = buf[p + 1]!;
  if (extension > MAX_EXTENSION_TYPE) return false;
  // Timestamp: microseconds of the sender's clock, never 0 in any implementation.
  if ((buf[p + 4]! | buf[p + 5]! | buf[p + 6]! | buf[p + 7]!) === 0) return false;
  let at = p + UTP_HEADER;
  const end = p + length;
  for (let count = 0; extension !== 0; count++) {
    if (count === MAX_EXTENSIONS || at + 2 > end) return false;
    const next = buf[at]!;
    const extensionLength = buf[at + 1]!;
    // BEP 29 wants selective ACK masks in whole 32-bit words, but real STATE packets of 23
    // bytes (a 1-byte mask) are on record (libprotoident): any non-empty extension passes.
    if (extensionLength === 0 || next > MAX_EXTENSION_TYPE) return false;
    at += 2 + extensionLength;
    if (at > end) return false;
    extension = next;
  }
  const payload = end - at;
  if (type === UtpType.syn) {
    if (payload !== 0 || (buf[p + 8]! | buf[p + 9]! | buf[p + 10]! | buf[p + 11]!) !== 0) return false;
  } else if (type === UtpType.state) {
    if (payload !== 0) return false;
  } else if (type === UtpType.data) {
    if (payload === 0) return false;
  }
  utp.type = type;
  utp.connectionId = (buf[p + 2]! << 8) | buf[p + 3]!;
  utp.seq = (buf[p + 16]! << 8) | buf[p + 17]!;
  utp.ack = (buf[p + 18]! << 8) | buf[p + 19]!;
  utp.payloadAt = at;
  return true;
}

/** The cheapest first look: a uTP version-1 type byte. */
export function couldBeUtp(buf: Uint8Array, p: number, length: number): boolean {
  return length >= UTP_HEADER && (buf[p]! & 0x0f) === 1 && buf[p]! >> 4 <= UtpType.syn && buf[p + 1]! <= MAX_EXTENSION_TYPE;
}

/** Where one uTP conversation stands (per flow, in the module's state). */
export const UtpPhase = {
  none: 0,
  /** The inside host sent a SYN: waiting for the STATE. */
  insideSyn: 1,
  /** The contacted endpoint answered: waiting for the inside host's next packet. */
  answered: 2,
  /** An outside end sent a SYN: waiting for the inside host's STATE. */
  outsideSyn: 3,
  /** A non-SYN packet from outside was seen first (mid-stream): its id is kept. */
  outsideStream: 4,
  /** An inside non-SYN packet was seen first (mid-stream). */
  insideStream: 5,
} as const;
export type UtpPhase = (typeof UtpPhase)[keyof typeof UtpPhase];

export interface UtpTrack {
  utpPhase: UtpPhase;
  utpId: number;
  utpSeq: number;
}

/** What one packet did to a flow's uTP conversation. */
export const UtpStep = { nothing: 0, waiting: 1, opened: 2, stream: 3 } as const;
export type UtpStep = (typeof UtpStep)[keyof typeof UtpStep];

/**
 * Advances `track` with a packet whose header utpHeader accepted (`utp` holds it). Returns
 * `opened` when a SYN handshake completed on a packet of the inside host, `stream` when the
 * inside host's packet matched an outside one mid-stream, `waiting` while a conversation may
 * still complete, `nothing` when it cannot.
 */
export function stepUtp(track: UtpTrack, fromInside: boolean): UtpStep {
  const { type, connectionId: id, seq, ack } = utp;
  switch (track.utpPhase) {
    case UtpPhase.none:
      track.utpId = id;
      track.utpSeq = seq;
      if (type === UtpType.syn) track.utpPhase = fromInside ? UtpPhase.insideSyn : UtpPhase.outsideSyn;
      else track.utpPhase = fromInside ? UtpPhase.insideStream : UtpPhase.outsideStream;
      return UtpStep.waiting;
    case UtpPhase.insideSyn:
      if (fromInside) return type === UtpType.syn ? UtpStep.waiting : UtpStep.nothing; // a retransmitted SYN
      if (type !== UtpType.state || id !== track.utpId || ack !== track.utpSeq) return UtpStep.nothing;
      track.utpPhase = UtpPhase.answered;
      return UtpStep.waiting;
    case UtpPhase.answered:
      if (!fromInside) return UtpStep.waiting;
      return type !== UtpType.syn && id === ((track.utpId + 1) & 0xffff) ? UtpStep.opened : UtpStep.nothing;
    case UtpPhase.outsideSyn:
      if (!fromInside) return type === UtpType.syn ? UtpStep.waiting : UtpStep.nothing;
      return type === UtpType.state && id === track.utpId && ack === track.utpSeq ? UtpStep.opened : UtpStep.nothing;
    case UtpPhase.outsideStream:
      if (!fromInside) return type === UtpType.syn ? UtpStep.nothing : UtpStep.waiting;
      return type !== UtpType.syn && oneApart(id, track.utpId) ? UtpStep.stream : UtpStep.nothing;
    case UtpPhase.insideStream:
      if (fromInside) return type === UtpType.syn ? UtpStep.nothing : UtpStep.waiting;
      if (type === UtpType.syn || !oneApart(id, track.utpId)) return UtpStep.nothing;
      // The outside end matched the inside's earlier packet: the inside host must speak again to count.
      track.utpPhase = UtpPhase.outsideStream;
      track.utpId = id;
      return UtpStep.waiting;
    default:
      return UtpStep.nothing;
  }
}

function oneApart(a: number, b: number): boolean {
  return ((a + 1) & 0xffff) === b || ((b + 1) & 0xffff) === a;
}

/** The packet's uTP header, for a caller holding the packet (payload bounds). */
export function packetUtpHeader(packet: PacketReader): boolean {
  return utpHeader(packet.buf, packet.payloadOffset, packet.payloadLength);
}
