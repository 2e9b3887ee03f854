import { afterAll, describe, expect, it } from 'vitest';
import {
  DLT_RAW,
  DLT_RAW_OPENBSD,
  LINK_MALFORMED,
  LINK_NOT_IP,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  MAX_VLAN_TAGS,
  isSupportedLinkType,
  linkTypeName,
  locateIp,
} from '../../src/capture/link.js';
import { openCapture } from '../../src/capture/open.js';
import { writePcapng, type PcapngInterfaceDescription, type PcapngRecord } from '../../src/capture/pcap-writer.js';
import { ethernet, tcp, udp } from '@p2pwall/lab';
import { ETHERTYPE_ARP, concat, decodeFrame, ethernetTagged, nullLoopback, pppoe, readAll, scratchDirectory, sll, sll2 } from './frames.js';

const v4 = tcp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 40000, dport: 1214, payload: 'GIVE 1' });
const v6 = udp({ src: '2001:db8::1', dst: '2001:db8:ffff::2', sport: 6881, dport: 51413, payload: 'd1:ad' });
const V4_ENDS = { src: '10.0.0.1', dst: '198.51.100.7', sport: 40000, dport: 1214, protocol: 6 };
const V6_ENDS = { src: '2001:db8::1', dst: '2001:db8:ffff::2', sport: 6881, dport: 51413, protocol: 17 };

const dot1q = (id: number) => ({ tpid: 0x8100, id });
const dot1ad = (id: number) => ({ tpid: 0x88a8, id });
const oldQinQ = (id: number) => ({ tpid: 0x9100, id });

/** Every supported way of carrying IP, each with the IP header's expected offset. */
const framings: { name: string; linkType: number; frame: (ip: Uint8Array) => Uint8Array; offset: number }[] = [
  { name: 'Ethernet', linkType: LINKTYPE_ETHERNET, frame: (ip) => ethernet(ip), offset: 14 },
  { name: 'Ethernet + 802.1Q', linkType: LINKTYPE_ETHERNET, frame: (ip) => ethernet(ip, [42]), offset: 18 },
  { name: 'Ethernet QinQ (802.1ad + 802.1Q)', linkType: LINKTYPE_ETHERNET, frame: (ip) => ethernet(ip, [100, 200]), offset: 22 },
  { name: 'Ethernet QinQ (0x9100 + 802.1Q)', linkType: LINKTYPE_ETHERNET, frame: (ip) => ethernetTagged(ip, [oldQinQ(7), dot1q(8)]), offset: 22 },
  { name: 'Ethernet, 8 stacked tags', linkType: LINKTYPE_ETHERNET, frame: (ip) => ethernetTagged(ip, Array.from({ length: MAX_VLAN_TAGS }, (_, i) => dot1q(i))), offset: 14 + 4 * MAX_VLAN_TAGS },
  { name: 'Ethernet + 802.1Q + PPPoE', linkType: LINKTYPE_ETHERNET, frame: (ip) => pppoe(ip, [dot1q(421), dot1q(785)]), offset: 14 + 8 + 8 },
  { name: 'RAW (101)', linkType: LINKTYPE_RAW, frame: (ip) => ip, offset: 0 },
  { name: 'DLT_RAW (12)', linkType: DLT_RAW, frame: (ip) => ip, offset: 0 },
  { name: 'DLT_RAW on OpenBSD (14)', linkType: DLT_RAW_OPENBSD, frame: (ip) => ip, offset: 0 },
  { name: 'Linux SLL', linkType: LINKTYPE_LINUX_SLL, frame: (ip) => sll(ip), offset: 16 },
  { name: 'Linux SLL + 802.1Q', linkType: LINKTYPE_LINUX_SLL, frame: (ip) => sll(ip, [dot1q(5)]), offset: 20 },
  { name: 'Linux SLL2', linkType: LINKTYPE_LINUX_SLL2, frame: (ip) => sll2(ip), offset: 20 },
  { name: 'Linux SLL2 + QinQ', linkType: LINKTYPE_LINUX_SLL2, frame: (ip) => sll2(ip, [dot1ad(1), dot1q(2)]), offset: 28 },
];

describe('locateIp + decodeIp', () => {
  for (const framing of framings) {
    it(`${framing.name}: reads back addresses and ports, IPv4 and IPv6`, () => {
      for (const [ip, ends] of [
        [v4, V4_ENDS],
        [v6, V6_ENDS],
      ] as const) {
        const frame = framing.frame(ip);
        expect(locateIp(framing.linkType, frame)).toBe(framing.offset);
        expect(decodeFrame(framing.linkType, frame)).toEqual(ends);
      }
    });
  }

  it('raw IPv4 (228) and raw IPv6 (229)', () => {
    expect(decodeFrame(LINKTYPE_IPV4, v4)).toEqual(V4_ENDS);
    expect(decodeFrame(LINKTYPE_IPV6, v6)).toEqual(V6_ENDS);
  });

  it('BSD loopback (NULL and LOOP): AF_INET and every AF_INET6, in either byte order', () => {
    for (const linkType of [LINKTYPE_NULL, LINKTYPE_LOOP]) {
      for (const littleEndian of [true, false]) {
        expect(decodeFrame(linkType, nullLoopback(v4, 2, littleEndian))).toEqual(V4_ENDS);
        for (const family of [24, 28, 30]) expect(decodeFrame(linkType, nullLoopback(v6, family, littleEndian))).toEqual(V6_ENDS);
        // AF_UNIX, AF_APPLETALK: not IP.
        expect(locateIp(linkType, nullLoopback(v4, 1, littleEndian))).toBe(LINK_NOT_IP);
        expect(locateIp(linkType, nullLoopback(v4, 16, littleEndian))).toBe(LINK_NOT_IP);
      }
    }
  });
});

describe('locateIp: frames without IP', () => {
  const arp = new Uint8Array(28);

  it('says NOT_IP for ARP, LLDP, 802.3 length frames, PPP control and other ethertypes', () => {
    expect(locateIp(LINKTYPE_ETHERNET, ethernetTagged(arp, [], ETHERTYPE_ARP))).toBe(LINK_NOT_IP);
    expect(locateIp(LINKTYPE_ETHERNET, ethernetTagged(arp, [dot1q(3)], ETHERTYPE_ARP))).toBe(LINK_NOT_IP);
    expect(locateIp(LINKTYPE_ETHERNET, ethernetTagged(new Uint8Array(40), [], 0x88cc))).toBe(LINK_NOT_IP);
    // An 802.3 frame: a length (here 38) where the ethertype would be, then LLC (STP).
    expect(locateIp(LINKTYPE_ETHERNET, ethernetTagged(concat([0x42, 0x42, 0x03], new Uint8Array(35)), [], 38))).toBe(LINK_NOT_IP);
    const lcp = pppoe(v4);
    lcp.set([0xc0, 0x21], 20);
    expect(locateIp(LINKTYPE_ETHERNET, lcp)).toBe(LINK_NOT_IP);
    const sllArp = sll(v4);
    sllArp.set([0x08, 0x06], 14);
    expect(locateIp(LINKTYPE_LINUX_SLL, sllArp)).toBe(LINK_NOT_IP);
    const sll2Arp = sll2(v4);
    sll2Arp.set([0x08, 0x06], 0);
    expect(locateIp(LINKTYPE_LINUX_SLL2, sll2Arp)).toBe(LINK_NOT_IP);
  });

  it('says MALFORMED for link headers cut short, tag stacks too deep, and unknown link types', () => {
    const whole = ethernet(v4, [10, 20]);
    for (const length of [0, 4, 13, 14 + 3, 18 + 3]) expect(locateIp(LINKTYPE_ETHERNET, whole.subarray(0, length))).toBe(LINK_MALFORMED);
    const tooDeep = ethernetTagged(v4, Array.from({ length: MAX_VLAN_TAGS + 1 }, (_, i) => dot1q(i)));
    expect(locateIp(LINKTYPE_ETHERNET, tooDeep)).toBe(LINK_MALFORMED);
    expect(locateIp(LINKTYPE_ETHERNET, pppoe(v4).subarray(0, 14 + 7))).toBe(LINK_MALFORMED);
    expect(locateIp(LINKTYPE_LINUX_SLL, sll(v4).subarray(0, 15))).toBe(LINK_MALFORMED);
    expect(locateIp(LINKTYPE_LINUX_SLL, sll(v4, [dot1q(1)]).subarray(0, 18))).toBe(LINK_MALFORMED);
    expect(locateIp(LINKTYPE_LINUX_SLL2, sll2(v4).subarray(0, 19))).toBe(LINK_MALFORMED);
    expect(locateIp(LINKTYPE_NULL, Uint8Array.of(2, 0, 0))).toBe(LINK_MALFORMED);
    expect(locateIp(LINKTYPE_RAW, new Uint8Array(0))).toBe(LINK_MALFORMED);
    // IEEE 802.11 radiotap: a real link type we do not read.
    expect(locateIp(127, v4)).toBe(LINK_MALFORMED);
    expect(isSupportedLinkType(127)).toBe(false);
    expect(isSupportedLinkType(LINKTYPE_LINUX_SLL2)).toBe(true);
    expect(linkTypeName(127)).toBe('link type 127');
    expect(linkTypeName(LINKTYPE_LINUX_SLL)).toBe('Linux cooked (SLL)');
  });

  it('leaves a complete link header with nothing after it to decodeIp (which calls it malformed)', () => {
    expect(locateIp(LINKTYPE_ETHERNET, ethernet(v4).subarray(0, 14))).toBe(14);
  });
});

describe('link types through a capture file', () => {
  const scratch = scratchDirectory();
  afterAll(() => scratch.remove());

  it('every framing on its own interface of one pcapng reads back and decodes', () => {
    const all = [...framings, { name: 'IPv4 (228)', linkType: LINKTYPE_IPV4, frame: (ip: Uint8Array) => ip, offset: 0 }, { name: 'NULL', linkType: LINKTYPE_NULL, frame: (ip: Uint8Array) => nullLoopback(ip, 2, true), offset: 4 }];
    const interfaces: PcapngInterfaceDescription[] = all.map((framing) => ({ linkType: framing.linkType }));
    const packets: PcapngRecord[] = all.map((framing, i) => ({ interfaceIndex: i, ts: 1_700_000_000_000 + i, data: framing.frame(v4) }));
    const path = scratch.path('all-link-types.pcapng');
    writePcapng(path, interfaces, packets);
    const source = openCapture(path);
    const read = readAll(source);
    source.close();
    expect(read).toHaveLength(all.length);
    read.forEach((packet, i) => {
      expect(packet.linkType).toBe(all[i]!.linkType);
      expect(decodeFrame(packet.linkType, packet.data)).toEqual(V4_ENDS);
    });
  });
});
