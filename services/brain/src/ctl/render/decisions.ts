import type { AllowView, DecisionView } from '../../api/views.js';
import { RULE_NAMESPACES, ruleNamespace } from '@p2pwall/common';
import { ageOnly, clip, fields, humanTime, list, table } from '../format.js';

/** Decisions and allowlist entries as text. */

const site = (s: string) => s || '*';

/**
 * A decision's rules with the protocols' own (the signatures that identify) before the brain's
 * and operators' namespaces: the evidence lists them alphabetically, which put `correlate/...`
 * first and the identifying signature behind `+2 more`.
 */
export function signaturesFirst(rules: readonly string[]): string[] {
  const derived = new Set<string>([RULE_NAMESPACES.correlate, RULE_NAMESPACES.operator]);
  const rank = (rule: string) => (derived.has(ruleNamespace(rule)) ? 1 : 0);
  return [...rules].sort((a, b) => rank(a) - rank(b));
}

/**
 * In a narrow terminal: ids and values stay whole (they go into the next command), times become
 * ages, and what the id already says (scope, transport) or matters least goes first.
 */
const FIT = { keep: ['ID', 'VALUE'], compact: { CREATED: ageOnly, EXPIRES: ageOnly }, drop: ['SCOPE', 'TRANSPORT', 'CREATED', 'AUTHOR', 'ORIGIN', 'SITE', 'RULES'] };

export function decisionsTable(items: DecisionView[], now: number, width = Infinity): string {
  if (items.length === 0) return 'no decisions\n';
  return table(
    ['ID', 'SCOPE', 'VALUE', 'TRANSPORT', 'SITE', 'ORIGIN', 'ACTION', 'REASON', 'RULES', 'CREATED', 'EXPIRES', 'AUTHOR'],
    items.map((d) => [
      d.id,
      d.scope,
      d.value,
      d.transport,
      site(d.site),
      d.origin,
      d.simulated ? `${d.action} (simulated)` : d.action,
      clip(d.reason, 40),
      list(signaturesFirst(d.evidence.rules), 2),
      humanTime(d.created, now),
      humanTime(d.expires, now, 'never'),
      d.author,
    ]),
    { ...FIT, width },
  );
}

/** One decision with its evidence: the answer to "why is this blocked?". Empty evidence (manual blocks) is left out. */
export function decisionBlock(d: DecisionView, now: number, indent = ''): string {
  const e = d.evidence;
  const pairs: [string, string][] = [
    ['id', d.id],
    ['action', `${d.action} ${d.scope} ${d.value}${d.site ? ` at site ${d.site}` : ''}${d.simulated ? ' (simulated: not enforced)' : ''}`],
  ];
  // a host lock holds the whole host: only peer decisions have a transport worth showing
  if (d.scope !== 'host') pairs.push(['transport', d.transport]);
  pairs.push(
    ['origin', d.origin],
    ['reason', d.reason],
  );
  if (e.rules.length > 0) pairs.push(['rules', list(signaturesFirst(e.rules), 10)]);
  // A peer decision's count is how many hosts reached the peer; a host lock's is what its rules
  // counted (endpoints, blocked peers): never "+199 more" hosts for a lock of one host.
  if (d.scope === 'host') {
    if (e.hosts.length > 0) pairs.push(['hosts', list(e.hosts, 10)]);
    if (e.count > 1) pairs.push(['counted', `${e.count} by its rules`]);
  } else if (e.hosts.length > 0 || e.count > 0) {
    pairs.push(['hosts', list(e.hosts, 10, e.count)]);
  }
  if (e.sites.length > 0) pairs.push(['sites', list(e.sites, 10)]);
  if (e.sensors.length > 0) pairs.push(['sensors', list(e.sensors, 10)]);
  if (e.firstSeen) pairs.push(['evidence seen', `${humanTime(e.firstSeen, now)} to ${humanTime(e.lastSeen, now)}`]);
  pairs.push(['created', `${humanTime(d.created, now)} by ${d.author}`], ['expires', humanTime(d.expires, now, 'never')]);
  return fields(pairs, indent);
}

/** Several decision blocks, a blank line between them. */
export const decisionBlocks = (decisions: DecisionView[], now: number, indent = '  '): string => decisions.map((d) => decisionBlock(d, now, indent)).join('\n');

export function allowTable(items: AllowView[], now: number, width = Infinity): string {
  if (items.length === 0) return 'no allowlist entries\n';
  return table(
    ['ID', 'SCOPE', 'VALUE', 'SITE', 'REASON', 'AUTHOR', 'CREATED', 'EXPIRES'],
    items.map((a) => [a.id, a.scope, a.value, site(a.site), clip(a.reason, 40), a.author, humanTime(a.created, now), humanTime(a.expires, now, 'never')]),
    { ...FIT, width },
  );
}

export const allowLine = (a: AllowView, now: number): string =>
  `${a.id}  ${a.scope} ${a.value}${a.site ? ` at site ${a.site}` : ''}  "${clip(a.reason, 60)}" by ${a.author}, expires ${humanTime(a.expires, now, 'never')}`;
