/**
 * Kademlia 2 over UDP (aMule `kad2/Client2Client/UDP.h`, `KademliaUDPListener.cpp`;
 * families.md §2.2–§2.3). UDP has no length field, so each datagram is judged by its opcode's
 * own layout:
 *
 *   HELLO_REQ/RES  E4 11|19 | KadID(16) | TCP port(2) | version(1) | tag count(1) | tags
 *   REQ            E4 21    | type(1) | target(16) | receiver's KadID(16)        (35 bytes)
 *   RES            E4 29    | target(16) | count(1) | count × contact            (19 + 25·count)
 *   BOOTSTRAP_RES  E4 09    | KadID(16) | TCP port(2) | version(1) | count(2, LE) | count × contact
 *   contact        KadID(16) | IPv4(4, octets reversed) | UDP port(2, LE) | TCP port(2, LE) | version(1)
 *
 * A Hello is taken only when its tags walk to the datagram's last byte; a list only when its count
 * matches its length. The 2-byte BOOTSTRAP_REQ and PING, the 4-byte PONG, the fixed-size
 * searches and FIREWALLED2_REQ have nothing to check beyond their size: they only support (nDPI's 2024 lesson).
 */
import { namedPeer, type PeerListSource } from '../named-peers.js';
import type { NamedPeer } from '../module.js';
import { Kad2Opcode, KAD_REQ_TYPES } from './opcodes.js';
import { EdonkeyVia, KAD_CONTACT_TTL_MS, MAX_PEERS } from './rules.js';
import { u16le, u32le } from './tcp-frame.js';

export const KadKind = {
  none: 0,
  /** Its layout checks: identifying. */
  structured: 1,
  /** Only its size checks: supporting. */
  fixedSize: 2,
} as const;
export type KadKind = (typeof KadKind)[keyof typeof KadKind];

const KAD_ID = 16;
const CONTACT = 25;
const HELLO_TAGS_AT = 22;
const REQ_LENGTH = 35;
const RES_CONTACTS_AT = 19;
const BOOTSTRAP_CONTACTS_AT = 23;
/** Tags a Hello carries (aMule sends 1–3) and the longest tag name believed. */
const MAX_HELLO_TAGS = 16;
const MAX_TAG_NAME = 64;
/** Kad versions a client announces (eMule 0.49 sent 7, aMule 2.3 sends 9). */
const MAX_KAD_VERSION = 31;

// Kad's TCP and UDP ports differ: each is learned for its own transport.
const CONTACT_UDP: PeerListSource = { via: EdonkeyVia.kadContact, transport: 'udp', max: 2 * MAX_PEERS.kadContacts, ttlMs: KAD_CONTACT_TTL_MS };
const CONTACT_TCP: PeerListSource = { ...CONTACT_UDP, transport: 'tcp' };

const FIXED_SIZES: Readonly<Record<number, number>> = {
  [Kad2Opcode.bootstrapReq]: 2,
  [Kad2Opcode.ping]: 2,
  [Kad2Opcode.pong]: 4,
  [Kad2Opcode.searchSourceReq]: 2 + KAD_ID + 2 + 8,
  [Kad2Opcode.searchNotesReq]: 2 + KAD_ID + 8,
  // TCP port, user hash, connect options: aMule asks a node to test its TCP port.
  [Kad2Opcode.firewalled2Req]: 2 + 2 + KAD_ID + 1,
};

/** What the Kad datagram buf[p, p + length) (marker `E4` at p) is. */
export function kadKind(buf: Uint8Array, p: number, length: number): KadKind {
  if (length < 2) return KadKind.none;
  const opcode = buf[p + 1]!;
  switch (opcode) {
    case Kad2Opcode.helloReq:
    case Kad2Opcode.helloRes:
      return isHello(buf, p, length) ? KadKind.structured : KadKind.none;
    case Kad2Opcode.req:
      return length === REQ_LENGTH && KAD_REQ_TYPES[buf[p + 2]! & 0x1f] === 1 ? KadKind.structured : KadKind.none;
    case Kad2Opcode.res:
      return resCount(buf, p, length) > 0 ? KadKind.structured : KadKind.none;
    case Kad2Opcode.bootstrapRes:
      return bootstrapCount(buf, p, length) > 0 ? KadKind.structured : KadKind.none;
    default:
      return FIXED_SIZES[opcode] === length ? KadKind.fixedSize : KadKind.none;
  }
}

function isHello(buf: Uint8Array, p: number, length: number): boolean {
  if (length < HELLO_TAGS_AT) return false;
  const version = buf[p + 20]!;
  const tags = buf[p + 21]!;
  return version >= 1 && version <= MAX_KAD_VERSION && tags <= MAX_HELLO_TAGS && walkTags(buf, p + HELLO_TAGS_AT, p + length, tags);
}

/** Whether `count` Kad tags (type, name length(2), name, value) end exactly at `end`. */
function walkTags(buf: Uint8Array, at: number, end: number, count: number): boolean {
  for (let i = 0; i < count; i++) {
    if (end - at < 3) return false;
    const type = buf[at]!;
    const nameLength = u16le(buf, at + 1);
    if (nameLength === 0 || nameLength > MAX_TAG_NAME) return false;
    at += 3 + nameLength;
    if (at > end) return false;
    const size = tagValueSize(buf, type, at, end);
    if (size < 0) return false;
    at += size;
    if (at > end) return false;
  }
  return at === end;
}

/** Bytes of a tag value of `type` at `at`, or -1 for a type Kad does not use. */
function tagValueSize(buf: Uint8Array, type: number, at: number, end: number): number {
  switch (type) {
    case 0x01: // hash
      return 16;
    case 0x02: // string, u16 length
      return end - at >= 2 ? 2 + u16le(buf, at) : -1;
    case 0x03: // u32
    case 0x04: // float
      return 4;
    case 0x05: // bool
    case 0x09: // u8
      return 1;
    case 0x07: // blob, u32 length
      return end - at >= 4 ? 4 + u32le(buf, at) : -1;
    case 0x08: // u16
      return 2;
    case 0x0a: // bsob, u8 length
      return end - at >= 1 ? 1 + buf[at]! : -1;
    case 0x0b: // u64
      return 8;
    default:
      // STR1 … STR16: strings of a fixed length.
      return type >= 0x11 && type <= 0x20 ? type - 0x10 : -1;
  }
}

/** Contacts in a KADEMLIA2_RES whose count matches its length, else 0. */
export function resCount(buf: Uint8Array, p: number, length: number): number {
  if (length < RES_CONTACTS_AT + CONTACT || (length - RES_CONTACTS_AT) % CONTACT !== 0) return 0;
  const count = (length - RES_CONTACTS_AT) / CONTACT;
  return count <= MAX_PEERS.kadContacts && buf[p + RES_CONTACTS_AT - 1] === count ? count : 0;
}

/** Contacts in a BOOTSTRAP_RES whose count matches its length, else 0. */
export function bootstrapCount(buf: Uint8Array, p: number, length: number): number {
  if (length < BOOTSTRAP_CONTACTS_AT + CONTACT || (length - BOOTSTRAP_CONTACTS_AT) % CONTACT !== 0) return 0;
  const count = (length - BOOTSTRAP_CONTACTS_AT) / CONTACT;
  return count <= MAX_PEERS.kadContacts && u16le(buf, p + BOOTSTRAP_CONTACTS_AT - 2) === count ? count : 0;
}

/** Where a REQ's target starts (after its type byte), and a RES's (right after the opcode). */
export const REQ_TARGET_AT = 3;
export const RES_TARGET_AT = 2;

/** The contacts of a RES (count from resCount) or BOOTSTRAP_RES, each named for UDP and for TCP. */
export function contactPeers(buf: Uint8Array, p: number, length: number): NamedPeer[] {
  const opcode = buf[p + 1];
  const count = opcode === Kad2Opcode.res ? resCount(buf, p, length) : bootstrapCount(buf, p, length);
  const first = p + (opcode === Kad2Opcode.res ? RES_CONTACTS_AT : BOOTSTRAP_CONTACTS_AT);
  const out: NamedPeer[] = [];
  for (let i = 0; i < count; i++) {
    const at = first + i * CONTACT + KAD_ID;
    // aMule writes the address as a little-endian number of a byte-swapped host value: the
    // octets come reversed.
    const ip = `${buf[at + 3]}.${buf[at + 2]}.${buf[at + 1]}.${buf[at]}`;
    const udpPort = u16le(buf, at + 4);
    const tcpPort = u16le(buf, at + 6);
    if (udpPort !== 0) out.push(namedPeer(ip, udpPort, CONTACT_UDP));
    // A firewalled contact announces no TCP port.
    if (tcpPort !== 0) out.push(namedPeer(ip, tcpPort, CONTACT_TCP));
  }
  return out;
}
