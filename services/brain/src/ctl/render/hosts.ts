import type { HostView } from '../../api/views.js';
import { allowLine, decisionBlocks } from './decisions.js';
import { incidentLine } from './incidents.js';

/** What one inside host did and what holds for it now. */
export function hostBlock(h: HostView, now: number): string {
  let out = `Host ${h.ip}${h.site ? ` at site ${h.site}` : ' (every site)'}\n`;
  out += h.locks.length === 0 ? '\nNot locked.\n' : `\nLocked at ${h.locks.map((l) => l.site || 'every site').join(', ')}:\n`;
  out += decisionBlocks(h.locks, now);
  const others = h.decisions.filter((d) => !h.locks.some((l) => l.id === d.id));
  if (others.length > 0) {
    out += `\nOther decisions (${others.length}):\n`;
    out += decisionBlocks(others, now);
  }
  out += h.allowed.length === 0 ? '\nAllowed: no\n' : '\nAllowed by:\n';
  for (const a of h.allowed) out += `  ${allowLine(a, now)}\n`;
  out += `\nIncidents (${h.incidents.length}):\n`;
  if (h.incidents.length === 0) out += '  none\n';
  for (const i of h.incidents) out += `  ${incidentLine(i, now)}\n`;
  return out;
}
