import { ACK, TcpConversation, hashRequest, tcp } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/engine.js';
import type { FlowEvent } from '../../src/events.js';
import { CLIENT, Gateway, OTHER_HOST, PEER, T0, ping, syn } from '../support/gateway.js';

const INTERIM = { interimMs: 10_000 };
const SHARED_PEER = { protocol: 'shared', via: 'shared:signature', learnedFrom: null, learnedAt: T0, expiresAt: T0 + 3600_000 };

const flowEvents = (gw: Gateway): FlowEvent[] => gw.of('flow');
const ongoing = (gw: Gateway): FlowEvent[] => flowEvents(gw).filter((event) => event.end === 'ongoing');

/** A data segment of an established connection (no handshake needed: the engine keys by 5-tuple). */
const segment = (from: 'inside' | 'outside', ms: number, gw: Gateway, dport = 8080): Verdict => {
  const packet =
    from === 'inside'
      ? tcp({ src: OTHER_HOST, dst: '198.51.100.80', sport: 45000, dport, flags: ACK, payload: 'x'.repeat(100) })
      : tcp({ src: '198.51.100.80', dst: OTHER_HOST, sport: dport, dport: 45000, flags: ACK, payload: 'y'.repeat(100) });
  return gw.send(packet, ms);
};

describe('interim flow reports (interimMs)', () => {
  it('are off by default: a flow is reported once, when it ends (the analyze path)', () => {
    const gw = new Gateway();
    gw.engine.loadPeer(PEER.ip, PEER.port, 'both', SHARED_PEER);
    expect(gw.send(syn(OTHER_HOST, PEER.ip, PEER.port))).toBe(Verdict.drop);
    for (let s = 1; s <= 40; s++) segment(s % 2 ? 'inside' : 'outside', s * 1000, gw);
    expect(flowEvents(gw)).toEqual([]);
    expect(gw.flows(41_000).map((event) => event.end)).toEqual(['flushed', 'flushed']);
  });

  it('report an attempt to a blocked peer at once, then its retries once per interval, then its end', () => {
    const gw = new Gateway(INTERIM);
    gw.engine.loadPeer(PEER.ip, PEER.port, 'both', SHARED_PEER);
    expect(gw.send(syn(OTHER_HOST, PEER.ip, PEER.port))).toBe(Verdict.drop);
    // Within the same judgeIp call: nothing waits for a timer.
    expect(flowEvents(gw)).toEqual([
      expect.objectContaining({ end: 'ongoing', letter: 't', src: OTHER_HOST, dst: PEER.ip, dport: PEER.port, verdict: 'drop', reason: 'learned-peer', packetsOut: 1, droppedPackets: 1, answered: false, ts: T0 }),
    ]);
    // SYN retransmissions: the flow changed, but its next report waits for the interval.
    gw.send(syn(OTHER_HOST, PEER.ip, PEER.port), 1000);
    gw.send(syn(OTHER_HOST, PEER.ip, PEER.port), 3000);
    gw.engine.housekeeping(T0 + 10_999);
    expect(flowEvents(gw)).toHaveLength(1);
    gw.engine.housekeeping(T0 + 11_000);
    expect(flowEvents(gw)).toHaveLength(2);
    expect(flowEvents(gw)[1]).toMatchObject({ end: 'ongoing', packetsOut: 3, droppedPackets: 3, firstSeen: T0, lastSeen: T0 + 3000, ts: T0 + 11_000 });
    // Nothing new: no more interim reports; the end report comes at the idle timeout.
    for (let s = 12; s < 300; s += 7) gw.engine.housekeeping(T0 + s * 1000);
    expect(flowEvents(gw)).toHaveLength(2);
    gw.engine.housekeeping(T0 + 303_001);
    expect(flowEvents(gw).map((event) => event.end)).toEqual(['ongoing', 'ongoing', 'idle']);
    expect(flowEvents(gw)[2]).toMatchObject({ droppedPackets: 3, verdict: 'drop' });
  });

  it('report a live flow every interval while it changes, with totals so far, and nothing while it is quiet', () => {
    const gw = new Gateway(INTERIM);
    for (let s = 0; s <= 35; s++) segment(s % 2 ? 'outside' : 'inside', s * 1000, gw);
    // The packet of second 10 is judged after the housekeeping that reports the first ten.
    const reports = ongoing(gw);
    expect(reports.map((event) => event.ts - T0)).toEqual([10_000, 20_000, 30_000]);
    expect(reports.map((event) => event.packetsOut + event.packetsIn)).toEqual([10, 20, 30]);
    expect(reports.every((event) => event.verdict === 'accept' && event.letter === null && event.firstSeen === T0)).toBe(true);
    // Quiet from 35 s on: one report of what changed since 30 s, then none.
    for (let s = 36; s < 200; s++) gw.engine.housekeeping(T0 + s * 1000);
    expect(ongoing(gw).map((event) => event.ts - T0)).toEqual([10_000, 20_000, 30_000, 40_000]);
    expect(ongoing(gw)[3]).toMatchObject({ packetsOut: 18, packetsIn: 18, lastSeen: T0 + 35_000 });
    expect(gw.flows(200_000).map((event) => event.end)).toEqual(['ongoing', 'ongoing', 'ongoing', 'ongoing', 'flushed']);
  });

  it('leave flows that stay inside (or outside) out, and report only flows that end by their end', () => {
    const gw = new Gateway(INTERIM);
    for (let s = 0; s <= 30; s++) gw.send(tcp({ src: CLIENT, dst: OTHER_HOST, sport: 50000, dport: 8080, flags: ACK, payload: 'x' }), s * 1000);
    expect(ongoing(gw)).toEqual([]);
    // A flow that goes idle before its interval is reported once, by its end.
    const short = new Gateway({ ...INTERIM, flowTimeouts: { tcp: 5000, udp: 5000, other: 5000 } });
    segment('inside', 0, short);
    short.engine.housekeeping(T0 + 5001);
    short.engine.housekeeping(T0 + 20_000);
    expect(flowEvents(short).map((event) => event.end)).toEqual(['idle']);
  });

  it('report a signature drop at once, after the client and peer events of the same packet', () => {
    const gw = new Gateway(INTERIM);
    expect(gw.send(ping())).toBe(Verdict.drop);
    expect(gw.events.map((event) => event.event)).toEqual(['client', 'peer', 'flow']);
    expect(ongoing(gw)[0]).toMatchObject({ letter: 'u', app: 'fasttrack', rules: ['fasttrack/udp-ping'], reason: 'signature', droppedPackets: 1 });
  });

  it('report a would-be drop at once in monitor mode, and a time-lock drop like any other', () => {
    const monitor = new Gateway({ ...INTERIM, monitor: true });
    monitor.engine.loadPeer(PEER.ip, PEER.port, 'both', SHARED_PEER);
    expect(monitor.send(syn(OTHER_HOST, PEER.ip, PEER.port))).toBe(Verdict.accept);
    expect(ongoing(monitor)).toEqual([expect.objectContaining({ letter: 'T', verdict: 'accept', wouldDrop: true, reason: 'learned-peer' })]);

    const gw = new Gateway(INTERIM);
    gw.engine.lockHost(CLIENT, T0 + 60_000);
    expect(gw.send(syn(CLIENT, '198.51.100.99', 6346), 10)).toBe(Verdict.drop);
    expect(ongoing(gw)).toEqual([expect.objectContaining({ reason: 'time-lock', droppedPackets: 1 })]);
  });

  it('give each report its own copy of the rules, which a live flow may still extend', () => {
    const gw = new Gateway(INTERIM);
    const download = new TcpConversation(CLIENT, 42000, '203.0.113.200', 2121);
    for (const packet of [download.syn(), download.synAck(), download.ack()]) gw.send(packet);
    gw.engine.housekeeping(T0 + 10_000);
    const [early] = ongoing(gw);
    expect(early!.rules).toEqual([]);
    for (const packet of download.send(true, hashRequest({}))) gw.send(packet, 11_000);
    expect(early!.rules).toEqual([]);
    // The request carried the signature: its first drop is reported at once.
    expect(ongoing(gw)).toHaveLength(2);
    expect(ongoing(gw)[1]!.rules).toContain('fasttrack/http-hash-request');
  });

  it('keep the interim queue bounded by the flows that changed, whatever the traffic', () => {
    const gw = new Gateway({ ...INTERIM, maxFlows: 1000 });
    // 20,000 short-lived flows through a table of 1000: evicted flows leave stale queue entries.
    for (let i = 0; i < 20_000; i++) gw.send(syn(OTHER_HOST, `198.18.${i >> 8}.${i & 0xff}`, 6000, 1024 + (i % 60_000)), i);
    expect(gw.engine.flows.size).toBe(1000);
    // At most the flows that changed within the last interval (plus the housekeeping second).
    expect(gw.engine.flows.changedQueueLength).toBeLessThanOrEqual(11_000);
    gw.engine.housekeeping(T0 + 40_000);
    expect(gw.engine.flows.changedQueueLength).toBe(0);
    expect(ongoing(gw)).toHaveLength(1000);
  });

  it('refuses a negative interval', () => {
    expect(() => new Gateway({ interimMs: -1 })).toThrow(/interimMs/);
  });
});
