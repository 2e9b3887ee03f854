/**
 * Header views over a packet buffer: decoding fills one reused PacketView with offsets and
 * numbers, and never copies the buffer. Malformed or truncated input yields a status, never an
 * exception, so the caller can count it and go on.
 */

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export const DecodeStatus = {
  /** An IPv4/IPv6 packet whose headers were read; L4 fields are set for TCP and UDP. */
  ok: 0,
  /** A well-formed non-first IP fragment: it carries no L4 header, so only IP fields are set. */
  laterFragment: 1,
  /** Truncated or inconsistent headers. */
  malformed: 2,
  /** Not IPv4 or IPv6 at all (ARP, LLDP, …). */
  notIp: 3,
} as const;
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

export class PacketView {
  buf: Uint8Array = new Uint8Array(0);
  /** Capture or arrival time in milliseconds since the epoch (fractional). */
  ts = 0;
  /** Length on the wire, which may exceed what was captured. */
  wireLength = 0;

  ipVersion: 4 | 6 = 4;
  l3Offset = 0;
  /** End of the IP datagram inside buf: the smaller of its declared length and what was captured. */
  l3End = 0;
  /** 4 or 16. */
  addressLength: 4 | 16 = 4;
  srcAddressOffset = 0;
  dstAddressOffset = 0;
  /** The upper-layer protocol after any IPv6 extension headers. */
  protocol = 0;
  isFragment = false;

  l4Offset = 0;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  tcpSeq = 0;
  payloadOffset = 0;
  payloadLength = 0;
  /** Why the last decode said malformed, for counters and debugging. */
  malformedReason = '';

  /** A view of the L4 payload (no copy). */
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadOffset, this.payloadOffset + this.payloadLength);
  }
}

const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_ESP = 50;
const IPV6_AUTH = 51;
const IPV6_NO_NEXT = 59;
const IPV6_DEST_OPTIONS = 60;
const IPV6_MOBILITY = 135;
const IPV6_HIP = 139;
const IPV6_SHIM6 = 140;
const MAX_IPV6_EXTENSION_HEADERS = 16;

function malformed(view: PacketView, reason: string): DecodeStatus {
  view.malformedReason = reason;
  return DecodeStatus.malformed;
}

/**
 * Decodes the IP packet that starts at `offset` and ends before `end` (what was captured).
 */
export function decodeIp(view: PacketView, buf: Uint8Array, offset: number, end: number): DecodeStatus {
  view.buf = buf;
  view.l3Offset = offset;
  view.protocol = 0;
  view.isFragment = false;
  view.srcPort = 0;
  view.dstPort = 0;
  view.tcpFlags = 0;
  view.payloadOffset = 0;
  view.payloadLength = 0;
  if (end > buf.length) end = buf.length;
  if (end - offset < 1) return malformed(view, 'empty packet');
  const version = buf[offset]! >> 4;
  if (version === 4) return decodeIpv4(view, buf, offset, end);
  if (version === 6) return decodeIpv6(view, buf, offset, end);
  return malformed(view, `IP version ${version}`);
}

function decodeIpv4(view: PacketView, buf: Uint8Array, offset: number, end: number): DecodeStatus {
  if (end - offset < 20) return malformed(view, 'truncated IPv4 header');
  const headerLength = (buf[offset]! & 0x0f) * 4;
  if (headerLength < 20) return malformed(view, 'IPv4 header length below 20');
  const totalLength = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (totalLength < headerLength) return malformed(view, 'IPv4 total length below header length');
  if (offset + headerLength > end) return malformed(view, 'truncated IPv4 options');
  view.ipVersion = 4;
  view.addressLength = 4;
  view.srcAddressOffset = offset + 12;
  view.dstAddressOffset = offset + 16;
  // Trailing Ethernet padding is not part of the datagram; a short capture ends it early.
  view.l3End = Math.min(offset + totalLength, end);
  view.protocol = buf[offset + 9]!;
  const flagsAndOffset = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  const fragmentOffset = flagsAndOffset & 0x1fff;
  const moreFragments = (flagsAndOffset & 0x2000) !== 0;
  view.isFragment = fragmentOffset !== 0 || moreFragments;
  if (fragmentOffset !== 0) return DecodeStatus.laterFragment;
  return decodeTransport(view, buf, offset + headerLength, view.l3End);
}

function decodeIpv6(view: PacketView, buf: Uint8Array, offset: number, end: number): DecodeStatus {
  if (end - offset < 40) return malformed(view, 'truncated IPv6 header');
  view.ipVersion = 6;
  view.addressLength = 16;
  view.srcAddressOffset = offset + 8;
  view.dstAddressOffset = offset + 24;
  const payloadLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
  // A zero payload length means a jumbogram (RFC 2675); trust what was captured then.
  view.l3End = payloadLength === 0 ? end : Math.min(offset + 40 + payloadLength, end);
  let next = buf[offset + 6]!;
  let cursor = offset + 40;
  for (let count = 0; ; count++) {
    if (count > MAX_IPV6_EXTENSION_HEADERS) return malformed(view, 'too many IPv6 extension headers');
    switch (next) {
      case IPV6_HOP_BY_HOP:
      case IPV6_ROUTING:
      case IPV6_DEST_OPTIONS:
      case IPV6_MOBILITY:
      case IPV6_HIP:
      case IPV6_SHIM6: {
        if (cursor + 8 > view.l3End) return malformed(view, 'truncated IPv6 extension header');
        const length = (buf[cursor + 1]! + 1) * 8;
        next = buf[cursor]!;
        cursor += length;
        if (cursor > view.l3End) return malformed(view, 'IPv6 extension header overruns the packet');
        continue;
      }
      case IPV6_FRAGMENT: {
        if (cursor + 8 > view.l3End) return malformed(view, 'truncated IPv6 fragment header');
        const fragmentOffset = ((buf[cursor + 2]! << 8) | buf[cursor + 3]!) >> 3;
        const moreFragments = (buf[cursor + 3]! & 1) !== 0;
        next = buf[cursor]!;
        cursor += 8;
        view.isFragment = fragmentOffset !== 0 || moreFragments;
        if (fragmentOffset !== 0) {
          view.protocol = next;
          return DecodeStatus.laterFragment;
        }
        continue;
      }
      case IPV6_AUTH: {
        if (cursor + 8 > view.l3End) return malformed(view, 'truncated IPv6 authentication header');
        const length = (buf[cursor + 1]! + 2) * 4;
        next = buf[cursor]!;
        cursor += length;
        if (cursor > view.l3End) return malformed(view, 'IPv6 authentication header overruns the packet');
        continue;
      }
      case IPV6_ESP:
      case IPV6_NO_NEXT:
      default:
        view.protocol = next;
        return decodeTransport(view, buf, cursor, view.l3End);
    }
  }
}

function decodeTransport(view: PacketView, buf: Uint8Array, offset: number, end: number): DecodeStatus {
  view.l4Offset = offset;
  if (view.protocol === IPPROTO_TCP) {
    if (end - offset < 20) return malformed(view, 'truncated TCP header');
    const dataOffset = (buf[offset + 12]! >> 4) * 4;
    if (dataOffset < 20) return malformed(view, 'TCP data offset below 20');
    if (offset + dataOffset > end) return malformed(view, 'truncated TCP options');
    view.srcPort = (buf[offset]! << 8) | buf[offset + 1]!;
    view.dstPort = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    view.tcpSeq = ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
    view.tcpFlags = buf[offset + 13]!;
    view.payloadOffset = offset + dataOffset;
    view.payloadLength = end - view.payloadOffset;
    return DecodeStatus.ok;
  }
  if (view.protocol === IPPROTO_UDP) {
    if (end - offset < 8) return malformed(view, 'truncated UDP header');
    const udpLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
    if (udpLength < 8) return malformed(view, 'UDP length below 8');
    view.srcPort = (buf[offset]! << 8) | buf[offset + 1]!;
    view.dstPort = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    view.payloadOffset = offset + 8;
    // A datagram cut short by the snap length keeps what was captured.
    view.payloadLength = Math.min(offset + udpLength, end) - view.payloadOffset;
    return DecodeStatus.ok;
  }
  view.payloadOffset = offset;
  view.payloadLength = end - offset;
  return DecodeStatus.ok;
}

/**
 * TCP option walk, kept off the per-packet path: callers that want MSS or window scale
 * ask for them. Returns null when the options are malformed.
 */
export function tcpOptions(view: PacketView): { kind: number; data: Uint8Array }[] | null {
  if (view.protocol !== IPPROTO_TCP) return [];
  const options: { kind: number; data: Uint8Array }[] = [];
  let cursor = view.l4Offset + 20;
  const end = view.payloadOffset;
  while (cursor < end) {
    const kind = view.buf[cursor]!;
    if (kind === 0) break;
    if (kind === 1) {
      cursor++;
      continue;
    }
    if (cursor + 1 >= end) return null;
    const length = view.buf[cursor + 1]!;
    if (length < 2 || cursor + length > end) return null;
    options.push({ kind, data: view.buf.subarray(cursor + 2, cursor + length) });
    cursor += length;
  }
  return options;
}
