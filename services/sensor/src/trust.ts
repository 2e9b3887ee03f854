import type { Evidence } from './detect/module.js';
import type { Flow } from './track/flow.js';

/**
 * What evidence may do, decided once for every protocol (DESIGN.md principle 6: untrusted input
 * cannot choose what is blocked). Pure: the flow's own record and the evidence in, a verdict out.
 */
export const EvidenceTrust = {
  accepted: 'accepted',
  /** From outside, on a flow an outside host opened: nobody asked for it. */
  unsolicited: 'unsolicited',
  /** A reply, on a flow whose inside host sent none of that protocol's evidence itself. */
  unanswered: 'unanswered',
  /** Supporting evidence, not on a flow the inside host opened to a learned peer. */
  supporting: 'supporting',
  /** About a family the module does not declare it may speak for (ProtocolModule.families). */
  undeclaredFamily: 'undeclared-family',
} as const;
export type EvidenceTrust = (typeof EvidenceTrust)[keyof typeof EvidenceTrust];

/**
 * - Evidence in a packet the inside host sent counts.
 * - What arrives from outside on a flow an outside host opened never counts.
 * - A reply counts only on a flow whose inside host sent that module's evidence before (a pong
 *   answers a ping): `moduleBit` is the module's bit in the flow's `ownLabels`.
 * - Supporting evidence counts only on a flow the inside host opened to a learned peer
 *   (`leadsToPeer` is asked only then: it may cost a table lookup).
 * - Evidence about another family (Evidence.family) counts only when the module declares that
 *   family (`families`, from ProtocolModule.families); the rules above then apply alike.
 * - Evidence that does not identify its host (Evidence.identifiesHost false) passes the same
 *   rules: it only spares the host, and the peers it names still need mayNamePeers.
 */
export function evidenceTrust(flow: Flow, fromInside: boolean, moduleBit: number, evidence: Evidence, leadsToPeer: (flow: Flow) => boolean, families: ReadonlySet<string> = NO_FAMILIES): EvidenceTrust {
  if (evidence.family !== undefined && !families.has(evidence.family)) return EvidenceTrust.undeclaredFamily;
  if (evidence.supporting) return flow.initiatorInside && leadsToPeer(flow) ? EvidenceTrust.accepted : EvidenceTrust.supporting;
  if (fromInside) return EvidenceTrust.accepted;
  if (!flow.initiatorInside) return EvidenceTrust.unsolicited;
  return (flow.ownLabels & moduleBit) !== 0 ? EvidenceTrust.accepted : EvidenceTrust.unanswered;
}

const NO_FAMILIES: ReadonlySet<string> = new Set();

/**
 * Whether peers a payload names may be learned from this evidence: only when the flow is already
 * the module's by the host's own traffic (this packet included), never from supporting evidence.
 */
export function mayNamePeers(flow: Flow, moduleBit: number, evidence: Evidence): boolean {
  return !evidence.supporting && (flow.ownLabels & moduleBit) !== 0;
}
