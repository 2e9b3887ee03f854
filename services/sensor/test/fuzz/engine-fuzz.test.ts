/**
 * A fast sample of the nightly fuzz run (`npm run fuzz`, bench/src/fuzz.ts): the same generator
 * (lab/src/synthetic/fuzz.ts) through the link layer, the decoder and the engine. Nothing may
 * throw past the decoder, and malformed input is counted.
 */
import { ACK, PSH, ethernet, fuzzEngine, fuzzFrames, ipv4Fragment, tcp, udp, withIpv4Options, withIpv6Extensions } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { LINKTYPE_ETHERNET, locateIp } from '../../src/capture/link.js';
import { DecodeStatus, IPPROTO_TCP, IPPROTO_UDP, PacketView, decodeIp } from '../../src/decode/packet.js';

function decoded(frame: Uint8Array, linkType = 101): { status: DecodeStatus; view: PacketView } {
  const view = new PacketView();
  const offset = locateIp(linkType, frame);
  return { status: decodeIp(view, frame, offset, frame.length), view };
}

describe('fuzz seeds reach the parts the simple cases skip', () => {
  it('IPv4 options, IPv6 extension headers and fragments decode as the real thing', () => {
    const head = tcp({ src: '192.168.1.5', dst: '203.0.113.9', sport: 40000, dport: 1214, flags: ACK | PSH, payload: 'GET / HTTP/1.1\r\n' });
    const withOptions = decoded(withIpv4Options(head, 10));
    expect(withOptions.status).toBe(DecodeStatus.ok);
    expect(withOptions.view).toMatchObject({ protocol: IPPROTO_TCP, srcPort: 40000, dstPort: 1214, payloadLength: 16 });
    const ping6 = udp({ src: 'fd00::5', dst: '2001:db8::9', sport: 3531, dport: 1214, payload: 'abcd' });
    const extended = decoded(withIpv6Extensions(ping6, [0, 60, 43]));
    expect(extended.status).toBe(DecodeStatus.ok);
    expect(extended.view).toMatchObject({ protocol: IPPROTO_UDP, srcPort: 3531, dstPort: 1214, payloadLength: 4 });
    expect(decoded(withIpv6Extensions(ping6, [0, 44], 0, true)).status).toBe(DecodeStatus.ok);
    expect(decoded(withIpv6Extensions(ping6, [44], 2, false)).status).toBe(DecodeStatus.laterFragment);
    expect(decoded(ipv4Fragment(head, 0, true)).status).toBe(DecodeStatus.ok);
    expect(decoded(ipv4Fragment(head, 3, false)).status).toBe(DecodeStatus.laterFragment);
    expect(decoded(ethernet(withIpv4Options(head, 2), [7, 9]), LINKTYPE_ETHERNET).view.srcPort).toBe(40000);
  });

  it('makes Ethernet frames, tagged ones among them, and HTTP heads over several segments', () => {
    const next = fuzzFrames(1);
    const frames = Array.from({ length: 5000 }, () => next());
    const ethernetFrames = frames.filter((frame) => frame.linkType === LINKTYPE_ETHERNET);
    expect(ethernetFrames.length).toBeGreaterThan(1000);
    expect(ethernetFrames.some((frame) => frame.data[12] === 0x81 && frame.data[13] === 0x00)).toBe(true);
    // A one-byte first segment `G`, as the split heads begin.
    expect(frames.some((frame) => frame.data.length > 0 && frame.data.at(-1) === 0x47 && decoded(frame.data, frame.linkType).view.payloadLength === 1)).toBe(true);
  });
});

describe('fuzz: decode and engine never throw', () => {
  it('survives 100,000 fuzzed frames, counting each once and every malformed one as malformed', () => {
    const report = fuzzEngine({ frames: 100_000, seed: 0x5eed });
    const engine = report.engine;
    expect(engine.packets).toBe(100_000);
    expect(engine.malformed).toBe(report.linkMalformed + report.decoded.malformed);
    expect(engine.notIp).toBe(report.notIp);
    expect(engine.laterFragments).toBe(report.decoded.laterFragment);
    expect(report.verdicts.accept + report.verdicts.drop).toBe(report.decoded.ok + report.decoded.malformed + report.decoded.laterFragment);
    // Every outcome was exercised, so the test really walked the parsers and the modules.
    expect(report.decoded.ok).toBeGreaterThan(10_000);
    expect(report.decoded.malformed).toBeGreaterThan(10_000);
    expect(report.decoded.laterFragment).toBeGreaterThan(100);
    expect(report.linkMalformed).toBeGreaterThan(100);
    expect(engine.evidence).toBeGreaterThan(100);
    expect(report.verdicts.drop).toBeGreaterThan(100);
    expect(report.events).toBeGreaterThan(0);
    // The flush ends every flow and gives every module buffer back.
    expect(report.flowsLeft).toBe(0);
    expect(report.moduleBufferBytesLeft).toBe(0);
  });
});
