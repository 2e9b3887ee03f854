import { parseEndpointKey } from './address.js';
import type { CorrelationConfig } from './config.js';
import { TCP, UDP, type BatchObservations } from './observe.js';
import { ANSWERED, parseWindowMember, windowMember, type Mark, type TimedSet } from './window.js';

/**
 * The correlation rules (pure): which state a batch adds, and what a state implies.
 *
 * - `corr.peer-fanout`: an outside endpoint reached, with P2P evidence, by ≥ fanout.minHosts
 *   distinct inside hosts (site/ip, across gateways and sites) within fanout.windowSeconds. A flow
 *   carries P2P evidence when a detector named its app, or when its inside host is a known client
 *   (identified in the same batch, or under an active host lock) and it went to a high port
 *   (≥ fanout.highPortMin) outside the excluded dual-service ports.
 * - `corr.udp-fanout`: within host.windowSeconds the host reached ≥ udpFanout.minEndpoints distinct
 *   UDP endpoints on high ports, and ≥ udpFanout.unansweredRatio of them never answered.
 * - `corr.tcp-udp-pairs`: ≥ tcpUdpPairs.minIps distinct outside IPs reached over both TCP and UDP
 *   (flows to tcpUdpPairs.excludePorts ignored: DNS, NTP, NetBIOS, SMB, HTTPS/QUIC).
 * - `corr.blocked-peers`: ≥ blockedPeers.minPeers distinct outside endpoints the blocklist already
 *   blocks (endpoint or whole-IP decisions), whatever the protocol or payload.
 * Only flows the inside host started count for the windows and fan-out.
 */

export interface Finding {
  rule: 'corr.peer-fanout' | 'corr.udp-fanout' | 'corr.tcp-udp-pairs' | 'corr.blocked-peers';
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  detail: string;
}

export interface EndpointAdditions {
  ip: string;
  ipBytes: Uint8Array;
  port: number;
  additions: [string, Mark][];
}

export interface HostAdditions {
  site: string;
  hostIp: string;
  hostBytes: Uint8Array;
  additions: [string, Mark][];
}

function isCounted(protocol: number): boolean {
  return protocol === TCP || protocol === UDP;
}

/** Endpoint → the inside hosts this batch adds to its fan-out set. */
export function endpointAdditions(obs: BatchObservations, knownClients: ReadonlySet<string>, config: CorrelationConfig): Map<string, EndpointAdditions> {
  const clients = new Set([...knownClients, ...obs.clients.map((c) => c.host)]);
  const excluded = new Set(config.host.tcpUdpPairs.excludePorts);
  const out = new Map<string, EndpointAdditions>();
  for (const flow of obs.flows) {
    if (!flow.initiatorInside || !isCounted(flow.protocol) || flow.port === 0) continue;
    const evidence = flow.app !== '' || (clients.has(flow.host) && flow.port >= config.fanout.highPortMin && !excluded.has(flow.port));
    if (!evidence) continue;
    let entry = out.get(flow.endpoint);
    if (!entry) out.set(flow.endpoint, (entry = { ip: flow.outsideIp, ipBytes: flow.outsideBytes, port: flow.port, additions: [] }));
    entry.additions.push([flow.host, { ts: flow.lastSeenMs, flags: 0 }]);
  }
  return out;
}

/** Inside host → the window members this batch adds. */
export function hostAdditions(obs: BatchObservations): Map<string, HostAdditions> {
  const out = new Map<string, HostAdditions>();
  for (const flow of obs.flows) {
    if (!flow.initiatorInside || !isCounted(flow.protocol)) continue;
    let entry = out.get(flow.host);
    if (!entry) out.set(flow.host, (entry = { site: flow.site, hostIp: flow.hostIp, hostBytes: flow.hostBytes, additions: [] }));
    entry.additions.push([windowMember(flow.protocol, flow.endpoint), { ts: flow.lastSeenMs, flags: flow.answered ? ANSWERED : 0 }]);
  }
  return out;
}

function span(marks: Iterable<Mark>): { firstSeenMs: number; lastSeenMs: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const mark of marks) {
    first = Math.min(first, mark.ts);
    last = Math.max(last, mark.ts);
  }
  return { firstSeenMs: Number.isFinite(first) ? first : 0, lastSeenMs: Number.isFinite(last) ? last : 0 };
}

export function evaluateEndpoint(hosts: TimedSet, config: CorrelationConfig): Finding | undefined {
  if (hosts.size < config.fanout.minHosts) return undefined;
  return { rule: 'corr.peer-fanout', count: hosts.size, ...span(hosts.values()), detail: `reached with P2P evidence by ${hosts.size} inside hosts (threshold ${config.fanout.minHosts})` };
}

/** Window members that are outside endpoints (ip, port), for the blocklist look-up of corr.blocked-peers. */
export function windowEndpoints(window: TimedSet): { ip: string; port: number }[] {
  const seen = new Map<string, { ip: string; port: number }>();
  for (const member of window.keys()) {
    const parsed = parseWindowMember(member);
    const endpoint = parsed && parseEndpointKey(parsed.endpoint);
    if (parsed && endpoint) seen.set(parsed.endpoint, endpoint);
  }
  return [...seen.values()];
}

export function evaluateHost(window: TimedSet, isBlocked: (ip: string, port: number) => boolean, config: CorrelationConfig): Finding[] {
  const { udpFanout, tcpUdpPairs, blockedPeers } = config.host;
  const excluded = new Set(tcpUdpPairs.excludePorts);
  const udp: Mark[] = [];
  let unanswered = 0;
  const protocolsByIp = new Map<string, { protocols: number; marks: Mark[] }>();
  const blocked = new Map<string, Mark>();
  for (const [member, mark] of window) {
    const parsed = parseWindowMember(member);
    const endpoint = parsed && parseEndpointKey(parsed.endpoint);
    if (!parsed || !endpoint) continue;
    if (parsed.protocol === UDP && endpoint.port >= udpFanout.highPortMin) {
      udp.push(mark);
      if ((mark.flags & ANSWERED) === 0) unanswered += 1;
    }
    if (!excluded.has(endpoint.port) && endpoint.port !== 0) {
      let entry = protocolsByIp.get(endpoint.ip);
      if (!entry) protocolsByIp.set(endpoint.ip, (entry = { protocols: 0, marks: [] }));
      entry.protocols |= parsed.protocol === TCP ? 1 : parsed.protocol === UDP ? 2 : 0;
      entry.marks.push(mark);
    }
    if (isBlocked(endpoint.ip, endpoint.port)) {
      const previous = blocked.get(parsed.endpoint);
      if (!previous || previous.ts < mark.ts) blocked.set(parsed.endpoint, mark);
    }
  }
  const findings: Finding[] = [];
  if (udp.length >= udpFanout.minEndpoints && unanswered / udp.length >= udpFanout.unansweredRatio) {
    findings.push({
      rule: 'corr.udp-fanout',
      count: udp.length,
      ...span(udp),
      detail: `${udp.length} UDP endpoints on high ports in ${config.host.windowSeconds} s, ${Math.round((100 * unanswered) / udp.length)}% unanswered (thresholds ${udpFanout.minEndpoints}, ${Math.round(udpFanout.unansweredRatio * 100)}%)`,
    });
  }
  const pairs = [...protocolsByIp.values()].filter((entry) => entry.protocols === 3);
  if (pairs.length >= tcpUdpPairs.minIps) {
    findings.push({ rule: 'corr.tcp-udp-pairs', count: pairs.length, ...span(pairs.flatMap((p) => p.marks)), detail: `${pairs.length} outside IPs over both TCP and UDP (threshold ${tcpUdpPairs.minIps})` });
  }
  if (blocked.size >= blockedPeers.minPeers) {
    findings.push({ rule: 'corr.blocked-peers', count: blocked.size, ...span(blocked.values()), detail: `${blocked.size} blocked peers reached (threshold ${blockedPeers.minPeers})` });
  }
  return findings;
}
