import { peerToken } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { type BatchObservations, isCorrelationRule } from '@p2pwall/common/correlate';
import type { BrainDecision } from '../decide/decision.js';
import type { BatchEvidence, IncidentDecision } from './evidence.js';

/** A batch's observations and the decisions written because of it, in the terms of incidents (pure). */
export function batchEvidence(obs: BatchObservations, decisions: readonly BrainDecision[], nowMs: number): BatchEvidence {
  return {
    gateway: obs.gateway,
    // Only flows incidents read: the rest of the batch need not outlive its merge.
    flows: obs.flows.filter((flow) => flow.app !== '' || flow.dropped),
    clients: obs.clients,
    peers: obs.peers.map((peer) => ({ learnedFrom: peer.learnedFrom, peer: peerToken(peer.ip, peer.port), ip: peer.ip, protocol: peer.protocol, tsMs: peer.tsMs })),
    decisions: incidentDecisions(decisions, nowMs),
  };
}

/**
 * Decisions as incident evidence: each names the hosts its evidence lists; a host lock found by
 * the payload-free rules carries those rules as findings (it may open an incident of its own).
 */
export function incidentDecisions(decisions: readonly BrainDecision[], nowMs: number): IncidentDecision[] {
  return decisions.map((d) => ({
    id: d.id,
    hosts: d.evidence.hosts,
    findings: d.scope === p2pwall.v1.Scope.SCOPE_HOST && d.origin === p2pwall.v1.Origin.ORIGIN_CORRELATION ? d.evidence.rules.filter(isCorrelationRule) : [],
    // a host lock's evidence is that host's own traffic (decide/make.ts hostDecision); 0: unknown
    findingSeenMs: d.evidence.lastSeenMs || undefined,
    tsMs: nowMs,
  }));
}
