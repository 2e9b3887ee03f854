import { parseEndpointText, transportOfIpProtocol } from '../formats.js';
import type { CorrelationConfig } from './config.js';
import { TCP, UDP, type BatchObservations, type FlowObservation } from './observe.js';
import { CORRELATION_RULES, type CorrelationRule } from './rule-ids.js';
import { ANSWERED, parseWindowMember, windowMember, type Mark, type TimedSet } from './window.js';

/**
 * The correlation rules (pure): which state a batch adds, and what a state implies.
 *
 * - `correlate/peer-fanout`: an outside endpoint reached, with P2P evidence, by ≥ fanout.minHosts
 *   distinct inside hosts (site/ip, across gateways and sites) within fanout.windowSeconds. A flow
 *   carries P2P evidence when a detector named its app, or when its inside host is a known client
 *   (identified in the same batch, or under an active host lock) and it went to a high port
 *   (≥ fanout.highPortMin) outside the excluded dual-service ports.
 * - `correlate/udp-fanout`: within host.windowSeconds the host reached ≥ udpFanout.minEndpoints distinct
 *   UDP endpoints on high ports, and ≥ udpFanout.unansweredRatio of them never answered.
 * - `correlate/tcp-udp-pairs`: ≥ tcpUdpPairs.minIps distinct outside IPs reached over both TCP and UDP
 *   (flows to tcpUdpPairs.excludePorts ignored: DNS, NTP, NetBIOS, SMB, HTTPS/QUIC).
 * - `correlate/blocked-peers`: ≥ blockedPeers.minPeers distinct outside endpoints the blocklist
 *   already blocks for the transport the host used (endpoint or whole-IP decisions for that
 *   transport or both), whatever the payload.
 * Only flows the inside host started count for the windows and fan-out.
 */

export interface Finding {
  rule: CorrelationRule;
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
  /** Each mark is the member already read as a WindowEntry (what windowEntry would parse from it). */
  additions: [string, WindowEntry][];
}

/**
 * Whether the blocklist blocks a flow of `transport` to an outside endpoint (`ip:port` /
 * `[v6]:port`, as endpointText names it): a block of the endpoint or of its whole address `ip`,
 * for that transport or for both. A TCP flow to an endpoint blocked for UDP only is not blocked.
 */
export type IsBlocked = (endpoint: string, ip: string, transport: 'tcp' | 'udp') => boolean;

function isCounted(protocol: number): boolean {
  return protocol === TCP || protocol === UDP;
}

/** A flow that may feed an endpoint's fan-out set at all (started inside, TCP/UDP, a real port). */
function fanoutCandidate(flow: FlowObservation): boolean {
  return flow.initiatorInside && isCounted(flow.protocol) && flow.port !== 0;
}

/** A flow without a detected app that counts as P2P evidence only if its host is a known client. */
function countsIfKnownClient(flow: FlowObservation, excluded: ReadonlySet<number>, config: CorrelationConfig): boolean {
  return flow.app === '' && flow.port >= config.fanout.highPortMin && !excluded.has(flow.port);
}

/**
 * Inside hosts (site/ip → the host) whose flows in this batch count for the fan-out only if the
 * host is a known client: only their locks need looking up.
 */
export function knownClientCandidates(obs: BatchObservations, config: CorrelationConfig): Map<string, { site: string; hostIp: string }> {
  const excluded = new Set(config.host.tcpUdpPairs.excludePorts);
  const out = new Map<string, { site: string; hostIp: string }>();
  for (const flow of obs.flows) {
    if (fanoutCandidate(flow) && countsIfKnownClient(flow, excluded, config) && !out.has(flow.host)) out.set(flow.host, { site: flow.site, hostIp: flow.hostIp });
  }
  return out;
}

/** Endpoint → the inside hosts this batch adds to its fan-out set. */
export function endpointAdditions(obs: BatchObservations, knownClients: ReadonlySet<string>, config: CorrelationConfig): Map<string, EndpointAdditions> {
  const clients = new Set([...knownClients, ...obs.clients.map((c) => c.host)]);
  const excluded = new Set(config.host.tcpUdpPairs.excludePorts);
  const out = new Map<string, EndpointAdditions>();
  for (const flow of obs.flows) {
    if (!fanoutCandidate(flow)) continue;
    const evidence = flow.app !== '' || (clients.has(flow.host) && countsIfKnownClient(flow, excluded, config));
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
    const member = windowMember(flow.protocol, flow.endpoint);
    entry.additions.push([member, { member, endpoint: flow.endpoint, ip: flow.outsideIp, port: flow.port, protocol: flow.protocol, ts: flow.lastSeenMs, flags: flow.answered ? ANSWERED : 0 }]);
  }
  return out;
}

export interface Span {
  firstSeenMs: number;
  lastSeenMs: number;
}

function span(marks: Iterable<Mark>): Span {
  let first = Infinity;
  let last = -Infinity;
  for (const mark of marks) {
    first = Math.min(first, mark.ts);
    last = Math.max(last, mark.ts);
  }
  return { firstSeenMs: Number.isFinite(first) ? first : 0, lastSeenMs: Number.isFinite(last) ? last : 0 };
}

/** What correlate/peer-fanout reads from an endpoint's set: how many hosts, and when. */
export interface EndpointAggregate extends Span {
  count: number;
}

export function endpointAggregate(hosts: TimedSet): EndpointAggregate {
  return { count: hosts.size, ...span(hosts.values()) };
}

export function endpointFinding(aggregate: EndpointAggregate, config: CorrelationConfig): Finding | undefined {
  if (aggregate.count < config.fanout.minHosts) return undefined;
  const { count, firstSeenMs, lastSeenMs } = aggregate;
  return { rule: CORRELATION_RULES.peerFanout, count, firstSeenMs, lastSeenMs, detail: `reached with P2P evidence by ${count} inside hosts (threshold ${config.fanout.minHosts})` };
}

export function evaluateEndpoint(hosts: TimedSet, config: CorrelationConfig): Finding | undefined {
  return endpointFinding(endpointAggregate(hosts), config);
}

/**
 * What correlate/udp-fanout and correlate/tcp-udp-pairs read from a host's window: counts and time spans,
 * never the members.
 */
export interface HostAggregates {
  /** UDP members on high ports, and how many of them never answered. */
  udp: Span & { count: number; unanswered: number };
  /** Outside IPs reached over both TCP and UDP (excluded ports and port 0 left out). */
  pairs: Span & { count: number };
}

/** A host-window member read once: its endpoint (as endpointText names it), address, port and protocol, and its mark. */
export interface WindowEntry {
  member: string;
  endpoint: string;
  ip: string;
  port: number;
  protocol: number;
  ts: number;
  flags: number;
}

/** A window member and its mark as a WindowEntry; undefined when the member is unreadable (it then counts for no rule). */
export function windowEntry(member: string, mark: Mark): WindowEntry | undefined {
  const parsed = parseWindowMember(member);
  const endpoint = parsed && parseEndpointText(parsed.endpoint);
  if (!parsed || !endpoint) return undefined;
  return { member, endpoint: parsed.endpoint, ip: endpoint.ip, port: endpoint.port, protocol: parsed.protocol, ts: mark.ts, flags: mark.flags };
}

export function windowEntries(window: TimedSet): WindowEntry[] {
  const out: WindowEntry[] = [];
  for (const [member, mark] of window) {
    const entry = windowEntry(member, mark);
    if (entry) out.push(entry);
  }
  return out;
}

const spanOf = (s: { first: number; last: number }): Span => ({ firstSeenMs: Number.isFinite(s.first) ? s.first : 0, lastSeenMs: Number.isFinite(s.last) ? s.last : 0 });

export function entriesAggregates(entries: Iterable<WindowEntry>, config: CorrelationConfig): HostAggregates {
  const { udpFanout, tcpUdpPairs } = config.host;
  const excluded = new Set(tcpUdpPairs.excludePorts);
  const udp = { count: 0, unanswered: 0, first: Infinity, last: -Infinity };
  // per outside IP: protocols seen (1 TCP, 2 UDP) and the span of its members; no per-member allocations, windows can be large
  const byIp = new Map<string, { protocols: number; first: number; last: number }>();
  for (const entry of entries) {
    if (entry.protocol === UDP && entry.port >= udpFanout.highPortMin) {
      udp.count += 1;
      if ((entry.flags & ANSWERED) === 0) udp.unanswered += 1;
      udp.first = Math.min(udp.first, entry.ts);
      udp.last = Math.max(udp.last, entry.ts);
    }
    if (!excluded.has(entry.port) && entry.port !== 0) {
      const ip = byIp.get(entry.ip);
      const protocols = entry.protocol === TCP ? 1 : entry.protocol === UDP ? 2 : 0;
      if (!ip) byIp.set(entry.ip, { protocols, first: entry.ts, last: entry.ts });
      else {
        ip.protocols |= protocols;
        ip.first = Math.min(ip.first, entry.ts);
        ip.last = Math.max(ip.last, entry.ts);
      }
    }
  }
  const pairs = { count: 0, first: Infinity, last: -Infinity };
  for (const ip of byIp.values()) {
    if (ip.protocols !== 3) continue;
    pairs.count += 1;
    pairs.first = Math.min(pairs.first, ip.first);
    pairs.last = Math.max(pairs.last, ip.last);
  }
  return { udp: { count: udp.count, unanswered: udp.unanswered, ...spanOf(udp) }, pairs: { count: pairs.count, ...spanOf(pairs) } };
}

export function hostAggregates(window: TimedSet, config: CorrelationConfig): HostAggregates {
  return entriesAggregates(windowEntries(window), config);
}

/** correlate/blocked-peers' tally: distinct outside endpoints of the window that the blocklist blocks. */
export function entriesBlockedTally(entries: Iterable<WindowEntry>, isBlocked: IsBlocked): Span & { count: number } {
  const blocked = new Map<string, number>();
  for (const entry of entries) {
    const transport = transportOfIpProtocol(entry.protocol);
    if (transport === null || !isBlocked(entry.endpoint, entry.ip, transport)) continue;
    blocked.set(entry.endpoint, Math.max(blocked.get(entry.endpoint) ?? -Infinity, entry.ts));
  }
  let first = Infinity;
  let last = -Infinity;
  for (const ts of blocked.values()) {
    first = Math.min(first, ts);
    last = Math.max(last, ts);
  }
  return { count: blocked.size, ...spanOf({ first, last }) };
}

export function blockedPeersTally(window: TimedSet, isBlocked: IsBlocked): Span & { count: number } {
  return entriesBlockedTally(windowEntries(window), isBlocked);
}

/**
 * The outside peers inside hosts reached in this batch (flows that feed the windows), flat:
 * host (site/ip), endpoint (endpointText), outside IP, transport (tcp or udp), then the next
 * flow's four.
 */
export function reachedPeers(obs: BatchObservations): string[] {
  const out: string[] = [];
  for (const flow of obs.flows) {
    const transport = transportOfIpProtocol(flow.protocol);
    if (flow.initiatorInside && transport !== null) out.push(flow.host, flow.endpoint, flow.outsideIp, transport);
  }
  return out;
}

/** Inside hosts (site/ip) of reachedPeers that reached a blocked peer: only their windows can newly cross correlate/blocked-peers. */
export function hostsReaching(reached: readonly string[], isBlocked: IsBlocked): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + 3 < reached.length; i += 4) {
    const host = reached[i]!;
    if (!out.has(host) && isBlocked(reached[i + 1]!, reached[i + 2]!, reached[i + 3] as 'tcp' | 'udp')) out.add(host);
  }
  return out;
}

/** The host rules' findings from a window's aggregates and, when it was counted, its blocked-peers tally. */
export function hostFindings(aggregates: HostAggregates, blocked: (Span & { count: number }) | undefined, config: CorrelationConfig): Finding[] {
  const { udpFanout, tcpUdpPairs, blockedPeers } = config.host;
  const { udp, pairs } = aggregates;
  const findings: Finding[] = [];
  if (udp.count >= udpFanout.minEndpoints && udp.unanswered / udp.count >= udpFanout.unansweredRatio) {
    findings.push({
      rule: CORRELATION_RULES.udpFanout,
      count: udp.count,
      firstSeenMs: udp.firstSeenMs,
      lastSeenMs: udp.lastSeenMs,
      detail: `${udp.count} UDP endpoints on high ports in ${config.host.windowSeconds} s, ${Math.round((100 * udp.unanswered) / udp.count)}% unanswered (thresholds ${udpFanout.minEndpoints}, ${Math.round(udpFanout.unansweredRatio * 100)}%)`,
    });
  }
  if (pairs.count >= tcpUdpPairs.minIps) {
    findings.push({ rule: CORRELATION_RULES.tcpUdpPairs, count: pairs.count, firstSeenMs: pairs.firstSeenMs, lastSeenMs: pairs.lastSeenMs, detail: `${pairs.count} outside IPs over both TCP and UDP (threshold ${tcpUdpPairs.minIps})` });
  }
  if (blocked && blocked.count >= blockedPeers.minPeers) {
    findings.push({ rule: CORRELATION_RULES.blockedPeers, count: blocked.count, firstSeenMs: blocked.firstSeenMs, lastSeenMs: blocked.lastSeenMs, detail: `${blocked.count} blocked peers reached (threshold ${blockedPeers.minPeers})` });
  }
  return findings;
}

/** Every host rule on a whole window (the reference the aggregates above are split from). */
export function evaluateHost(window: TimedSet, isBlocked: IsBlocked, config: CorrelationConfig): Finding[] {
  return hostFindings(hostAggregates(window, config), blockedPeersTally(window, isBlocked), config);
}
