import type { IncidentView, RuleCountView } from '../../api/views.js';
import { ageOnly, bytes, clip, fields, humanTime, indent, list, table } from '../format.js';

/** Incidents as text: a table for lists, a block with evidence and sample flows for one. */

/**
 * Rules in the brain's order: the one that identified the host first, then the most frequent
 * (store.ts identifyingFirst). Never re-sorted here, or the identifying signature that fired
 * once would hide behind `+2 more`.
 */
export const ruleCounts = (evidence: RuleCountView[], max = 3): string => list(evidence.map((e) => `${e.rule}×${e.count}`), max);

/** A count that may still grow (its flows are still live) ends in `+`. */
const soFar = (i: IncidentView, text: string): string => (i.provisional ? `${text}+` : text);

/** The blocked attempts and traffic of an incident, and when they are provisional, why. */
function counts(i: IncidentView): [string, string][] {
  const pairs: [string, string][] = [
    ['blocked', `${i.attemptsBlocked} attempts${i.provisional ? ' so far' : ''}`],
    ['traffic', `${bytes(i.bytes)}${i.provisional ? ' so far' : ''}`],
  ];
  if (i.provisional) pairs.push(['counts', `provisional: ${i.liveFlows} flow${i.liveFlows === 1 ? ' is' : 's are'} still live, counted up to their last summary`]);
  return pairs;
}

/** What identified the host first, as `analyze` prints it. */
function identification(i: IncidentView, now: number): [string, string][] {
  const e = i.identifiedBy;
  if (!e) return [];
  const what = `${e.rule}${e.detail ? ` (${e.detail})` : ''}`;
  const where = [e.flow, e.packet ? `packet ${e.packet}` : '', `${e.gateway}, ${humanTime(e.seen, now)}`].filter((part) => part !== '').join(', ');
  return [['identified by', `${what} on ${where}`]];
}

/** The operators' state, and for a closed incident with newer evidence, that it came. */
function workflowState(i: IncidentView, now: number): [string, string][] {
  const last = i.workflow.at(-1);
  const pairs: [string, string][] = [['state', last ? `${i.state} by ${last.author}, ${humanTime(last.at, now)}: ${last.note}` : i.state]];
  if (i.evidenceSinceClosed) pairs.push(['since closed', `new evidence (last seen ${humanTime(i.lastSeen, now)}); the incident stays closed: reopen it to work on it again`]);
  return pairs;
}

export function incidentsTable(items: IncidentView[], now: number, width = Infinity): string {
  if (items.length === 0) return 'no incidents\n';
  return table(
    ['ID', 'SITE', 'HOST', 'PROTOCOL', 'STATE', 'FIRST SEEN', 'LAST SEEN', 'GATEWAYS', 'PEERS', 'BLOCKED', 'RULES'],
    items.map((i) => [
      i.id,
      i.site,
      i.host,
      i.protocol,
      i.state,
      humanTime(i.firstSeen, now),
      humanTime(i.lastSeen, now),
      list(i.gateways, 2),
      String(i.peers.count),
      soFar(i, String(i.attemptsBlocked)),
      ruleCounts(i.evidence, 2),
    ]),
    { width, keep: ['ID', 'HOST'], compact: { 'FIRST SEEN': ageOnly, 'LAST SEEN': ageOnly }, drop: ['GATEWAYS', 'FIRST SEEN', 'PROTOCOL', 'RULES', 'STATE'] },
  );
}

export function incidentBlock(i: IncidentView, now: number): string {
  // The operators' state, then whether evidence still comes (within the quiet time) or the episode is over.
  let out = `Incident ${i.id} (${i.state}, ${i.open ? 'active' : 'quiet'})\n`;
  out += fields([
    ['site', i.site],
    ['host', i.host],
    ['protocol', i.protocol],
    ['first seen', humanTime(i.firstSeen, now)],
    ['last seen', humanTime(i.lastSeen, now)],
    ['gateways', list(i.gateways, 10)],
    ...workflowState(i, now),
    ...identification(i, now),
    ...counts(i),
  ], '  ');
  out += '\nEvidence (rule × times it fired):\n';
  out += i.evidence.length === 0 ? '  none\n' : indent(table(['RULE', 'COUNT'], i.evidence.map((e) => [e.rule, String(e.count)])));
  out += `\nPeers: ${i.peers.count} distinct outside peers\n`;
  if (i.peers.sample.length > 0) out += `  ${list(i.peers.sample, 20, i.peers.count)}\n`;
  out += `\nDecisions: ${i.decisionCount}\n`;
  if (i.decisions.length > 0) out += `  ${list(i.decisions, 20, i.decisionCount)}\n`;
  if (i.workflow.length > 0) {
    out += `\nWorkflow: ${i.workflow.length} step${i.workflow.length === 1 ? '' : 's'}\n`;
    out += indent(table(['WHEN', 'ACTION', 'BY', 'NOTE'], i.workflow.map((s) => [humanTime(s.at, now), s.action, `${s.author} (${s.role})`, s.note])));
  }
  const samples = i.samples ?? [];
  out += `\nSample flows: ${samples.length}\n`;
  if (samples.length > 0) {
    out += indent(table(
      ['SEEN', 'GATEWAY', 'PROTO', 'PEER', 'APP', 'RULES', 'VERDICT', 'PKTS OUT/IN', 'BYTES OUT/IN'],
      samples.map((s) => [
        humanTime(s.seen, now),
        s.gateway,
        s.protocol,
        s.peer,
        s.app || '-',
        list(s.rules, 2),
        s.verdict,
        `${s.packetsOut}/${s.packetsIn}`,
        `${bytes(s.bytesOut)}/${bytes(s.bytesIn)}`,
      ]),
    ));
  }
  return out;
}

/** One line per incident, for the host and peer blocks. */
export const incidentLine = (i: IncidentView, now: number): string =>
  `${i.id}  ${i.site}/${i.host}  ${i.protocol}  last seen ${humanTime(i.lastSeen, now)}  ${i.peers.count} peers  ${clip(ruleCounts(i.evidence, 2), 60)}`;
