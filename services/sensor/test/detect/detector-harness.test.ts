import { describe, expect, it } from 'vitest';
import type { Detector } from '../../src/detect/detector.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn } from '../support/detector-harness.js';
import { udp } from '@p2pwall/lab';

const ENDS = { src: '10.0.0.5', dst: '203.0.113.7', sport: 3456, dport: 1214 };

/** Records what the flow looked like at each call. */
function spy(): Detector & { calls: { fromInside: boolean; out: number; in: number; first: number; slot: number }[] } {
  const calls: { fromInside: boolean; out: number; in: number; first: number; slot: number }[] = [];
  return {
    protocol: 'spy',
    calls,
    inspect(_packet, flow, fromInside, slot) {
      const direction = fromInside ? flow.out : flow.in;
      calls.push({ fromInside, out: flow.out.payloadPackets, in: flow.in.payloadPackets, first: direction.firstPayloadLength, slot });
      return null;
    },
  };
}

describe('DetectorHarness', () => {
  it('updates the counters before each call, and calls only for payload', () => {
    const detector = spy();
    const h = new DetectorHarness({ detectors: [detector] });
    const results = h.feedAll([tcpSyn(ENDS), ...tcpSegments('abcdef', { ...ENDS, cuts: [2] }), ...tcpSegments('xyz', reversed(ENDS))]);
    expect(results.map((result) => result.inspected)).toEqual([false, true, true, true]);
    expect(detector.calls).toEqual([
      { fromInside: true, out: 1, in: 0, first: 2, slot: 0 },
      { fromInside: true, out: 2, in: 0, first: 2, slot: 0 },
      { fromInside: false, out: 2, in: 1, first: 3, slot: 0 },
    ]);
    const flow = results[0]!.flow;
    expect(flow.startedFresh).toBe(true);
    expect(flow.initiatorInside).toBe(true);
    expect(flow.out.packets).toBe(3);
  });

  it('stops calling after the inspect window', () => {
    const detector = spy();
    const h = new DetectorHarness({ detectors: [detector], inspectPackets: 2 });
    h.feedAll([1, 2, 3].map(() => udp({ ...ENDS, payload: 'x' })));
    expect(detector.calls).toHaveLength(2);
  });

  it('takes the listed inside address as the inside end', () => {
    const h = new DetectorHarness({ detectors: [spy()], inside: ['10.0.0.5'] });
    const result = h.feed(udp({ ...reversed(ENDS), payload: 'x' }));
    expect(result.fromInside).toBe(false);
    expect(result.flow.initiatorInside).toBe(false);
    expect(result.flow.crossesBoundary).toBe(true);
    expect(h.context.flowLeadsToKnownPeer(result.flow)).toBe(false);
    h.addKnownPeer('203.0.113.7', 1214);
    expect(h.context.flowLeadsToKnownPeer(result.flow)).toBe(true);
  });

  it('labels the flow from evidence', () => {
    const detector: Detector = { protocol: 'demo', inspect: () => ({ protocol: 'demo', rule: 'r', supporting: false }) };
    const h = new DetectorHarness({ detectors: [detector] });
    const result = h.feed(udp({ ...ENDS, payload: 'x' }));
    expect(result.flow.app).toBe('demo');
    expect(result.flow.rules).toEqual(['r']);
  });
});
