import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import { DetectionCounts } from '../../src/detect/detection-counts.js';
import type { EngineEvent, FlowEvent } from '../../src/events.js';
import { EventTally } from '../../src/telemetry/event-tally.js';
import { propagationSample } from '../../src/telemetry/propagation.js';
import { blocklistState, rulesState, SENSOR_COMPONENTS } from '../../src/telemetry/readiness.js';

const flow = (end: FlowEvent['end']): FlowEvent => ({
  event: 'flow', letter: null, ts: 0, proto: 'udp', src: '192.168.1.5', sport: 1, dst: '203.0.113.1', dport: 2, app: null, rules: [], verdict: 'accept', reason: 'clean',
  wouldDrop: false, packetsOut: 1, bytesOut: 1, packetsIn: 0, bytesIn: 0, droppedPackets: 0, answered: false, firstSeen: 0, lastSeen: 0, end,
});
const peer = (via: string, kind: 'peer' | 'peer-refresh' = 'peer', protocol = 'fasttrack'): EngineEvent => ({ event: kind, letter: 'p', ts: 0, ip: '203.0.113.1', port: 1, transport: 'both', protocol, via, learnedFrom: null, expiresAt: 1 });
const client = (reidentified: boolean, protocol = 'fasttrack'): EngineEvent => ({ event: 'client', letter: 'c', ts: 0, host: '192.168.1.5', protocol, protocols: [protocol], evidence: [], hostPackets: 1, msSinceFirstPacket: 0, lockedUntil: 1, reidentified });

describe('event tally', () => {
  it('counts new clients by protocol, new peers by protocol and via, and flow ends by reason; ignores refreshes, locks and interim reports', () => {
    const tally = new EventTally();
    const events: EngineEvent[] = [
      client(false), client(true), client(false, 'bittorrent'),
      peer('fasttrack/udp-ping'), peer('fasttrack/udp-ping'), peer('fasttrack/x-kazaa-supernodeip'), peer('fasttrack/udp-ping', 'peer-refresh'),
      { event: 'lock', ts: 0, host: '192.168.1.5', lockedUntil: 5 },
      flow('idle'), flow('idle'), flow('evicted'), flow('flushed'), flow('ongoing'),
    ];
    for (const event of events) tally.observe(event);
    expect(Object.fromEntries(tally.clientsIdentified)).toEqual({ fasttrack: 1, bittorrent: 1 });
    expect(Object.fromEntries(tally.peersLearned.get('fasttrack')!)).toEqual({ 'fasttrack/udp-ping': 2, 'fasttrack/x-kazaa-supernodeip': 1 });
    expect(Object.fromEntries(tally.flowsEnded)).toEqual({ idle: 2, capacity: 1, shutdown: 1 });
  });
});

describe('detection counts', () => {
  it('counts by protocol and rule', () => {
    const counts = new DetectionCounts();
    counts.add('fasttrack', 'fasttrack/udp-ping');
    counts.add('fasttrack', 'fasttrack/udp-ping');
    counts.add('fasttrack', 'fasttrack/give-push');
    counts.add('bittorrent', 'bittorrent/handshake');
    const seen: string[] = [];
    counts.forEach((protocol, rule, count) => seen.push(`${protocol} ${rule}=${count}`));
    expect(seen).toEqual(['fasttrack fasttrack/udp-ping=2', 'fasttrack fasttrack/give-push=1', 'bittorrent bittorrent/handshake=1']);
  });
});

describe('propagation sample', () => {
  const started = 1_000_000;
  const decision = (overrides: Partial<p2pwall.v1.IDecision>): p2pwall.v1.IDecision => ({ id: 'd', origin: p2pwall.v1.Origin.ORIGIN_SIGNATURE, createdMs: started + 10, evidence: { lastSeenMs: started + 5 }, ...overrides });

  it('measures from the evidence\'s last sighting to the time applied, in seconds, by origin', () => {
    expect(propagationSample(decision({}), started + 42, started)).toEqual({ origin: 'signature', seconds: 0.037 });
    expect(propagationSample(decision({ origin: p2pwall.v1.Origin.ORIGIN_CORRELATION }), started + 1005, started)).toEqual({ origin: 'correlation', seconds: 1 });
    expect(propagationSample(decision({ origin: 99 as p2pwall.v1.Origin }), started + 5, started)?.origin).toBe('unknown');
  });

  it('uses the creation time when there is no evidence time (a manual decision)', () => {
    expect(propagationSample(decision({ origin: p2pwall.v1.Origin.ORIGIN_MANUAL, evidence: null }), started + 30, started)).toEqual({ origin: 'manual', seconds: 0.02 });
    expect(propagationSample(decision({ evidence: { lastSeenMs: 0 } }), started + 30, started)?.seconds).toBe(0.02);
  });

  it('counts a clock behind the detecting sensor\'s as 0, and skips decisions older than this process or without any time', () => {
    expect(propagationSample(decision({}), started + 1, started)).toEqual({ origin: 'signature', seconds: 0 });
    expect(propagationSample(decision({ evidence: { lastSeenMs: started - 1 } }), started + 5, started)).toBeNull();
    expect(propagationSample(decision({ evidence: null, createdMs: 0 }), started + 5, started)).toBeNull();
  });
});

describe('readiness', () => {
  it('waits for the queue, the rules and the blocklist; never for NATS or Redis connectivity', () => {
    expect([...SENSOR_COMPONENTS]).toEqual(['nfqueue', 'rules', 'blocklist']);
    expect(rulesState(true)).toEqual({ ok: true, detail: 'installed' });
    expect(rulesState(false).ok).toBe(true);
    expect(blocklistState(false, null).ok).toBe(true);
    expect(blocklistState(true, null)).toEqual({ ok: false, detail: 'Redis unreachable and no snapshot file: waiting for Redis' });
    expect(blocklistState(true, 'file').ok).toBe(true);
    expect(blocklistState(true, 'redis').ok).toBe(true);
  });
});
