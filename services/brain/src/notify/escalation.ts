import type { IncidentView } from '../api/views.js';

/**
 * When an open incident counts as escalated (pure): it reached another gateway, a further step of
 * distinct peers (10, 100, 1000, 10000), its first block, or a host lock. Each step is told once:
 * the level only goes up.
 */

export const PEER_STEPS = [10, 100, 1000, 10_000] as const;

export interface IncidentLevel {
  gateways: number;
  /** Steps of PEER_STEPS reached. */
  peerSteps: number;
  /** A block (peer) among its decisions. */
  blocked: boolean;
  /** A host lock among its decisions. */
  locked: boolean;
}

export function incidentLevel(view: Pick<IncidentView, 'gateways' | 'peers' | 'decisions'>): IncidentLevel {
  return {
    gateways: view.gateways.length,
    peerSteps: PEER_STEPS.filter((step) => view.peers.count >= step).length,
    blocked: view.decisions.some((id) => !id.startsWith('host:')),
    locked: view.decisions.some((id) => id.startsWith('host:')),
  };
}

/** What grew from `before` to `after`, as a person reads it; [] when nothing did. */
export function escalationReasons(before: IncidentLevel, after: IncidentLevel, view: Pick<IncidentView, 'gateways' | 'peers'>): string[] {
  const reasons: string[] = [];
  if (after.gateways > before.gateways) reasons.push(`seen at ${after.gateways} gateways (${view.gateways.join(', ')})`);
  if (after.peerSteps > before.peerSteps) reasons.push(`${view.peers.count} peers (past ${PEER_STEPS[after.peerSteps - 1]})`);
  if (after.locked && !before.locked) reasons.push('host locked');
  else if (after.blocked && !before.blocked) reasons.push('peers blocked');
  return reasons;
}

/** The higher of two levels, field by field: what has been told. */
export function maxLevel(a: IncidentLevel, b: IncidentLevel): IncidentLevel {
  return { gateways: Math.max(a.gateways, b.gateways), peerSteps: Math.max(a.peerSteps, b.peerSteps), blocked: a.blocked || b.blocked, locked: a.locked || b.locked };
}
