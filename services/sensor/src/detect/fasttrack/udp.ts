/**
 * FastTrack's UDP node messages: ping 0x27, pong 0x28, pong-2 0x29, id 0x2A (giFT PROTOCOL;
 * /work/shared/protocols/README.md §1.6).
 */
import type { Evidence, NamedPeer, PacketReader } from '../module.js';
import { ascii, printable, startsWith } from '../http-headers.js';
import { FastTrackRule, FastTrackVia, evidence } from './rules.js';

/** Network names seen on FastTrack (giFT PROTOCOL); any other printable name is accepted too. */
export const KNOWN_NETWORK_NAMES: readonly string[] = ['KaZaA', 'fileshare', 'Grokster', 'MusicCity'];

const UDP_PING = 0x27;
const UDP_PONG = 0x28;
const UDP_PONG2 = 0x29;
const UDP_ID = 0x2a;
const MAX_NETWORK_NAME = 32;
const PING_NAME_OFFSET = 6;
const PONG_NAME_OFFSET = 11;
/** The longest datagram any UDP rule accepts: a pong with a 32-character name. */
const MAX_UDP_PAYLOAD = PONG_NAME_OFFSET + MAX_NETWORK_NAME + 1;

const knownNameBytes = KNOWN_NETWORK_NAMES.map((name) => ({ name, bytes: ascii(name) }));

/**
 * The network name in buf[start, end - 1) when buf[end - 1] is its NUL terminator and it is
 * 1–32 printable ASCII characters; otherwise null.
 */
function networkName(buf: Uint8Array, start: number, end: number): string | null {
  const nameEnd = end - 1;
  const length = nameEnd - start;
  if (length < 1 || length > MAX_NETWORK_NAME || buf[nameEnd] !== 0) return null;
  for (let i = start; i < nameEnd; i++) {
    const byte = buf[i]!;
    if (byte < 0x20 || byte > 0x7e) return null;
  }
  for (const known of knownNameBytes) {
    if (known.bytes.length === length && startsWith(buf, start, nameEnd, known.bytes)) return known.name;
  }
  return printable(buf, start, nameEnd, MAX_NETWORK_NAME);
}
/** Whether the UDP header's length agrees with the payload we hold: not cut by a snap length or a fragment. */
function wholeDatagram(packet: PacketReader): boolean {
  if (packet.isFragment) return false;
  const l4 = packet.l4Offset;
  const declared = ((packet.buf[l4 + 4]! << 8) | packet.buf[l4 + 5]!) - 8;
  return declared === packet.payloadLength;
}

/** `concluded`: this module already found FastTrack on the flow (pong-2 and id messages say little alone). */
export function inspectUdp(packet: PacketReader, concluded: boolean): Evidence | null {
  const length = packet.payloadLength;
  if (length < 5 || length > MAX_UDP_PAYLOAD) return null;
  const buf = packet.buf;
  const p = packet.payloadOffset;
  switch (buf[p]) {
    case UDP_PING:
      return nodePing(buf, p, length, packet);
    case UDP_PONG:
      return nodePong(buf, p, length, packet);
    case UDP_PONG2:
      return concluded ? nodePong2(buf, p, length, packet) : null;
    case UDP_ID:
      // Five bytes (0x2A + a 4-byte ID) say little alone; only on a flow already seen as FastTrack.
      return length === 5 && concluded && wholeDatagram(packet) ? evidence(FastTrackRule.udpId) : null;
    default:
      return null;
  }
}

/** `27 | min. enc type (4) | 80 | name | 00`: 12 bytes for KaZaA. */
function nodePing(buf: Uint8Array, p: number, length: number, packet: PacketReader): Evidence | null {
  if (length < PING_NAME_OFFSET + 2 || buf[p + 5] !== 0x80 || buf[p + length - 1] !== 0) return null;
  if (!wholeDatagram(packet)) return null;
  const name = networkName(buf, p + PING_NAME_OFFSET, p + length);
  return name === null ? null : evidence(FastTrackRule.udpPing, name);
}

/** `28 | min. enc type (4) | 00 | counter | 2 unknown | load | unknown | name | 00`: 17 bytes for KaZaA. */
function nodePong(buf: Uint8Array, p: number, length: number, packet: PacketReader): Evidence | null {
  if (length < PONG_NAME_OFFSET + 2 || buf[p + 5] !== 0x00 || buf[p + length - 1] !== 0) return null;
  if (!wholeDatagram(packet)) return null;
  const name = networkName(buf, p + PONG_NAME_OFFSET, p + length);
  return name === null ? null : evidence(FastTrackRule.udpPong, name);
}

/**
 * `29 | min. enc type (4) | 01/02 | flag 00/01 | 00 00 | ID (4)`, and with flag 1
 * `| IPv4 (4) | port (2) | 2 unknown`: 13 or 21 bytes. The address names another node.
 */
function nodePong2(buf: Uint8Array, p: number, length: number, packet: PacketReader): Evidence | null {
  const kind = buf[p + 5];
  const flag = buf[p + 6];
  if ((kind !== 1 && kind !== 2) || buf[p + 7] !== 0 || buf[p + 8] !== 0) return null;
  if (!((flag === 0 && length === 13) || (flag === 1 && length === 21))) return null;
  if (!wholeDatagram(packet)) return null;
  if (flag === 0) return evidence(FastTrackRule.udpPong2);
  const port = (buf[p + 17]! << 8) | buf[p + 18]!;
  const ip = `${buf[p + 13]}.${buf[p + 14]}.${buf[p + 15]}.${buf[p + 16]}`;
  const named: NamedPeer[] | null = port === 0 ? null : [{ ip, port, transport: 'both', via: FastTrackVia.udpPong2Node }];
  return evidence(FastTrackRule.udpPong2, `${ip}:${port}`, named);
}
