/**
 * Builds real packets byte by byte for tests: IPv4/IPv6 with TCP or UDP, valid checksums,
 * optionally framed in Ethernet with VLAN tags. The address family follows the address text.
 */
import { parseAddress } from '@p2pwall/common';

export interface Endpoints {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export interface TcpOptions extends Endpoints {
  flags?: number;
  seq?: number;
  ack?: number;
  payload?: Uint8Array | string;
  window?: number;
}

export interface UdpOptions extends Endpoints {
  payload?: Uint8Array | string;
}

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export function bytes(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'latin1')) : data;
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

function address(text: string): Uint8Array {
  const parsed = parseAddress(text);
  if (!parsed) throw new Error(`bad address ${text}`);
  return parsed;
}

function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function checksum(data: Uint8Array, initial = 0): number {
  return ~onesComplementSum(data, initial) & 0xffff;
}

function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  const pseudo = new Uint8Array(src.length * 2 + 8);
  pseudo.set(src, 0);
  pseudo.set(dst, src.length);
  const view = new DataView(pseudo.buffer);
  if (src.length === 4) {
    view.setUint8(9, protocol);
    view.setUint16(10, length);
    return onesComplementSum(pseudo.subarray(0, 12));
  }
  view.setUint32(32, length);
  view.setUint8(39, protocol);
  return onesComplementSum(pseudo);
}

export function ipPacket(srcText: string, dstText: string, protocol: number, l4: Uint8Array, ttl = 64): Uint8Array {
  const src = address(srcText);
  const dst = address(dstText);
  if (src.length !== dst.length) throw new Error('mixed address families');
  if (src.length === 4) {
    const packet = new Uint8Array(20 + l4.length);
    const view = new DataView(packet.buffer);
    view.setUint8(0, 0x45);
    view.setUint16(2, packet.length);
    view.setUint16(4, 0x1234);
    view.setUint16(6, 0x4000);
    view.setUint8(8, ttl);
    view.setUint8(9, protocol);
    packet.set(src, 12);
    packet.set(dst, 16);
    view.setUint16(10, checksum(packet.subarray(0, 20)));
    packet.set(l4, 20);
    return packet;
  }
  const packet = new Uint8Array(40 + l4.length);
  const view = new DataView(packet.buffer);
  view.setUint32(0, 0x60000000);
  view.setUint16(4, l4.length);
  view.setUint8(6, protocol);
  view.setUint8(7, ttl);
  packet.set(src, 8);
  packet.set(dst, 24);
  packet.set(l4, 40);
  return packet;
}

export function udp(options: UdpOptions): Uint8Array {
  const payload = bytes(options.payload);
  const segment = new Uint8Array(8 + payload.length);
  const view = new DataView(segment.buffer);
  view.setUint16(0, options.sport);
  view.setUint16(2, options.dport);
  view.setUint16(4, segment.length);
  segment.set(payload, 8);
  const sum = checksum(segment, pseudoHeaderSum(address(options.src), address(options.dst), 17, segment.length));
  view.setUint16(6, sum === 0 ? 0xffff : sum);
  return ipPacket(options.src, options.dst, 17, segment);
}

export function tcp(options: TcpOptions): Uint8Array {
  const payload = bytes(options.payload);
  const segment = new Uint8Array(20 + payload.length);
  const view = new DataView(segment.buffer);
  view.setUint16(0, options.sport);
  view.setUint16(2, options.dport);
  view.setUint32(4, (options.seq ?? 1000) >>> 0);
  view.setUint32(8, (options.ack ?? 0) >>> 0);
  view.setUint8(12, 5 << 4);
  view.setUint8(13, options.flags ?? ACK | PSH);
  view.setUint16(14, options.window ?? 64240);
  segment.set(payload, 20);
  view.setUint16(16, checksum(segment, pseudoHeaderSum(address(options.src), address(options.dst), 6, segment.length)));
  return ipPacket(options.src, options.dst, 6, segment);
}

/** Wraps an IP packet in Ethernet II, with 802.1Q tags outermost first (QinQ when two). */
export function ethernet(ipPacketBytes: Uint8Array, vlanIds: readonly number[] = []): Uint8Array {
  const frame = new Uint8Array(14 + vlanIds.length * 4 + ipPacketBytes.length);
  const view = new DataView(frame.buffer);
  frame.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
  let cursor = 12;
  vlanIds.forEach((id, i) => {
    view.setUint16(cursor, i === 0 && vlanIds.length > 1 ? 0x88a8 : 0x8100);
    view.setUint16(cursor + 2, id & 0x0fff);
    cursor += 4;
  });
  view.setUint16(cursor, (ipPacketBytes[0]! >> 4) === 6 ? 0x86dd : 0x0800);
  frame.set(ipPacketBytes, cursor + 2);
  return frame;
}
