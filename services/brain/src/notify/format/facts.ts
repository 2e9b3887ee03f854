import type { NotificationEvent } from '../events.js';

/** An event as name/value pairs, in the order a person reads them (chat payloads show these). */
export function facts(event: NotificationEvent): [string, string][] {
  if (event.kind === 'operator-overrule') {
    const o = event.overrule;
    const rows: [string, string][] = [
      ['Action', o.action],
      ['Entry', o.id],
      ['Site', o.site || 'every site'],
      ['Author', o.author || '(unknown)'],
      ['Expires', o.expires ?? 'never'],
    ];
    if (o.reason) rows.push(['Reason', o.reason]);
    if (o.affected.length > 0) rows.push([o.action === 'allow-added' ? 'Suspended' : 'Restored', o.affected.join(', ')]);
    return rows;
  }
  const i = event.incident;
  const rows: [string, string][] = [
    ['Host', i.host],
    ['Site', i.site],
    ['Protocol', i.protocol],
    ['Identified by', i.rule ? `${i.rule}${i.detail ? ` (${i.detail})` : ''}` : '(correlation)'],
  ];
  if (i.flow) rows.push(['Flow', i.flow]);
  rows.push(['Gateways', i.gateways.join(', ')], ['Peers', String(i.peers)], ['Decisions', i.decisions.join(', ') || 'none'], ['Incident', i.id], ['First seen', i.firstSeen]);
  if (event.kind === 'incident-escalated') rows.unshift(['Escalation', event.reasons.join('; ')]);
  return rows;
}
