import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import { CidrSet } from '../../src/decode/cidr.js';
import type { ClientEvent, FlowEvent, PeerEvent } from '../../src/events.js';
import { Batcher } from '../../src/uplink/batcher.js';
import { flowSummary, uplinkItem, type UplinkItem } from '../../src/uplink/summaries.js';

const INSIDE = new CidrSet(['192.168.0.0/16', 'fd00::/8']);

function flow(overrides: Partial<FlowEvent> = {}): FlowEvent {
  return {
    event: 'flow', letter: 't', ts: 2000, proto: 'tcp', src: '192.168.1.5', sport: 3531, dst: '203.0.113.9', dport: 1214,
    app: 'fasttrack', rules: ['ft-get'], verdict: 'drop', reason: 'signature', wouldDrop: false,
    packetsOut: 3, bytesOut: 180, packetsIn: 1, bytesIn: 60, droppedPackets: 2, answered: true, firstSeen: 1000, lastSeen: 1900, end: 'idle',
    ...overrides,
  };
}

describe('summaries', () => {
  it('maps an IPv4 flow byte-exactly (inside initiator)', () => {
    const bytes = p2pwall.v1.FlowSummary.encode(flowSummary(flow(), INSIDE)).finish();
    const expected = p2pwall.v1.FlowSummary.encode({
      insideIp: Uint8Array.of(192, 168, 1, 5), insidePort: 3531, outsideIp: Uint8Array.of(203, 0, 113, 9), outsidePort: 1214, protocol: 6, initiatorInside: true,
      firstSeenMs: 1000, lastSeenMs: 1900, packetsOut: 3, bytesOut: 180, packetsIn: 1, bytesIn: 60, answered: true, app: 'fasttrack', rules: ['ft-get'],
      verdict: p2pwall.v1.Verdict.VERDICT_DROP, reason: 'signature', droppedPackets: 2, wouldDrop: false, end: p2pwall.v1.FlowEnd.FLOW_END_IDLE,
    }).finish();
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    // field 1 (inside_ip): tag 0x0a, length 4, c0 a8 01 05; field 2: tag 0x10, varint 3531
    expect(Buffer.from(bytes).subarray(0, 6).toString('hex')).toBe('0a04c0a80105');
  });

  it('maps an IPv6 flow started from outside: inside/outside swapped, initiatorInside false', () => {
    const summary = flowSummary(flow({ proto: 'udp', src: '2001:db8::7', sport: 41477, dst: 'fd00::1:5', dport: 3531, app: null, verdict: 'accept', end: 'evicted' }), INSIDE);
    const decoded = p2pwall.v1.FlowSummary.decode(p2pwall.v1.FlowSummary.encode(summary).finish());
    expect(Buffer.from(decoded.insideIp).toString('hex')).toBe('fd000000000000000000000000010005');
    expect(Buffer.from(decoded.outsideIp).toString('hex')).toBe('20010db8000000000000000000000007');
    expect(decoded).toMatchObject({ insidePort: 3531, outsidePort: 41477, protocol: 17, initiatorInside: false, app: '', verdict: p2pwall.v1.Verdict.VERDICT_ACCEPT, end: p2pwall.v1.FlowEnd.FLOW_END_EVICTED });
    const bytes = Buffer.from(p2pwall.v1.FlowSummary.encode(summary).finish());
    expect(bytes.subarray(0, 18).toString('hex')).toBe('0a10fd000000000000000000000000010005');
  });

  it('marks an interim summary of a live flow FLOW_END_ONGOING, with the totals so far', () => {
    const summary = flowSummary(flow({ end: 'ongoing', packetsOut: 1, droppedPackets: 1, answered: false, app: null, rules: [], reason: 'learned-peer' }), INSIDE);
    const decoded = p2pwall.v1.FlowSummary.decode(p2pwall.v1.FlowSummary.encode(summary).finish());
    expect(decoded).toMatchObject({ end: p2pwall.v1.FlowEnd.FLOW_END_ONGOING, verdict: p2pwall.v1.Verdict.VERDICT_DROP, packetsOut: 1, droppedPackets: 1, reason: 'learned-peer', initiatorInside: true });
    // field 20 (end), varint 4: tag 0xa0 0x01.
    expect(Buffer.from(p2pwall.v1.FlowSummary.encode(summary).finish()).toString('hex').endsWith('a00104')).toBe(true);
  });

  it('maps client and peer events; lock and peer-refresh map to nothing', () => {
    const client: ClientEvent = { event: 'client', letter: 'c', ts: 5, host: '192.168.1.5', protocol: 'fasttrack', protocols: ['fasttrack'], evidence: [{ protocol: 'fasttrack', rule: 'r', packet: 4, flow: 'udp a > b', supporting: false, detail: 'network KaZaA' }], hostPackets: 9, msSinceFirstPacket: 3, lockedUntil: 120005, reidentified: false };
    const peer: PeerEvent = { event: 'peer', letter: 'p', ts: 6, ip: '2001:db8::9', port: 1214, transport: 'both', protocol: 'fasttrack', via: 'supernode-list', learnedFrom: '192.168.1.5', expiresAt: 99 };
    const c = uplinkItem(client, INSIDE) as { event: p2pwall.v1.ISensorEvent };
    const p = uplinkItem(peer, INSIDE) as { event: p2pwall.v1.ISensorEvent };
    const cBytes = p2pwall.v1.SensorEvent.encode(c.event).finish();
    const decodedClient = p2pwall.v1.SensorEvent.decode(cBytes);
    expect(decodedClient.kind).toBe('client');
    expect([...decodedClient.client!.host!]).toEqual([192, 168, 1, 5]);
    expect(decodedClient.client).toMatchObject({ protocol: 'fasttrack', tsMs: 5, lockedUntilMs: 120005, hostPackets: 9 });
    // what `analyze` prints of the match reaches the brain: rule, detail, flow and packet number
    expect(decodedClient.client!.evidence![0]).toMatchObject({ rule: 'r', detail: 'network KaZaA', flow: 'udp a > b', packet: 4 });
    const decodedPeer = p2pwall.v1.SensorEvent.decode(p2pwall.v1.SensorEvent.encode(p.event).finish());
    expect(Buffer.from(decodedPeer.peer!.ip!).toString('hex')).toBe('20010db8000000000000000000000009');
    expect([...decodedPeer.peer!.learnedFrom!]).toEqual([192, 168, 1, 5]);
    expect(decodedPeer.peer).toMatchObject({ port: 1214, via: 'supernode-list', tsMs: 6, expiresMs: 99, transport: p2pwall.v1.Transport.TRANSPORT_BOTH });
    for (const [transport, wire] of [['udp', p2pwall.v1.Transport.TRANSPORT_UDP], ['tcp', p2pwall.v1.Transport.TRANSPORT_TCP]] as const) {
      const item = uplinkItem({ ...peer, transport }, INSIDE) as { event: p2pwall.v1.ISensorEvent };
      expect(p2pwall.v1.SensorEvent.decode(p2pwall.v1.SensorEvent.encode(item.event).finish()).peer!.transport).toBe(wire);
    }
    expect(uplinkItem({ event: 'lock', ts: 1, host: '192.168.1.5', lockedUntil: 2 }, INSIDE)).toBeNull();
    expect(uplinkItem({ ...peer, event: 'peer-refresh' }, INSIDE)).toBeNull();
    expect(() => uplinkItem(flow({ src: 'nonsense' }), INSIDE)).toThrow(/flow src/);
  });
});

describe('batcher', () => {
  const sensor = { site: 's', gateway: 'g', queue: 0, instance: 'i' };
  const item = (n: number): UplinkItem => ({ flow: { insidePort: n } });

  it('emits when the batch holds maxFlows items, with sequence +1 per batch', () => {
    const batcher = new Batcher({ sensor, maxFlows: 3, maxDelayMs: 1000 });
    expect(batcher.add(item(1), 0)).toBeNull();
    expect(batcher.add({ event: { peer: { port: 1 } } }, 1)).toBeNull();
    const first = batcher.add(item(3), 2)!;
    expect(first).toMatchObject({ sensor, sequence: 1, createdMs: 2 });
    expect(first.flows).toHaveLength(2);
    expect(first.events).toHaveLength(1);
    expect(batcher.pending).toBe(0);
    for (let i = 0; i < 2; i++) batcher.add(item(i), 10);
    expect(batcher.add(item(9), 11)!.sequence).toBe(2);
  });

  it('emits by poll once the oldest item is maxDelayMs old, never earlier, never empty', () => {
    const batcher = new Batcher({ sensor, maxFlows: 500, maxDelayMs: 250 });
    expect(batcher.poll(0)).toBeNull();
    batcher.add(item(1), 100);
    batcher.add(item(2), 300);
    expect(batcher.dueMs).toBe(350);
    expect(batcher.poll(349)).toBeNull();
    const batch = batcher.poll(350)!;
    expect(batch).toMatchObject({ sequence: 1, createdMs: 350 });
    expect(batch.flows).toHaveLength(2);
    expect(batcher.poll(10_000)).toBeNull();
    batcher.add(item(3), 10_000);
    expect(batcher.poll(10_249)).toBeNull();
    expect(batcher.flush(10_001)!.sequence).toBe(2);
  });

  it('sends a detection within maxEventDelayMs while flow summaries may wait maxDelayMs', () => {
    const batcher = new Batcher({ sensor, maxDelayMs: 250, maxEventDelayMs: 20 });
    batcher.add(item(1), 0);
    expect(batcher.dueMs).toBe(250);
    batcher.add({ event: { peer: { port: 3531 } } }, 100);
    expect(batcher.dueMs).toBe(120);
    expect(batcher.poll(119)).toBeNull();
    const batch = batcher.poll(120)!;
    expect(batch.flows).toHaveLength(1);
    expect(batch.events).toHaveLength(1);
    batcher.add(item(2), 200);
    expect(batcher.dueMs).toBe(450);
  });

  it('defaults to 500 items, 250 ms, and 20 ms for detections', () => {
    const batcher = new Batcher({ sensor });
    expect([batcher.maxFlows, batcher.maxDelayMs, batcher.maxEventDelayMs]).toEqual([500, 250, 20]);
    let emitted = 0;
    for (let i = 0; i < 1499; i++) if (batcher.add(item(i), 0)) emitted++;
    expect(emitted).toBe(2);
    expect(batcher.pending).toBe(499);
  });
});
