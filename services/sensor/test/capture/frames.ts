/**
 * Link-layer headers written by hand for capture tests, and a scratch directory for files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAddress } from '../../src/decode/address.js';
import { DecodeStatus, PacketView, decodeIp } from '../../src/decode/packet.js';
import { LINK_MALFORMED, LINK_NOT_IP, locateIp } from '../../src/capture/link.js';
import type { CapturedPacket, PacketSource } from '../../src/capture/source.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_ARP = 0x0806;

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((part) => Uint8Array.from(part))));
}

function u16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

function ethertypeOf(ip: Uint8Array): number {
  return ip[0]! >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
}

/** VLAN tags as they follow an ethertype field: tag control, then the next type. */
function tags(vlans: readonly { tpid: number; id: number }[], innerType: number): { first: number; rest: number[] } {
  if (vlans.length === 0) return { first: innerType, rest: [] };
  const rest: number[] = [];
  vlans.forEach((vlan, i) => rest.push(...u16(vlan.id), ...u16(i + 1 < vlans.length ? vlans[i + 1]!.tpid : innerType)));
  return { first: vlans[0]!.tpid, rest };
}

const MACS = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];

/** Ethernet II with any stack of tags, each with its own TPID (0x8100, 0x88a8, 0x9100). */
export function ethernetTagged(ip: Uint8Array, vlans: readonly { tpid: number; id: number }[], innerType = ethertypeOf(ip)): Uint8Array {
  const { first, rest } = tags(vlans, innerType);
  return concat(MACS, u16(first), rest, ip);
}

/** Linux cooked capture v1: packet type, ARPHRD, address length, 8 address bytes, protocol. */
export function sll(ip: Uint8Array, vlans: readonly { tpid: number; id: number }[] = []): Uint8Array {
  const { first, rest } = tags(vlans, ethertypeOf(ip));
  return concat(u16(0), u16(1), u16(6), [0x02, 0, 0, 0, 0, 0x01, 0, 0], u16(first), rest, ip);
}

/** Linux cooked capture v2: protocol, reserved, interface index, ARPHRD, packet type, address length, 8 address bytes. */
export function sll2(ip: Uint8Array, vlans: readonly { tpid: number; id: number }[] = []): Uint8Array {
  const { first, rest } = tags(vlans, ethertypeOf(ip));
  return concat(u16(first), u16(0), [0, 0, 0, 3], u16(1), [4, 6], [0x02, 0, 0, 0, 0, 0x01, 0, 0], rest, ip);
}

/** BSD loopback: the address family as a 32-bit number in the capturing host's byte order. */
export function nullLoopback(ip: Uint8Array, family: number, littleEndian: boolean): Uint8Array {
  const header = Buffer.alloc(4);
  if (littleEndian) header.writeUInt32LE(family);
  else header.writeUInt32BE(family);
  return concat(header, ip);
}

/** PPPoE session frame inside Ethernet (as in nDPI's dns.pcap): session header, PPP protocol. */
export function pppoe(ip: Uint8Array, vlans: readonly { tpid: number; id: number }[] = []): Uint8Array {
  const pppProtocol = ip[0]! >> 4 === 6 ? 0x0057 : 0x0021;
  const { first, rest } = tags(vlans, 0x8864);
  return concat(MACS, u16(first), rest, [0x11, 0x00], u16(0x556a), u16(ip.length + 2), u16(pppProtocol), ip);
}

export interface DecodedEnds {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: number;
}

/** locateIp + decodeIp, as the analyze path runs them; throws when the frame is not readable IP. */
export function decodeFrame(linkType: number, data: Uint8Array): DecodedEnds {
  const offset = locateIp(linkType, data);
  if (offset === LINK_NOT_IP || offset === LINK_MALFORMED) throw new Error(`locateIp gave ${offset}`);
  const view = new PacketView();
  const status = decodeIp(view, data, offset, data.length);
  if (status !== DecodeStatus.ok) throw new Error(`decodeIp gave ${status} (${view.malformedReason})`);
  return {
    src: formatAddress(data, view.srcAddressOffset, view.addressLength),
    dst: formatAddress(data, view.dstAddressOffset, view.addressLength),
    sport: view.srcPort,
    dport: view.dstPort,
    protocol: view.protocol,
  };
}

/** A fresh scratch directory and a function that removes it. */
export function scratchDirectory(): { path: (name: string) => string; remove: () => void } {
  const directory = mkdtempSync(join(tmpdir(), 'p2pwall-capture-'));
  return { path: (name) => join(directory, name), remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random numbers, so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** Every packet of a source, copied (the source reuses its packet object and buffer). */
export function readAll(source: PacketSource): CapturedPacket[] {
  const packets: CapturedPacket[] = [];
  for (let packet = source.next(); packet !== null; packet = source.next()) packets.push({ ...packet, data: packet.data.slice() });
  return packets;
}
