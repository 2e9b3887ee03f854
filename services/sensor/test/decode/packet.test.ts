import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from '../../src/decode/address.js';
import { CidrError, CidrSet, parseCidr } from '../../src/decode/cidr.js';
import { DecodeStatus, IPPROTO_TCP, IPPROTO_UDP, PacketView, TCP_SYN, decodeIp, tcpOptions } from '../../src/decode/packet.js';
import { SYN, hex, tcp, udp } from '@p2pwall/lab';

function decode(packet: Uint8Array, end = packet.length): { status: DecodeStatus; view: PacketView } {
  const view = new PacketView();
  return { status: decodeIp(view, packet, 0, end), view };
}

describe('IPv4', () => {
  it('reads a UDP datagram: addresses, ports and a payload view that copies nothing', () => {
    const packet = udp({ src: '192.168.1.5', dst: '203.0.113.9', sport: 1214, dport: 3531, payload: 'hello' });
    const { status, view } = decode(packet);
    expect(status).toBe(DecodeStatus.ok);
    expect(view.ipVersion).toBe(4);
    expect(view.protocol).toBe(IPPROTO_UDP);
    expect(formatAddress(packet, view.srcAddressOffset, 4)).toBe('192.168.1.5');
    expect(formatAddress(packet, view.dstAddressOffset, 4)).toBe('203.0.113.9');
    expect([view.srcPort, view.dstPort]).toEqual([1214, 3531]);
    expect(Buffer.from(view.payload()).toString()).toBe('hello');
    expect(view.payload().buffer).toBe(packet.buffer);
  });

  it('skips IPv4 options using the header length', () => {
    const plain = tcp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 40000, dport: 80, flags: TCP_SYN });
    const withOptions = new Uint8Array(plain.length + 8);
    withOptions.set(plain.subarray(0, 20), 0);
    withOptions.set([0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00], 20);
    withOptions.set(plain.subarray(20), 28);
    withOptions[0] = 0x47;
    withOptions[2] = withOptions.length >> 8;
    withOptions[3] = withOptions.length & 0xff;
    const { status, view } = decode(withOptions);
    expect(status).toBe(DecodeStatus.ok);
    expect(view.l4Offset).toBe(28);
    expect(view.dstPort).toBe(80);
    expect(view.tcpFlags).toBe(SYN);
  });

  it('reads L4 headers only from first fragments, and counts later ones without misparsing', () => {
    const packet = udp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 5000, dport: 6000, payload: 'x'.repeat(40) });
    const first = packet.slice();
    first[6] = 0x20; // more fragments, offset 0
    expect(decode(first).status).toBe(DecodeStatus.ok);
    expect(decode(first).view.isFragment).toBe(true);
    expect(decode(first).view.dstPort).toBe(6000);
    const later = packet.slice();
    later[6] = 0x00;
    later[7] = 0x03; // offset 24 bytes
    const { status, view } = decode(later);
    expect(status).toBe(DecodeStatus.laterFragment);
    expect(view.srcPort).toBe(0);
    expect(view.dstPort).toBe(0);
  });

  it('ignores Ethernet padding after the datagram and keeps a snap-length-cut payload', () => {
    const packet = udp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 1, dport: 2, payload: 'ab' });
    const padded = new Uint8Array(packet.length + 16);
    padded.set(packet);
    expect(decode(padded).view.payloadLength).toBe(2);
    const long = udp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 1, dport: 2, payload: 'x'.repeat(100) });
    const cut = decode(long, 60);
    expect(cut.status).toBe(DecodeStatus.ok);
    expect(cut.view.payloadLength).toBe(60 - 28);
  });

  it.each([
    ['empty', new Uint8Array(0)],
    ['IP version 5', hex('55000014000000004011000000000000000000000000')],
    ['header length below 20', hex('44000014000040004011000000000001c6336407')],
    ['truncated header', hex('4500001400')],
    ['total length below header length', hex('4500000a000040004011000000000001c6336407')],
    ['truncated TCP header', hex('4500001c000040004006000000000001c63364070000005000000000')],
  ])('reports %s as malformed with a reason', (_name, packet) => {
    const { status, view } = decode(packet);
    expect(status).toBe(DecodeStatus.malformed);
    expect(view.malformedReason).not.toBe('');
  });

  it('rejects a TCP data offset that points past the packet', () => {
    const packet = tcp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 1, dport: 2 });
    packet[20 + 12] = 0xf0; // 60-byte TCP header in a 40-byte packet
    expect(decode(packet).status).toBe(DecodeStatus.malformed);
  });
});

describe('IPv6', () => {
  it('reads TCP over IPv6', () => {
    const packet = tcp({ src: 'fd00::5', dst: '2001:db8::9', sport: 40001, dport: 1214, flags: SYN, payload: 'GET / HTTP/1.1\r\n' });
    const { status, view } = decode(packet);
    expect(status).toBe(DecodeStatus.ok);
    expect(view.ipVersion).toBe(6);
    expect(view.protocol).toBe(IPPROTO_TCP);
    expect(formatAddress(packet, view.srcAddressOffset, 16)).toBe('fd00::5');
    expect(formatAddress(packet, view.dstAddressOffset, 16)).toBe('2001:db8::9');
    expect(view.dstPort).toBe(1214);
    expect(view.payloadLength).toBe(16);
  });

  function withExtension(packet: Uint8Array, nextHeaderCode: number, extension: Uint8Array): Uint8Array {
    const out = new Uint8Array(packet.length + extension.length);
    out.set(packet.subarray(0, 40), 0);
    out.set(extension, 40);
    out.set(packet.subarray(40), 40 + extension.length);
    const payloadLength = out.length - 40;
    out[4] = payloadLength >> 8;
    out[5] = payloadLength & 0xff;
    out[40] = out[6]!; // the extension's next header is the old upper protocol
    out[6] = nextHeaderCode;
    return out;
  }

  it('walks hop-by-hop and destination options headers to the transport header', () => {
    const packet = udp({ src: 'fd00::5', dst: '2001:db8::9', sport: 7, dport: 9, payload: 'abc' });
    const hopByHop = withExtension(packet, 0, hex('00 00 01 04 00 00 00 00'));
    const both = withExtension(hopByHop, 60, hex('00 00 01 04 00 00 00 00'));
    const { status, view } = decode(both);
    expect(status).toBe(DecodeStatus.ok);
    expect(view.protocol).toBe(IPPROTO_UDP);
    expect(view.l4Offset).toBe(56);
    expect(Buffer.from(view.payload()).toString()).toBe('abc');
  });

  it('reads the first IPv6 fragment and counts later ones', () => {
    const packet = udp({ src: 'fd00::5', dst: '2001:db8::9', sport: 7, dport: 9, payload: 'abc' });
    const first = withExtension(packet, 44, hex('00 00 00 01 12 34 56 78'));
    expect(decode(first).status).toBe(DecodeStatus.ok);
    expect(decode(first).view.dstPort).toBe(9);
    const later = withExtension(packet, 44, hex('00 00 00 10 12 34 56 78'));
    expect(decode(later).status).toBe(DecodeStatus.laterFragment);
  });

  it('reports an extension header that overruns the packet as malformed', () => {
    const packet = udp({ src: 'fd00::5', dst: '2001:db8::9', sport: 7, dport: 9, payload: 'abc' });
    const broken = withExtension(packet, 0, hex('00 ff 01 04 00 00 00 00'));
    expect(decode(broken).status).toBe(DecodeStatus.malformed);
  });
});

describe('TCP options', () => {
  it('walks MSS and window scale off the hot path', () => {
    const packet = tcp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 1, dport: 2, flags: SYN });
    const withOptions = new Uint8Array(packet.length + 8);
    withOptions.set(packet);
    withOptions.set([0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07], 40);
    withOptions[3] = withOptions.length;
    withOptions[32] = 0x70;
    const view = new PacketView();
    expect(decodeIp(view, withOptions, 0, withOptions.length)).toBe(DecodeStatus.ok);
    expect(tcpOptions(view)).toEqual([
      { kind: 2, data: Uint8Array.from([0x05, 0xb4]) },
      { kind: 3, data: Uint8Array.from([0x07]) },
    ]);
  });
});

describe('addresses and networks', () => {
  it('round-trips IPv6 text in RFC 5952 form', () => {
    for (const text of ['2001:db8::1', '::1', 'fe80::1:2', '2001:db8:0:1:1:1:1:1', '::', '::ffff:198.51.100.1']) {
      const bytes = parseAddress(text)!;
      expect(bytes).toHaveLength(16);
      expect(parseAddress(formatAddress(bytes, 0, 16))).toEqual(bytes);
    }
    expect(formatAddress(parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001')!, 0, 16)).toBe('2001:db8::1');
  });

  it('matches the default inside networks and rejects bad CIDRs with a clear message', () => {
    const inside = new CidrSet(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fd00::/8']);
    const is = (text: string) => inside.containsBytes(parseAddress(text)!);
    expect([is('10.1.2.3'), is('172.31.0.1'), is('172.32.0.1'), is('100.127.255.255'), is('100.128.0.0'), is('fd12::1'), is('fe80::1'), is('203.0.113.9')]).toEqual([
      true, true, false, true, false, true, false, false,
    ]);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(CidrError);
    expect(() => parseCidr('banana')).toThrow(/not an IPv4 or IPv6 network/);
    expect(new CidrSet(['0.0.0.0/0']).containsBytes(parseAddress('8.8.8.8')!)).toBe(true);
  });
});
