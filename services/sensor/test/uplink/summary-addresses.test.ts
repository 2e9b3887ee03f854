import { describe, expect, it } from 'vitest';
import { CidrSet } from '../../src/decode/cidr.js';
import type { FlowEvent } from '../../src/events.js';
import { SummaryError, flowSummary } from '../../src/uplink/summaries.js';

const INSIDE = new CidrSet(['192.168.0.0/16', 'fd00::/8']);

function flow(src: string, dst: string): FlowEvent {
  return { event: 'flow', letter: null, ts: 5, proto: 'udp', src, sport: 1000, dst, dport: 2000, app: null, rules: [], verdict: 'accept', reason: 'clean', wouldDrop: false, packetsOut: 1, bytesOut: 60, packetsIn: 0, bytesIn: 0, droppedPackets: 0, answered: false, firstSeen: 5, lastSeen: 5, end: 'evicted' };
}

describe('flow summary addresses', () => {
  it('are the bytes of the text, IPv4 and IPv6', () => {
    const v4 = flowSummary(flow('192.168.1.5', '198.51.100.255'), INSIDE);
    expect(v4.insideIp).toEqual(Uint8Array.of(192, 168, 1, 5));
    expect(v4.outsideIp).toEqual(Uint8Array.of(198, 51, 100, 255));
    const v6 = flowSummary(flow('2001:db8::7', 'fd00::1'), INSIDE);
    expect(v6.insideIp).toEqual(Uint8Array.of(0xfd, ...Array<number>(14).fill(0), 1));
    expect(v6.outsideIp).toEqual(Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), 7));
    expect(v6.initiatorInside).toBe(false);
  });

  it('are refused when the text is not an address, as before the IPv4 fast path', () => {
    for (const bad of ['1.2.3.256', '01.2.3.4', '1.2.3', '1.2.3.4.5', '', 'x']) {
      expect(() => flowSummary(flow(bad, '198.51.100.1'), INSIDE), bad).toThrow(SummaryError);
    }
  });
});
