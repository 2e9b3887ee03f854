import { p2pwall } from '@p2pwall/proto';
import type { BrainDecision } from './decision.js';

/**
 * Sites in simulation (rollout): the brain records what it would decide from their evidence, with
 * `simulated: true`, and the sensors never enforce such a decision. A host lock is simulated when
 * its site is; a peer block when every site of its evidence is (evidence from one real site
 * makes it real, see mergeDecision). Manual decisions are never simulated.
 */
export function markSimulated(decision: BrainDecision, simulatedSites: ReadonlySet<string>): BrainDecision {
  if (simulatedSites.size === 0 || decision.origin === p2pwall.v1.Origin.ORIGIN_MANUAL) return decision;
  const simulated = decision.scope === p2pwall.v1.Scope.SCOPE_HOST ? simulatedSites.has(decision.site) : decision.evidence.sites.length > 0 && decision.evidence.sites.every((site) => simulatedSites.has(site));
  return simulated === decision.simulated ? decision : { ...decision, simulated };
}
