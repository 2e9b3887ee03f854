import type { PeerView } from '../../api/views.js';
import { targetText } from '../target.js';
import { list } from '../format.js';
import { allowLine, decisionBlocks } from './decisions.js';
import { incidentLine } from './incidents.js';

/** "Why is this peer blocked, and who talked to it?" */
export function peerBlock(p: PeerView, now: number): string {
  const name = targetText({ ip: p.ip, port: p.port });
  const ports = p.blockedPorts;
  const state = p.blocked ? 'BLOCKED' : ports.length > 0 ? `not blocked as a whole; BLOCKED at port${ports.length === 1 ? '' : 's'} ${list(ports, 10)}` : 'not blocked';
  let out = `Peer ${name}: ${state}\n`;
  if (p.decisions.length > 0) {
    out += `\nBlocked by ${p.decisions.length} decision${p.decisions.length === 1 ? '' : 's'}:\n`;
    out += decisionBlocks(p.decisions, now);
  }
  if (p.allowed.length > 0) {
    out += '\nAllowed by:\n';
    for (const a of p.allowed) out += `  ${allowLine(a, now)}\n`;
  }
  out += `\nContacted by: ${list(p.hosts, 20)}\n`;
  out += `Sites: ${list(p.sites, 20)}\n`;
  out += `\nIncidents (${p.incidents.length}):\n`;
  if (p.incidents.length === 0) out += '  none\n';
  for (const i of p.incidents) out += `  ${incidentLine(i, now)}\n`;
  return out;
}
