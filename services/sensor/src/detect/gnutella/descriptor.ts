/**
 * Gnutella 0.6 messages over UDP (pings, pongs, GUESS queries and hits, vendor messages) and
 * gtk-gnutella's Mojito DHT: one message per datagram, behind the 23-byte descriptor header
 *
 *   GUID(16) | type(1) | TTL(1) | hops(1) | payload length(4, LE)
 *
 * Byte layouts: /work/shared/protocols/families.md §3.2. A datagram is taken for one only when
 * the length field equals the datagram's length − 23 exactly (2^-32 for random bytes), the type
 * is one Gnutella uses, TTL and hops are what a servent sends, and the payload has its type's
 * shape: a DNS query, a QUIC or STUN packet, or a game's datagram that happens to be 23 bytes
 * with zeros where the length lies still fails on the type, the TTL or the payload.
 */
import { formatAddress } from '@p2pwall/common';
import type { NamedPeer } from '../module.js';
import { namedPeer, type PeerListSource } from '../named-peers.js';
import { GnutellaVia, MAX_PEERS, SERVENT_TRANSPORT } from './rules.js';

export const HEADER_LENGTH = 23;
const TYPE_AT = 16;
const TTL_AT = 17;
const HOPS_AT = 18;
const LENGTH_AT = 19;

export const MessageType = {
  ping: 0x00,
  pong: 0x01,
  bye: 0x02,
  vendor: 0x31,
  vendorStandard: 0x32,
  push: 0x40,
  mojito: 0x44,
  query: 0x80,
  queryHit: 0x81,
} as const;

/** Servents send TTL ≤ 7 (gtk-gnutella's and LimeWire's hard limit); a relayed message has spent hops of it. */
const MAX_TTL_PLUS_HOPS = 8;
/** GGEP blocks start with this magic byte (GGEP 0.51). */
const GGEP_MAGIC = 0xc3;
/** Pong: port(2 LE) ip(4) files(4 LE) kilobytes(4 LE), then optional GGEP. */
const PONG_FIXED = 14;
/** Push: servent GUID(16) file index(4) ip(4) port(2). */
const PUSH_FIXED = 26;
/** Query hit: hits(1) port(2) ip(4) speed(4), results, servent GUID(16) at the end. */
const QUERY_HIT_MIN = 11 + 16;
/** Vendor message: vendor(4) selector(2) version(2). */
const VENDOR_FIXED = 8;
/** Mojito: opcode at 23, vendor code at 24-27. */
const MOJITO_VENDOR_AT = 24;
/** A bare ping's GUID is 16 random bytes: more zeros than this is a zero-padded record, not a GUID. */
const MAX_ZERO_GUID_BYTES = 4;

/** Whether buf[p, p + length) is one whole descriptor by its length field (the first test, allocation-free). */
export function hasDescriptorLength(buf: Uint8Array, p: number, length: number): boolean {
  if (length < HEADER_LENGTH) return false;
  const declared = (buf[p + LENGTH_AT]! | (buf[p + LENGTH_AT + 1]! << 8) | (buf[p + LENGTH_AT + 2]! << 16) | (buf[p + LENGTH_AT + 3]! << 24)) >>> 0;
  return declared === length - HEADER_LENGTH;
}

/** The message type of a datagram that passed hasDescriptorLength, or -1 when it is no Gnutella message. */
export function descriptorType(buf: Uint8Array, p: number, length: number): number {
  const type = buf[p + TYPE_AT]!;
  const ttl = buf[p + TTL_AT]!;
  const hops = buf[p + HOPS_AT]!;
  const payload = p + HEADER_LENGTH;
  const payloadLength = length - HEADER_LENGTH;
  if (type === MessageType.mojito) return isMojito(buf, p, length) ? type : -1;
  if (ttl === 0 || ttl + hops > MAX_TTL_PLUS_HOPS) return -1;
  switch (type) {
    case MessageType.ping:
      if (payloadLength === 0) return hasGuidShape(buf, p) ? type : -1;
      return buf[payload] === GGEP_MAGIC ? type : -1;
    case MessageType.pong:
      if (payloadLength < PONG_FIXED || (payloadLength > PONG_FIXED && buf[payload + PONG_FIXED] !== GGEP_MAGIC)) return -1;
      return (buf[payload]! | buf[payload + 1]!) !== 0 ? type : -1;
    case MessageType.bye:
      return payloadLength >= 2 ? type : -1;
    case MessageType.vendor:
    case MessageType.vendorStandard:
      return payloadLength >= VENDOR_FIXED && isVendorCode(buf, payload) ? type : -1;
    case MessageType.push:
      return payloadLength === PUSH_FIXED || (payloadLength > PUSH_FIXED && buf[payload + PUSH_FIXED] === GGEP_MAGIC) ? type : -1;
    case MessageType.query:
      // Minimum speed (2), then NUL-terminated search criteria.
      return payloadLength >= 3 && hasNul(buf, payload + 2, payload + payloadLength) ? type : -1;
    case MessageType.queryHit:
      return payloadLength >= QUERY_HIT_MIN && buf[payload]! > 0 ? type : -1;
    default:
      return -1;
  }
}

/** Mojito: version 0.0 where TTL/hops lie, an opcode 1-15, a vendor code of four letters or digits. */
function isMojito(buf: Uint8Array, p: number, length: number): boolean {
  if (length < MOJITO_VENDOR_AT + 4 || buf[p + TTL_AT] !== 0 || buf[p + HOPS_AT] !== 0) return false;
  const opcode = buf[p + HEADER_LENGTH]!;
  return opcode >= 1 && opcode <= 0x0f && isVendorCode(buf, p + MOJITO_VENDOR_AT);
}

/** Four upper-case letters or digits: `GTKG`, `LIME`, `RAZA`, `BEAR`. */
function isVendorCode(buf: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 4; i++) {
    const byte = buf[i]!;
    if (!((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39))) return false;
  }
  return true;
}

function hasGuidShape(buf: Uint8Array, p: number): boolean {
  let zeros = 0;
  for (let i = p; i < p + 16; i++) if (buf[i] === 0) zeros++;
  return zeros <= MAX_ZERO_GUID_BYTES;
}

function hasNul(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] === 0) return true;
  return false;
}

const PONG: PeerListSource = { via: GnutellaVia.pong, transport: SERVENT_TRANSPORT, max: MAX_PEERS.pong };
const IPP: PeerListSource = { via: GnutellaVia.ggepIpp, transport: SERVENT_TRANSPORT, max: MAX_PEERS.pong };
const QUERY_HIT: PeerListSource = { via: GnutellaVia.queryHit, transport: SERVENT_TRANSPORT, max: 1 };

/** The servents a pong names: its own address, then its GGEP `IPP` entries. */
export function pongPeers(buf: Uint8Array, p: number, length: number): NamedPeer[] {
  const payload = p + HEADER_LENGTH;
  const end = p + length;
  const peers: NamedPeer[] = [];
  appendAddress(buf, payload + 2, payload, PONG, peers);
  if (end - payload > PONG_FIXED) appendIpp(buf, payload + PONG_FIXED, end, peers);
  return peers;
}

/** The servent a query hit names (port at 1, address at 3). */
export function queryHitPeers(buf: Uint8Array, p: number): NamedPeer[] {
  const payload = p + HEADER_LENGTH;
  const peers: NamedPeer[] = [];
  appendAddress(buf, payload + 3, payload + 1, QUERY_HIT, peers);
  return peers;
}

/** IPv4 at `ipAt` in network order, port at `portAt` little-endian; port 0 and 0.0.0.0 name nobody. */
function appendAddress(buf: Uint8Array, ipAt: number, portAt: number, source: PeerListSource, out: NamedPeer[]): void {
  const port = buf[portAt]! | (buf[portAt + 1]! << 8);
  if (port === 0 || (buf[ipAt]! | buf[ipAt + 1]! | buf[ipAt + 2]! | buf[ipAt + 3]!) === 0 || out.length >= source.max) return;
  out.push(namedPeer(formatAddress(buf, ipAt, 4), port, source));
}

const IPP_ID = [0x49, 0x50, 0x50];
const GGEP_LAST = 0x80;
const GGEP_ENCODED = 0x40;
const GGEP_COMPRESSED = 0x20;
/** IPP entry: IPv4 (network order) then port (LE). */
const IPP_ENTRY = 6;

/**
 * Walks a GGEP block (GGEP 0.51: flags, id, 1-3 length bytes of 6 bits each, data) for `IPP`.
 * COBS-encoded or deflated extensions are skipped, not decoded; a block that does not parse
 * names nobody.
 */
function appendIpp(buf: Uint8Array, at: number, end: number, out: NamedPeer[]): void {
  if (buf[at] !== GGEP_MAGIC) return;
  let i = at + 1;
  for (let extension = 0; extension < 32 && i < end; extension++) {
    const flags = buf[i]!;
    const idLength = flags & 0x0f;
    if (idLength === 0 || (flags & 0x10) !== 0) return;
    const id = i + 1;
    i = id + idLength;
    let dataLength = 0;
    for (let lengthBytes = 0; ; lengthBytes++) {
      if (i >= end || lengthBytes === 3) return;
      const byte = buf[i++]!;
      dataLength = (dataLength << 6) | (byte & 0x3f);
      if ((byte & 0x40) !== 0) break;
      if ((byte & 0x80) === 0) return;
    }
    const data = i;
    i = data + dataLength;
    if (i > end) return;
    const plain = (flags & (GGEP_ENCODED | GGEP_COMPRESSED)) === 0;
    if (plain && idLength === IPP_ID.length && buf[id] === IPP_ID[0] && buf[id + 1] === IPP_ID[1] && buf[id + 2] === IPP_ID[2] && dataLength % IPP_ENTRY === 0) {
      for (let entry = data; entry < i && out.length < IPP.max; entry += IPP_ENTRY) appendAddress(buf, entry, entry + 4, IPP, out);
      return;
    }
    if ((flags & GGEP_LAST) !== 0) return;
  }
}
