import { isProtocolName } from '@p2pwall/common';
import { isSensorRuleId } from './rule-ids.js';

/**
 * The strings a sensor sends, bounded and checked before they reach decisions, Redis, other
 * sensors, logs or a terminal (pure). Protocol and app names must be protocol names
 * (@p2pwall/common isProtocolName: lower-case letters, digits, dashes, at most 48); rule ids and
 * `via` must be protocol rule ids (parseRuleId, outside the brain's and operators' namespaces);
 * a sensor instance is 1 to 64 printable ASCII characters. What fails is dropped (a name becomes
 * "") and counted by the caller.
 */

/** Rules kept per flow or client event. */
export const MAX_RULES_PER_ITEM = 16;
const INSTANCE = /^[\x21-\x7e]{1,64}$/;

export function isSaneInstance(text: string): boolean {
  return INSTANCE.test(text);
}

/** A protocol or app name as sent when it is one (or "" as sent), else undefined. */
export function saneProtocolName(text: string): string | undefined {
  return text === '' || isProtocolName(text) ? text : undefined;
}

/** A `via` as sent when it is a protocol rule id (or ""), else undefined. */
export function saneVia(text: string): string | undefined {
  return text === '' || isSensorRuleId(text) ? text : undefined;
}

/** The rule ids among `rules` that a sensor may name, at most MAX_RULES_PER_ITEM, and how many were dropped. */
export function saneRuleIds(rules: readonly string[]): { rules: string[]; dropped: number } {
  const kept = rules.filter(isSensorRuleId).slice(0, MAX_RULES_PER_ITEM);
  return { rules: kept, dropped: rules.length - kept.length };
}
