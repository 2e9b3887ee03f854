import { isProtocolName } from '../formats.js';
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

/** Characters kept of an evidence detail or flow text (a network name, `udp a:1 > b:2`). */
export const MAX_EVIDENCE_TEXT = 160;

/**
 * An evidence detail or flow text as shown to operators: free text from the sensor, so control
 * characters (escape sequences, newlines) go and its length is bounded; the CLI makes its output
 * printable again on its side.
 */
export function saneEvidenceText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').slice(0, MAX_EVIDENCE_TEXT);
}
