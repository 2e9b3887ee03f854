import { allowId, wireTransport } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { OPERATOR_RULE } from '@p2pwall/common/correlate';
import { NEVER_EXPIRES_MS, type BrainDecision, type Evidence } from '../decide/decision.js';
import { SCOPES } from './convert.js';
import type { Target } from './target.js';

/** An operator's manual block or allow entry, built from a validated request (pure). */

const { Origin, Action } = p2pwall.v1;

export const DEFAULT_AUTHOR = 'api';

export interface ManualInput {
  target: Target;
  reason: string;
  author: string | undefined;
  /** undefined: never expires. */
  expiresMs: number | undefined;
  nowMs: number;
}

/** What an operator's entry records as evidence by itself: only that an operator made it. */
const OPERATOR_EVIDENCE: Evidence = { hosts: [], sites: [], sensors: [], rules: [OPERATOR_RULE], count: 0, firstSeenMs: 0, lastSeenMs: 0 };

function manual(input: ManualInput, id: string, action: p2pwall.v1.Action, evidence: Evidence): BrainDecision {
  const { target } = input;
  return {
    id,
    scope: SCOPES[target.scope],
    ip: target.bytes,
    port: target.port,
    site: target.site,
    origin: Origin.ORIGIN_MANUAL,
    action,
    reason: input.reason,
    evidence,
    createdMs: input.nowMs,
    expiresMs: input.expiresMs ?? NEVER_EXPIRES_MS,
    author: input.author ?? DEFAULT_AUTHOR,
    simulated: false,
    transport: wireTransport(target.transport),
    ...(target.scope === 'network' ? { prefixLength: target.prefix } : {}),
  };
}

/**
 * A manual block. It replaces a block the brain decided for the same target, keeping that block's
 * evidence (with the operator's rule added), so "why is this blocked?" still shows what was seen.
 */
export function manualBlock(input: ManualInput, stored: BrainDecision | undefined): BrainDecision {
  const kept = stored && stored.action === Action.ACTION_BLOCK && stored.expiresMs > input.nowMs ? stored.evidence : undefined;
  const evidence = kept ? { ...kept, rules: [...new Set([...kept.rules, OPERATOR_RULE])].sort() } : OPERATOR_EVIDENCE;
  return manual(input, input.target.blockId, Action.ACTION_BLOCK, evidence);
}

/** An allow entry: id `allow:` + the id of the block it covers. */
export function allowEntry(input: ManualInput): BrainDecision {
  return manual(input, allowId(input.target.blockId), Action.ACTION_ALLOW, OPERATOR_EVIDENCE);
}
