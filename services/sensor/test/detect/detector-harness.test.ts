import { describe, expect, it } from 'vitest';
import type { ProtocolModule } from '../../src/detect/module.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn } from '../support/detector-harness.js';
import { udp } from '@p2pwall/lab';

const ENDS = { src: '10.0.0.5', dst: '203.0.113.7', sport: 3456, dport: 1214 };

interface Call {
  fromInside: boolean;
  out: number;
  in: number;
  first: number;
  concluded: boolean;
}

/** Records what the flow looked like at each call; finds `demo/r` in payloads that start with `!`. */
function spy(transports: ProtocolModule['transports'] = ['tcp', 'udp']): ProtocolModule & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    name: 'demo',
    transports,
    priority: 1,
    inspectPackets: 16,
    rules: ['demo/r'],
    calls,
    inspect(packet, flow, fromInside, memory) {
      calls.push({ fromInside, out: flow.outPayloadPackets, in: flow.inPayloadPackets, first: fromInside ? flow.outFirstPayloadLength : flow.inFirstPayloadLength, concluded: memory.concluded });
      return packet.buf[packet.payloadOffset] === 0x21 ? { rule: 'demo/r', supporting: false, transport: 'udp' } : null;
    },
  };
}

describe('DetectorHarness (the real engine under a test tap)', () => {
  it('updates the counters before each call, and calls only for payload', () => {
    const module = spy();
    const h = new DetectorHarness({ detectors: [module] });
    const results = h.feedAll([tcpSyn(ENDS), ...tcpSegments('abcdef', { ...ENDS, cuts: [2] }), ...tcpSegments('xyz', reversed(ENDS))]);
    expect(results.map((result) => result.inspected)).toEqual([false, true, true, true]);
    expect(module.calls).toEqual([
      { fromInside: true, out: 1, in: 0, first: 2, concluded: false },
      { fromInside: true, out: 2, in: 0, first: 2, concluded: false },
      { fromInside: false, out: 2, in: 1, first: 3, concluded: false },
    ]);
    const flow = results[0]!.flow;
    expect(flow.startedFresh).toBe(true);
    expect(flow.initiatorInside).toBe(true);
    expect(flow.outPackets).toBe(3);
  });

  it('stops calling after the inspect window, and only for the transports the module reads', () => {
    const module = spy();
    new DetectorHarness({ detectors: [module], inspectPackets: 2 }).feedAll([1, 2, 3].map(() => udp({ ...ENDS, payload: 'x' })));
    expect(module.calls).toHaveLength(2);
    const udpOnly = spy(['udp']);
    new DetectorHarness({ detectors: [udpOnly] }).feedAll(tcpSegments('abc', ENDS));
    expect(udpOnly.calls).toHaveLength(0);
  });

  it('takes the listed inside address as the inside end', () => {
    const h = new DetectorHarness({ detectors: [spy()], inside: ['10.0.0.5'] });
    const result = h.feed(udp({ ...reversed(ENDS), payload: 'x' }));
    expect(result.fromInside).toBe(false);
    expect(result.flow.initiatorInside).toBe(false);
    expect(result.flow.crossesBoundary).toBe(true);
  });

  it('labels the flow from accepted evidence, and tells the module it concluded', () => {
    const module = spy();
    const h = new DetectorHarness({ detectors: [module] });
    const result = h.feed(udp({ ...ENDS, payload: '!' }));
    expect(result.seen).toEqual([{ protocol: 'demo', evidence: { rule: 'demo/r', supporting: false, transport: 'udp' }, accepted: true }]);
    expect(result.flow.app).toBe('demo');
    expect(result.flow.rules).toEqual(['demo/r']);
    h.feed(udp({ ...ENDS, payload: 'x' }));
    expect(module.calls.map((call) => call.concluded)).toEqual([false, true]);
  });

  it('shows evidence the engine refused: unsolicited from outside', () => {
    const h = new DetectorHarness({ detectors: [spy()], inside: ['10.0.0.5'] });
    const result = h.feed(udp({ ...reversed(ENDS), payload: '!' }));
    expect(result.seen.map((entry) => entry.accepted)).toEqual([false]);
    expect(result.flow.app).toBeNull();
  });
});
