/**
 * What one summary batch (and the decisions taken on it) adds to incidents (pure).
 *
 * An incident is one (site, inside host, protocol) episode. Evidence that names a protocol — a
 * detector's app on a flow, a client identification, a peer learned from the host — opens or
 * extends the episode of that protocol. Payload-free findings (correlate/* rules) have no protocol:
 * they join the host's open episode if it has one, else open one of protocol "unknown". Blocked
 * attempts and decisions only extend an open episode: a single dropped packet to a blocked
 * address is not, by itself, an incident.
 *
 * First and last seen are the host's own activity (its flows' first and last packets, its
 * identifications, peers learned from it, findings about it). A decision that names the host only
 * attaches to its episode: a peer block refreshed because other hosts (maybe at another site)
 * reached the same peer, or written when a flow's final summary arrives a UDP idle timeout after
 * its last packet, says nothing about when this host was last active.
 */

import { ipProtocolName, parseSiteHost } from '@p2pwall/common';
import type { IdentifyingEvidence } from '@p2pwall/common/correlate';

export const UNKNOWN_PROTOCOL = 'unknown';

/** The fields of a flow observation incidents read (correlate/observe.ts FlowObservation has them). */
export interface IncidentFlow {
  site: string;
  hostIp: string;
  /** With the other ends, the protocol and firstSeenMs: which flow a summary is of (flowKey). */
  insidePort: number;
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
  /** The evidence that identified the client (correlate/observe.ts identifyingEvidence); absent when the sensor sent none. */
  identifying?: IdentifyingEvidence;
}


/** An incident's first identification: the evidence, when and through which gateway. */
export interface Identification extends IdentifyingEvidence {
  seenMs: number;
  gateway: string;
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
  /** When the finding's evidence was last seen (the host's own traffic); absent: tsMs. */
  findingSeenMs?: number;
  /** When the decision was written (the brain's clock). */
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

/**
 * What one summary of a flow says it amounts to so far. A flow is summarized while it lives
 * (interim) and when it ends, each time with its totals so far: the record script keeps what it
 * already counted of each live flow and adds only the difference, so a blocked attempt counts
 * as soon as its interim summary arrives and never twice.
 */
export interface FlowTotals {
  /** Blocked attempts so far: the dropped packets, at least 1 once the flow was dropped. */
  attemptsBlocked: number;
  bytes: number;
  /** The flow's final summary (the script forgets the flow once it has counted it). */
  ended: boolean;
}

/** Everything one batch adds to one (site, host, protocol) episode. */
export interface IncidentUpdate {
  site: string;
  hostIp: string;
  protocol: string;
  /** May open a new episode (else it only extends an open one). */
  opens: boolean;
  /**
   * Whether firstSeenMs and lastSeenMs are the host's own activity. False when only decisions
   * name the host: then they only find its open episode and move neither time.
   */
  activity: boolean;
  firstSeenMs: number;
  lastSeenMs: number;
  gateway: string;
  /** rule → how many times it fired in this batch. */
  rules: Map<string, number>;
  /** Outside peers contacted (`ip:port` or ip) → first time seen in this batch. */
  peers: Map<string, number>;
  /** flowKey → the latest totals of that flow in this batch. */
  flows: Map<string, FlowTotals>;
  samples: FlowSample[];
  decisions: Map<string, number>;
  /** The earliest identification of the host in this batch, if any. */
  identification?: Identification;
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

  /** The update of (site, host, protocol); `tsMs` is the host's activity unless `activity` is false. */
  get(site: string, hostIp: string, protocol: string, tsMs: number, opens: boolean, activity = true): IncidentUpdate {
    const key = `${site}\u0000${hostIp}\u0000${protocol}`;
    let update = this.byKey.get(key);
    if (!update) {
      update = { site, hostIp, protocol, opens, activity, firstSeenMs: tsMs, lastSeenMs: tsMs, gateway: this.gateway, rules: new Map(), peers: new Map(), flows: new Map(), samples: [], decisions: new Map() };
      this.byKey.set(key, update);
    } else if (activity && !update.activity) {
      // the times so far were a decision's: the host's own activity replaces them
      update.activity = true;
      update.firstSeenMs = tsMs;
      update.lastSeenMs = tsMs;
    } else if (activity || !update.activity) {
      update.firstSeenMs = Math.min(update.firstSeenMs, tsMs);
      update.lastSeenMs = Math.max(update.lastSeenMs, tsMs);
    }
    update.opens ||= opens;
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

/**
 * Which flow a summary is of: every summary of one flow (interim and final) names the same
 * gateway, ends, IP protocol and first packet time (proto/p2pwall.proto FlowSummary).
 */
export function flowKey(gateway: string, flow: IncidentFlow): string {
  return `${gateway}|${flow.protocol}|${flow.hostIp}|${flow.insidePort}|${flow.endpoint}|${Math.round(flow.firstSeenMs)}`;
}

const flowTotals = (flow: IncidentFlow): FlowTotals => ({
  attemptsBlocked: flow.dropped ? Math.max(1, flow.droppedPackets) : 0,
  bytes: flow.bytesIn + flow.bytesOut,
  ended: !flow.ongoing,
});

/** The incident updates of one batch, at most `maxSamples` sample flows per update. */
export function incidentUpdates(evidence: BatchEvidence, maxSamples: number): IncidentUpdate[] {
  const updates = new Updates(evidence.gateway, maxSamples);
  for (const client of evidence.clients) {
    const update = updates.get(client.site, client.hostIp, client.protocol || UNKNOWN_PROTOCOL, client.tsMs, true);
    for (const rule of client.rules) bump(update.rules, rule);
    if (client.rules.length === 0) bump(update.rules, 'client-identified');
    if (client.identifying && (!update.identification || client.tsMs < update.identification.seenMs)) {
      update.identification = { ...client.identifying, seenMs: client.tsMs, gateway: evidence.gateway };
    }
  }
  for (const flow of evidence.flows) {
    if (flow.app === '' && !flow.dropped) continue;
    const update = updates.get(flow.site, flow.hostIp, flow.app === '' ? UNKNOWN_PROTOCOL : flow.app, flow.lastSeenMs, flow.app !== '');
    update.firstSeenMs = Math.min(update.firstSeenMs, flow.firstSeenMs);
    earliest(update.peers, flow.endpoint, flow.firstSeenMs);
    updates.sample(update, flow);
    const once = flow.ongoing ? 0 : 1;
    for (const rule of flow.rules) bump(update.rules, rule, once);
    const key = flowKey(evidence.gateway, flow);
    const totals = flowTotals(flow);
    const before = update.flows.get(key);
    // a later summary of the flow supersedes an earlier one; the final one stays final
    update.flows.set(key, before ? { attemptsBlocked: Math.max(before.attemptsBlocked, totals.attemptsBlocked), bytes: Math.max(before.bytes, totals.bytes), ended: before.ended || totals.ended } : totals);
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
      // a finding is about the host's own traffic, seen when its evidence was; any other decision only attaches
      const update = finding
        ? updates.get(host.site, host.hostIp, UNKNOWN_PROTOCOL, decision.findingSeenMs ?? decision.tsMs, true)
        : updates.get(host.site, host.hostIp, UNKNOWN_PROTOCOL, decision.tsMs, false, false);
      for (const rule of decision.findings) bump(update.rules, rule);
      earliest(update.decisions, decision.id, decision.tsMs);
    }
  }
  return updates.all();
}
