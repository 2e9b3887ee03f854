import { describe, expect, it } from 'vitest';
import { CORRELATION_RULES, DEFAULT_RULES, OfflineCorrelation, TCP, UDP, type BatchObservations, type FlowObservation, type RulesConfig } from '../src/correlate/index.js';

const NO_BYTES = new Uint8Array(0);
const SITE = 'lab';

function flow(host: string, outsideIp: string, port: number, ts: number, extra: Partial<FlowObservation> = {}): FlowObservation {
  return {
    site: SITE, host: `${SITE}/${host}`, hostIp: host, hostBytes: NO_BYTES, insidePort: 40000,
    outsideIp, outsideBytes: NO_BYTES, port, endpoint: `${outsideIp}:${port}`, protocol: UDP,
    initiatorInside: true, answered: false, app: '', rules: [], firstSeenMs: ts, lastSeenMs: ts,
    packetsOut: 1, packetsIn: 0, bytesOut: 60, bytesIn: 0, droppedPackets: 0, dropped: false, ongoing: false,
    ...extra,
  };
}

function batch(flows: FlowObservation[], more: Partial<BatchObservations> = {}): BatchObservations {
  return { site: SITE, gateway: 'gw', sensor: `${SITE}/gw/0`, instance: 'i', sequence: 1, flows, clients: [], peers: [], skipped: 0, outOfRange: 0, invalidStrings: 0, ...more };
}

/** `count` unanswered UDP flows from `host` to distinct addresses in 198.18.0.0/15, one every `stepMs`. */
function udpSpray(host: string, count: number, startMs: number, stepMs: number): FlowObservation[] {
  return Array.from({ length: count }, (_, i) => flow(host, `198.18.${i >> 8}.${i & 255}`, 30000 + i, startMs + i * stepMs));
}

const T0 = 1_700_000_000_000;
const { udpFanout, tcpUdpPairs, blockedPeers } = DEFAULT_RULES.correlation.host;

describe('OfflineCorrelation: the brain\'s payload-free rules over observations in memory', () => {
  it('correlate/udp-fanout fires at the brain\'s threshold, not one endpoint below it', () => {
    const below = new OfflineCorrelation(DEFAULT_RULES);
    below.observe(batch(udpSpray('10.0.0.5', udpFanout.minEndpoints - 1, T0, 10)), T0 + 1000);
    expect(below.findings()).toEqual([]);

    const at = new OfflineCorrelation(DEFAULT_RULES);
    at.observe(batch(udpSpray('10.0.0.5', udpFanout.minEndpoints, T0, 10)), T0 + 1000);
    expect(at.findings()).toEqual([expect.objectContaining({ rule: CORRELATION_RULES.udpFanout, subject: 'host', target: `${SITE}/10.0.0.5`, count: udpFanout.minEndpoints, firedAtMs: T0 + 1000 })]);
  });

  it('counts only what is inside the host window: endpoints older than windowSeconds have left it', () => {
    const correlation = new OfflineCorrelation(DEFAULT_RULES);
    const half = Math.ceil(udpFanout.minEndpoints / 2);
    correlation.observe(batch(udpSpray('10.0.0.5', half, T0, 10)), T0 + 1000);
    const later = T0 + (DEFAULT_RULES.correlation.host.windowSeconds + 5) * 1000;
    correlation.observe(batch(udpSpray('10.0.0.5', half, later, 10).map((f) => ({ ...f, outsideIp: `203.0.113.${f.port % 250}`, endpoint: `203.0.113.${f.port % 250}:${f.port}` }))), later + 1000);
    expect(correlation.findings()).toEqual([]);
  });

  it('keeps the largest count per rule and host, and when it first fired', () => {
    const correlation = new OfflineCorrelation(DEFAULT_RULES);
    correlation.observe(batch(udpSpray('10.0.0.5', udpFanout.minEndpoints, T0, 10)), T0 + 1000);
    correlation.observe(batch(udpSpray('10.0.0.5', udpFanout.minEndpoints * 2, T0 + 2000, 10)), T0 + 5000);
    expect(correlation.findings()).toEqual([expect.objectContaining({ count: udpFanout.minEndpoints * 2, firedAtMs: T0 + 1000 })]);
  });

  it('correlate/tcp-udp-pairs: outside IPs reached over both transports, excluded ports left out', () => {
    const flows = Array.from({ length: tcpUdpPairs.minIps }, (_, i) => [flow('10.0.0.7', `203.0.113.${i + 1}`, 6346, T0, { protocol: TCP }), flow('10.0.0.7', `203.0.113.${i + 1}`, 6346, T0, { answered: true })]).flat();
    const dns = Array.from({ length: tcpUdpPairs.minIps }, (_, i) => [flow('10.0.0.8', `198.51.100.${i + 1}`, 53, T0, { protocol: TCP }), flow('10.0.0.8', `198.51.100.${i + 1}`, 53, T0, { answered: true })]).flat();
    const correlation = new OfflineCorrelation(DEFAULT_RULES);
    correlation.observe(batch([...flows, ...dns]), T0 + 1000);
    expect(correlation.findings().map((f) => [f.rule, f.target])).toEqual([[CORRELATION_RULES.tcpUdpPairs, `${SITE}/10.0.0.7`]]);
  });

  it('correlate/blocked-peers: peers the sensor learned count as blocked, for their transport only', () => {
    const peers = Array.from({ length: blockedPeers.minPeers }, (_, i) => ({ ip: `203.0.113.${i + 1}`, ipBytes: NO_BYTES, port: 6881, transport: 'udp' as const, protocol: 'bittorrent', via: 'bittorrent/dht-values', learnedFrom: '', tsMs: T0 }));
    const viaTcp = new OfflineCorrelation(DEFAULT_RULES);
    viaTcp.observe(batch(peers.map((p) => flow('10.0.0.9', p.ip, p.port, T0 + 10, { protocol: TCP })), { peers }), T0 + 1000);
    expect(viaTcp.findings()).toEqual([]);
    const viaUdp = new OfflineCorrelation(DEFAULT_RULES);
    viaUdp.observe(batch(peers.map((p) => flow('10.0.0.9', p.ip, p.port, T0 + 10)), { peers }), T0 + 1000);
    expect(viaUdp.findings()).toEqual([expect.objectContaining({ rule: CORRELATION_RULES.blockedPeers, target: `${SITE}/10.0.0.9`, count: blockedPeers.minPeers })]);
  });

  it('correlate/peer-fanout: an endpoint reached by known clients only while their locks last; it then counts as blocked', () => {
    const rules: RulesConfig = { ...DEFAULT_RULES, correlation: { ...DEFAULT_RULES.correlation, host: { ...DEFAULT_RULES.correlation.host, blockedPeers: { minPeers: 1 } } } };
    const clients = ['10.0.1.1', '10.0.1.2'].map((host) => ({ site: SITE, host: `${SITE}/${host}`, hostIp: host, hostBytes: NO_BYTES, protocol: 'fasttrack', rules: [], tsMs: T0 }));
    const toPeer = (host: string, ts: number) => flow(host, '203.0.113.50', 41000, ts, { protocol: TCP });

    const expired = new OfflineCorrelation(rules);
    expired.observe(batch([], { clients }), T0);
    const afterLocks = T0 + (DEFAULT_RULES.expiry.signature.hostSeconds + 1) * 1000;
    expired.observe(batch([toPeer('10.0.1.1', afterLocks), toPeer('10.0.1.2', afterLocks)]), afterLocks);
    expect(expired.findings()).toEqual([]);

    const locked = new OfflineCorrelation(rules);
    locked.observe(batch([], { clients }), T0);
    locked.observe(batch([toPeer('10.0.1.1', T0 + 10), toPeer('10.0.1.2', T0 + 10)]), T0 + 1000);
    expect(locked.findings()).toContainEqual(expect.objectContaining({ rule: CORRELATION_RULES.peerFanout, subject: 'endpoint', target: '203.0.113.50:41000', count: 2 }));
    // the endpoint is now blocked for both transports: a third host reaching it over UDP reached a blocked peer
    locked.observe(batch([flow('10.0.1.3', '203.0.113.50', 41000, T0 + 2000)]), T0 + 3000);
    expect(locked.findings()).toContainEqual(expect.objectContaining({ rule: CORRELATION_RULES.blockedPeers, target: `${SITE}/10.0.1.3` }));
  });
});
