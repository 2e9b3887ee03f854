import { decisionId, siteHostText, siteOfSiteHost, wireTransport, type Transport } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { type BatchObservations, type ClientObservation, clientRule, type Finding, type FlowObservation, peerLearnedRule, type RulesConfig } from '@p2pwall/common/correlate';
import type { Allowlist } from './allowlist.js';
import { AUTHOR, type BrainDecision, type Evidence } from './decision.js';

/**
 * Decisions from observations and findings (pure), and how a new decision merges into the one
 * already stored under the same id. Merging is a union (hosts, sites, sensors, rules), a max
 * (count, last seen, expiry) and a min (first seen, created), so it is idempotent and does not
 * depend on the order two replicas write in.
 */

const { Scope, Origin, Action, Transport: WireTransport } = p2pwall.v1;

export interface DecideContext {
  rules: RulesConfig;
  allowlist: Allowlist;
  nowMs: number;
  /** `site/gateway/queue` of the batch's sensor. */
  sensor: string;
}

const SECOND = 1000;

function sortedUnion(a: readonly string[], b: readonly string[], max: number): string[] {
  return [...new Set([...a, ...b])].filter((s) => s !== '').sort().slice(0, max);
}

function evidence(hosts: string[], sites: string[], sensors: string[], rules: string[], count: number, firstSeenMs: number, lastSeenMs: number, max: number): Evidence {
  return { hosts: sortedUnion(hosts, [], max), sites: sortedUnion(sites, [], max), sensors: sortedUnion(sensors, [], max), rules: sortedUnion(rules, [], max), count, firstSeenMs, lastSeenMs };
}

function hostLock(site: string, ip: string, ipBytes: Uint8Array, origin: p2pwall.v1.Origin, reason: string, ev: Evidence, ctx: DecideContext): BrainDecision {
  const ttl = origin === Origin.ORIGIN_SIGNATURE ? ctx.rules.expiry.signature.hostSeconds : ctx.rules.expiry.correlation.hostSeconds;
  return { id: decisionId.host(site, ip), scope: Scope.SCOPE_HOST, ip: ipBytes, port: 0, site, origin, action: Action.ACTION_BLOCK, reason, evidence: ev, createdMs: ctx.nowMs, expiresMs: ctx.nowMs + ttl * SECOND, author: AUTHOR, simulated: false, transport: WireTransport.TRANSPORT_BOTH };
}

/** A block of an outside endpoint (port 0: the whole address) for one transport or both; a decision of its own for each transport (the id names it). */
function peerBlock(ip: string, ipBytes: Uint8Array, port: number, transport: Transport, origin: p2pwall.v1.Origin, reason: string, ev: Evidence, ctx: DecideContext): BrainDecision {
  const ttl = origin === Origin.ORIGIN_SIGNATURE ? ctx.rules.expiry.signature.peerSeconds : ctx.rules.expiry.correlation.peerSeconds;
  const whole = port === 0;
  return {
    id: whole ? decisionId.ip(ip, transport) : decisionId.endpoint(ip, port, transport),
    scope: whole ? Scope.SCOPE_IP : Scope.SCOPE_ENDPOINT,
    ip: ipBytes,
    port,
    site: '',
    origin,
    action: Action.ACTION_BLOCK,
    reason,
    evidence: ev,
    createdMs: ctx.nowMs,
    expiresMs: ctx.nowMs + ttl * SECOND,
    author: AUTHOR,
    simulated: false,
    transport: wireTransport(transport),
  };
}

/** Why a client identification locks its host: the sensor, and the evidence `analyze` would print first. */
function clientReason(client: ClientObservation, sensor: string): string {
  const base = `${client.protocol || 'P2P'} client identified by ${sensor}`;
  const e = client.identifying;
  if (!e) return base;
  return `${base}: ${e.rule}${e.detail ? ` (${e.detail})` : ''}${e.flow ? ` on ${e.flow}` : ''}${e.packet ? `, packet ${e.packet}` : ''}`;
}

/** Signature evidence of one batch: client events and detected flows lock hosts at their site; learned peers are blocked everywhere. */
export function signatureDecisions(obs: BatchObservations, ctx: DecideContext): BrainDecision[] {
  const max = ctx.rules.correlation.evidenceMaxItems;
  const out = new Map<string, BrainDecision>();
  const add = (decision: BrainDecision) => {
    const previous = out.get(decision.id);
    out.set(decision.id, previous ? (mergeDecision(previous, decision, max) ?? previous) : decision);
  };
  for (const client of obs.clients) {
    if (ctx.allowlist.allowsHost(client.site, client.hostIp)) continue;
    const rules = client.rules.length > 0 ? client.rules : [clientRule(client.protocol)];
    add(hostLock(client.site, client.hostIp, client.hostBytes, Origin.ORIGIN_SIGNATURE, clientReason(client, obs.sensor), evidence([client.host], [client.site], [obs.sensor], rules, 1, client.tsMs, client.tsMs, max), ctx));
  }
  // Detected flows of one host are gathered first and make one lock: what merging a lock per flow
  // would give (rules united, first seen the earliest known, last seen the latest), without
  // building and merging the evidence of every flow. Its reason names the flow that began first:
  // the first evidence explains a lock, not whichever peer the batch happened to list last.
  const detected = new Map<string, { first: FlowObservation; rules: Set<string>; firstSeenMs: number; lastSeenMs: number }>();
  for (const flow of obs.flows) {
    if (flow.app === '' || flow.rules.length === 0) continue;
    const seen = detected.get(flow.host);
    if (!seen) {
      detected.set(flow.host, { first: flow, rules: new Set(flow.rules), firstSeenMs: flow.firstSeenMs, lastSeenMs: flow.lastSeenMs });
      continue;
    }
    // as mergeDecision: the earliest known first packet; 0 is "unknown"
    if ((flow.firstSeenMs || Infinity) < (seen.first.firstSeenMs || Infinity)) seen.first = flow;
    for (const rule of flow.rules) seen.rules.add(rule);
    // as mergeDecision: 0 is "unknown", not the earliest
    const first = Math.min(seen.firstSeenMs || Infinity, flow.firstSeenMs || Infinity);
    seen.firstSeenMs = first === Infinity ? 0 : first;
    seen.lastSeenMs = Math.max(seen.lastSeenMs, flow.lastSeenMs);
  }
  for (const { first: flow, rules, firstSeenMs, lastSeenMs } of detected.values()) {
    if (ctx.allowlist.allowsHost(flow.site, flow.hostIp)) continue;
    add(hostLock(flow.site, flow.hostIp, flow.hostBytes, Origin.ORIGIN_SIGNATURE, `${flow.app} traffic with ${flow.endpoint} seen by ${obs.sensor}`, evidence([flow.host], [flow.site], [obs.sensor], [...rules], 1, firstSeenMs, lastSeenMs, max), ctx));
  }
  for (const peer of obs.peers) {
    if (ctx.allowlist.allowsEndpoint(peer.ip, peer.port)) continue;
    const hosts = peer.learnedFrom ? [peer.learnedFrom] : [];
    const reason = `${peer.protocol || 'P2P'} peer learned${peer.via ? ` via ${peer.via}` : ''} by ${obs.sensor}`;
    add(peerBlock(peer.ip, peer.ipBytes, peer.port, peer.transport, Origin.ORIGIN_SIGNATURE, reason, evidence(hosts, [obs.site], [obs.sensor], [peerLearnedRule(peer.protocol, peer.via)], Math.max(1, hosts.length), peer.tsMs, peer.tsMs, max), ctx));
  }
  return [...out.values()];
}

/**
 * correlate/peer-fanout: block the endpoint everywhere; undefined when allowlisted. `members`: the
 * inside hosts (site/ip) of its set.
 *
 * For both transports: the endpoint's fan-out set (ingest/scripts.ts, one per endpoint in Redis)
 * holds the inside hosts and when each was last seen, not the transport of their flows, and
 * carrying it would change that state and its script for every flow. What the rule finds is an
 * endpoint that many clients keep in their peer caches, and P2P peers commonly listen for TCP and
 * UDP on the same port (FastTrack, Gnutella, BitTorrent with uTP), so both is also the block it means.
 */
export function fanoutDecision(endpoint: { ip: string; ipBytes: Uint8Array; port: number }, members: readonly string[], finding: Finding, ctx: DecideContext): BrainDecision | undefined {
  if (ctx.allowlist.allowsEndpoint(endpoint.ip, endpoint.port)) return undefined;
  const ev = evidence([...members], members.map(siteOfSiteHost), [ctx.sensor], [finding.rule], finding.count, finding.firstSeenMs, finding.lastSeenMs, ctx.rules.correlation.evidenceMaxItems);
  return peerBlock(endpoint.ip, endpoint.ipBytes, endpoint.port, 'both', Origin.ORIGIN_CORRELATION, `peer-cache fan-out: ${finding.detail}`, ev, ctx);
}

/** Payload-free host rules: lock the host at its site; undefined when nothing fired or allowlisted. */
export function hostDecision(host: { site: string; hostIp: string; hostBytes: Uint8Array }, findings: Finding[], ctx: DecideContext): BrainDecision | undefined {
  if (findings.length === 0 || ctx.allowlist.allowsHost(host.site, host.hostIp)) return undefined;
  const ev = evidence(
    [siteHostText(host.site, host.hostIp)],
    [host.site],
    [ctx.sensor],
    findings.map((f) => f.rule),
    Math.max(...findings.map((f) => f.count)),
    Math.min(...findings.map((f) => f.firstSeenMs)),
    Math.max(...findings.map((f) => f.lastSeenMs)),
    ctx.rules.correlation.evidenceMaxItems,
  );
  return hostLock(host.site, host.hostIp, host.hostBytes, Origin.ORIGIN_CORRELATION, `payload-free: ${findings.map((f) => f.detail).join('; ')}`, ev, ctx);
}

/**
 * `next` merged into `stored` (same id). Returns undefined when the stored decision must stay as
 * it is: an operator's (MANUAL) decision or an allow entry is never overridden by the brain.
 * Signature origin outranks correlation; an expired stored decision is replaced, not extended.
 */
export function mergeDecision(stored: BrainDecision | undefined, next: BrainDecision, maxItems: number, nowMs = next.createdMs): BrainDecision | undefined {
  if (!stored || stored.expiresMs <= nowMs) return next;
  if (stored.origin === Origin.ORIGIN_MANUAL || stored.action !== Action.ACTION_BLOCK) return undefined;
  const a = stored.evidence;
  const b = next.evidence;
  const hostsAll = new Set([...a.hosts, ...b.hosts]);
  const stronger = next.origin !== Origin.ORIGIN_UNSPECIFIED && (stored.origin === Origin.ORIGIN_UNSPECIFIED || next.origin < stored.origin) ? next : stored;
  const sameOrigin = next.origin === stored.origin;
  // A host lock keeps the reason of its earliest evidence (what identified the host first); a
  // peer decision's reason says how far its evidence reaches now (how many hosts): the newer one.
  const known = (ms: number) => ms || Infinity;
  const earlier = known(b.firstSeenMs) < known(a.firstSeenMs);
  const reason = !sameOrigin ? stronger.reason : stored.scope !== Scope.SCOPE_HOST || earlier ? next.reason : stored.reason;
  return {
    ...stored,
    origin: stronger.origin,
    reason,
    evidence: {
      hosts: sortedUnion(a.hosts, b.hosts, maxItems),
      sites: sortedUnion(a.sites, b.sites, maxItems),
      sensors: sortedUnion(a.sensors, b.sensors, maxItems),
      rules: sortedUnion(a.rules, b.rules, maxItems),
      count: Math.max(a.count, b.count, hostsAll.size),
      firstSeenMs: Math.min(a.firstSeenMs || Infinity, b.firstSeenMs || Infinity) === Infinity ? 0 : Math.min(a.firstSeenMs || Infinity, b.firstSeenMs || Infinity),
      lastSeenMs: Math.max(a.lastSeenMs, b.lastSeenMs),
    },
    createdMs: Math.min(stored.createdMs, next.createdMs),
    expiresMs: Math.max(stored.expiresMs, next.expiresMs),
    // Simulated while every piece of evidence comes from sites in simulation; real from the first that does not.
    simulated: stored.simulated && next.simulated,
  };
}

/** What sensors act on, and what the skip test compares: origin, action, counts, rules. */
export function fingerprint(decision: BrainDecision): string {
  const e = decision.evidence;
  return [decision.action, decision.origin, decision.simulated, e.count, e.hosts.length, e.sites.length, e.sensors.length, e.rules.join(',')].join('|');
}

/**
 * Whether writing `merged` over `stored` changes anything worth a blocklist change: a new decision,
 * other counts, or an expiry later by more than `minExtendMs` (so a host seen every second does not
 * produce a change every second).
 */
export function worthWriting(stored: BrainDecision | undefined, merged: BrainDecision, minExtendMs: number): boolean {
  if (!stored) return true;
  if (fingerprint(stored) !== fingerprint(merged)) return true;
  return merged.expiresMs > stored.expiresMs + minExtendMs;
}
