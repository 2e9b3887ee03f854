/**
 * Gnutella2 over UDP: the 8-byte `GND` header
 *
 *   'G' 'N' 'D' | flags(1) | sequence(2) | part(1) | count(1)
 *
 * (flags 0x01 deflate, 0x02 acknowledge-me, 0x10 seen from gtk-gnutella), then one G2 packet, or
 * a zlib stream holding it when deflated. Layouts: families.md §3.3 and g2.doxu.org. ipp2p took
 * `GND` alone; here the flags, the fragment numbers and what follows must all agree:
 *
 * - an uncompressed first part is one G2 packet whose header parses (control byte, length,
 *   an upper-case name) and which ends where the datagram ends when it is the only part;
 * - a compressed first part starts with a zlib header (CMF 0x78, CMF·256 + FLG divisible by 31);
 * - later parts of a compressed message carry no header of their own and are not taken.
 *
 * Uncompressed `/KHL` known-hub lists name hubs (`/NH` neighbours, `/CH` cached hubs). A
 * deflated datagram is not inflated: that would cost an allocation and a decompression bomb's
 * worth of CPU on untrusted input for a few hub addresses.
 */
import { formatAddress } from '@p2pwall/common';
import type { NamedPeer } from '../module.js';
import { namedPeer, type PeerListSource } from '../named-peers.js';
import { GnutellaVia, MAX_PEERS, SERVENT_TRANSPORT } from './rules.js';

export const GND_HEADER_LENGTH = 8;
const FLAG_DEFLATE = 0x01;
const KNOWN_FLAGS = 0x01 | 0x02 | 0x10;
const ZLIB_DEFLATE = 0x78;

/** Whether buf[p, p + length) starts with `GND` (the cheap first test). */
export function startsWithGnd(buf: Uint8Array, p: number, length: number): boolean {
  return length > GND_HEADER_LENGTH && buf[p] === 0x47 && buf[p + 1] === 0x4e && buf[p + 2] === 0x44;
}

/** Whether a datagram that starts with `GND` is a G2 UDP datagram by every check above. */
export function isG2Datagram(buf: Uint8Array, p: number, length: number): boolean {
  const flags = buf[p + 3]!;
  const part = buf[p + 6]!;
  const count = buf[p + 7]!;
  if ((flags & ~KNOWN_FLAGS) !== 0 || count === 0 || part === 0 || part > count) return false;
  const body = p + GND_HEADER_LENGTH;
  const end = p + length;
  if ((flags & FLAG_DEFLATE) !== 0) {
    if (part !== 1 || end - body < 2) return false;
    const cmf = buf[body]!;
    return cmf === ZLIB_DEFLATE && ((cmf << 8) | buf[body + 1]!) % 31 === 0;
  }
  if (part !== 1 || !readPacket(buf, body, end, packet)) return false;
  return count > 1 || packet.end === end;
}

/** One G2 packet's header as read by readPacket. */
class G2Packet {
  nameStart = 0;
  nameLength = 0;
  compound = false;
  /** Its payload (children, a 0x00, then data, when compound). */
  payloadStart = 0;
  end = 0;
}

// Scratch for one datagram at a time (inspect is synchronous).
const packet = new G2Packet();
const child = new G2Packet();
const grandchild = new G2Packet();

/**
 * Reads the G2 packet header at buf[at]: control byte (length-field size in bits 7-6, name
 * length − 1 in bits 5-3, compound 0x04, big-endian 0x02), length, name. False when it does
 * not parse, the name is not upper-case letters and digits, or the packet runs past `end`.
 */
function readPacket(buf: Uint8Array, at: number, end: number, out: G2Packet): boolean {
  const control = buf[at]!;
  if (control === 0 || (control & 0x01) !== 0) return false;
  const lengthBytes = control >>> 6;
  const nameLength = ((control >>> 3) & 0x07) + 1;
  const bigEndian = (control & 0x02) !== 0;
  let i = at + 1;
  if (i + lengthBytes + nameLength > end) return false;
  let length = 0;
  for (let b = 0; b < lengthBytes; b++) length = bigEndian ? length * 256 + buf[i + b]! : length + buf[i + b]! * 256 ** b;
  i += lengthBytes;
  for (let n = i; n < i + nameLength; n++) {
    const byte = buf[n]!;
    if (!((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39))) return false;
  }
  out.nameStart = i;
  out.nameLength = nameLength;
  out.compound = (control & 0x04) !== 0;
  out.payloadStart = i + nameLength;
  out.end = out.payloadStart + length;
  return out.end <= end;
}

function nameIs(buf: Uint8Array, g2: G2Packet, a: number, b: number, c = -1): boolean {
  if (g2.nameLength !== (c < 0 ? 2 : 3)) return false;
  return buf[g2.nameStart] === a && buf[g2.nameStart + 1] === b && (c < 0 || buf[g2.nameStart + 2] === c);
}

const KHL: PeerListSource = { via: GnutellaVia.g2Khl, transport: SERVENT_TRANSPORT, max: MAX_PEERS.khl };

/**
 * The hubs an uncompressed `/KHL` datagram names: each `/NH` or `/CH` child's data starts with
 * IPv4 (network order) and port (LE). Null when the datagram is not an uncompressed /KHL.
 */
export function khlPeers(buf: Uint8Array, p: number, length: number): NamedPeer[] | null {
  const end = p + length;
  if ((buf[p + 3]! & FLAG_DEFLATE) !== 0 || !readPacket(buf, p + GND_HEADER_LENGTH, end, packet)) return null;
  if (!packet.compound || !nameIs(buf, packet, 0x4b, 0x48, 0x4c) /* KHL */) return null;
  const peers: NamedPeer[] = [];
  let at = packet.payloadStart;
  while (at < packet.end && buf[at] !== 0 && peers.length < KHL.max) {
    if (!readPacket(buf, at, packet.end, child)) break;
    if (nameIs(buf, child, 0x4e, 0x48) /* NH */ || nameIs(buf, child, 0x43, 0x48) /* CH */) {
      const data = child.compound ? dataAfterChildren(buf, child) : child.payloadStart;
      if (data >= 0 && child.end - data >= 6) {
        const port = buf[data + 4]! | (buf[data + 5]! << 8);
        if (port !== 0) peers.push(namedPeer(formatAddress(buf, data, 4), port, KHL));
      }
    }
    at = child.end;
  }
  return peers;
}

/** Where a compound packet's own data starts: after its children and their 0x00 terminator; -1 when none. */
function dataAfterChildren(buf: Uint8Array, parent: G2Packet): number {
  const end = parent.end;
  let at = parent.payloadStart;
  while (at < end) {
    if (buf[at] === 0) return at + 1;
    if (!readPacket(buf, at, end, grandchild)) return -1;
    at = grandchild.end;
  }
  return -1;
}
