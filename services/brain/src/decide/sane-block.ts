import { unblockableAddressReason, type CidrSet } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { BrainDecision } from './decision.js';

/**
 * What the brain never writes, whatever a sensor says (pure): a block of an outside peer that is a
 * reserved or inside address, or an address-wide block (every port, SCOPE_IP) seen by only one
 * inside host at one site — one host's word, or one sensor's, is not enough to cut an address off
 * everywhere. Host locks are not checked here: a sensor can only lock hosts of its own site (the
 * subject says which).
 */

export type BlockRefusal = 'reserved' | 'inside' | 'single-witness';

export function blockRefusal(decision: BrainDecision, insideNetworks?: CidrSet): BlockRefusal | undefined {
  if (decision.action !== p2pwall.v1.Action.ACTION_BLOCK) return undefined;
  if (decision.scope !== p2pwall.v1.Scope.SCOPE_ENDPOINT && decision.scope !== p2pwall.v1.Scope.SCOPE_IP) return undefined;
  const unblockable = unblockableAddressReason(decision.ip);
  if (unblockable) return unblockable;
  // The organisation's public networks used inside (brain config insideNetworks).
  if (insideNetworks?.containsBytes(decision.ip)) return 'inside';
  if (decision.scope === p2pwall.v1.Scope.SCOPE_IP && decision.evidence.hosts.length < 2 && decision.evidence.sites.length < 2) return 'single-witness';
  return undefined;
}
