/**
 * What one summary batch (and the decisions taken on it) adds to incidents (pure).
 *
 * An incident is one (site, inside host, protocol) episode. Evidence that names a protocol — a
 * detector's app on a flow, a client identification, a peer learned from the host — opens or
 * extends the episode of that protocol. Payload-free findings (correlate/* rules) have no protocol:
 * they join the host's open episode if it has one, else open one of protocol "unknown". Blocked
 * attempts and decisions only extend an open episode: a single dropped packet to a blocked
 * address is not, by itself, an incident.
 */

import { ipProtocolName, parseSiteHost } from '@p2pwall/common';

export const UNKNOWN_PROTOCOL = 'unknown';

/** The fields of a flow observation incidents read (correlate/observe.ts FlowObservation has them). */
export interface IncidentFlow {
  site: string;
  hostIp: string;
  endpoint: string;
  outsideIp: string;
  protocol: number;
  app: string;
  rules: readonly string[];
  firstSeenMs: number;
  lastSeenMs: number;
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
  droppedPackets: number;
  dropped: boolean;
  /**
   * An interim summary of a live flow: its counters are totals so far and the flow's final
   * summary repeats them, so an interim one adds peers, times and samples, never counts.
   */
  ongoing: boolean;
}

export interface IncidentClient {
  site: string;
  hostIp: string;
  protocol: string;
  rules: readonly string[];
  tsMs: number;
}

export interface IncidentPeer {
  /** `site/ip` of the host it was learned from, "" when unknown. */
  learnedFrom: string;
  /** `ip:port`, or the bare ip for a whole-address peer. */
  peer: string;
  ip: string;
  protocol: string;
  tsMs: number;
}

/** A decision written because of a batch: its id, rule/reason and the hosts (`site/ip`) it names. */
export interface IncidentDecision {
  id: string;
  hosts: readonly string[];
  /** correlate/* rules of a payload-free host finding (they count as evidence), else []. */
  findings: readonly string[];
  tsMs: number;
}

export interface FlowSample {
  seenMs: number;
  gateway: string;
  protocol: string;
  peer: string;
  app: string;
  rules: string[];
  verdict: 'accept' | 'drop';
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
}

/** Everything one batch adds to one (site, host, protocol) episode. */
export interface IncidentUpdate {
  site: string;
  hostIp: string;
  protocol: string;
  /** May open a new episode (else it only extends an open one). */
  opens: boolean;
  firstSeenMs: number;
  lastSeenMs: number;
  gateway: string;
  /** rule → how many times it fired in this batch. */
  rules: Map<string, number>;
  /** Outside peers contacted (`ip:port` or ip) → first time seen in this batch. */
  peers: Map<string, number>;
  attemptsBlocked: number;
  bytes: number;
  flows: number;
  samples: FlowSample[];
  decisions: Map<string, number>;
}

export interface BatchEvidence {
  gateway: string;
  flows: readonly IncidentFlow[];
  clients: readonly IncidentClient[];
  peers: readonly IncidentPeer[];
  decisions: readonly IncidentDecision[];
}

function hostSite(host: string): { site: string; hostIp: string } | undefined {
  const parsed = parseSiteHost(host);
  return parsed && { site: parsed.site, hostIp: parsed.ip };
}

class Updates {
  private readonly byKey = new Map<string, IncidentUpdate>();

  constructor(
    private readonly gateway: string,
    private readonly maxSamples: number,
  ) {}

  get(site: string, hostIp: string, protocol: string, tsMs: number, opens: boolean): IncidentUpdate {
    const key = `${site}\u0000${hostIp}\u0000${protocol}`;
    let update = this.byKey.get(key);
    if (!update) {
      update = { site, hostIp, protocol, opens, firstSeenMs: tsMs, lastSeenMs: tsMs, gateway: this.gateway, rules: new Map(), peers: new Map(), attemptsBlocked: 0, bytes: 0, flows: 0, samples: [], decisions: new Map() };
      this.byKey.set(key, update);
    }
    update.opens ||= opens;
    update.firstSeenMs = Math.min(update.firstSeenMs, tsMs);
    update.lastSeenMs = Math.max(update.lastSeenMs, tsMs);
    return update;
  }

  sample(update: IncidentUpdate, flow: IncidentFlow): void {
    if (update.samples.length >= this.maxSamples) return;
    update.samples.push({
      seenMs: flow.lastSeenMs,
      gateway: this.gateway,
      protocol: ipProtocolName(flow.protocol),
      peer: flow.endpoint,
      app: flow.app,
      rules: [...flow.rules],
      verdict: flow.dropped ? 'drop' : 'accept',
      packetsOut: flow.packetsOut,
      packetsIn: flow.packetsIn,
      bytesOut: flow.bytesOut,
      bytesIn: flow.bytesIn,
    });
  }

  all(): IncidentUpdate[] {
    return [...this.byKey.values()];
  }
}

const bump = (map: Map<string, number>, key: string, by = 1) => map.set(key, (map.get(key) ?? 0) + by);
const earliest = (map: Map<string, number>, key: string, ts: number) => map.set(key, Math.min(map.get(key) ?? ts, ts));

/** The incident updates of one batch, at most `maxSamples` sample flows per update. */
export function incidentUpdates(evidence: BatchEvidence, maxSamples: number): IncidentUpdate[] {
  const updates = new Updates(evidence.gateway, maxSamples);
  for (const client of evidence.clients) {
    const update = updates.get(client.site, client.hostIp, client.protocol || UNKNOWN_PROTOCOL, client.tsMs, true);
    for (const rule of client.rules) bump(update.rules, rule);
    if (client.rules.length === 0) bump(update.rules, 'client-identified');
  }
  for (const flow of evidence.flows) {
    if (flow.app === '' && !flow.dropped) continue;
    const update = updates.get(flow.site, flow.hostIp, flow.app === '' ? UNKNOWN_PROTOCOL : flow.app, flow.lastSeenMs, flow.app !== '');
    update.firstSeenMs = Math.min(update.firstSeenMs, flow.firstSeenMs);
    earliest(update.peers, flow.endpoint, flow.firstSeenMs);
    updates.sample(update, flow);
    const once = flow.ongoing ? 0 : 1;
    for (const rule of flow.rules) bump(update.rules, rule, once);
    if (flow.ongoing) continue;
    update.bytes += flow.bytesIn + flow.bytesOut;
    update.flows += 1;
    if (flow.dropped) update.attemptsBlocked += Math.max(1, flow.droppedPackets);
  }
  for (const peer of evidence.peers) {
    const host = hostSite(peer.learnedFrom);
    if (!host) continue;
    const update = updates.get(host.site, host.hostIp, peer.protocol || UNKNOWN_PROTOCOL, peer.tsMs, true);
    earliest(update.peers, peer.peer, peer.tsMs);
  }
  for (const decision of evidence.decisions) {
    for (const name of decision.hosts) {
      const host = hostSite(name);
      if (!host) continue;
      const finding = decision.findings.length > 0;
      const update = updates.get(host.site, host.hostIp, UNKNOWN_PROTOCOL, decision.tsMs, finding);
      for (const rule of decision.findings) bump(update.rules, rule);
      earliest(update.decisions, decision.id, decision.tsMs);
    }
  }
  return updates.all();
}
