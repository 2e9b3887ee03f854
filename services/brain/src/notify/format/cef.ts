import { isIP } from 'node:net';
import { headline, type NotificationEvent } from '../events.js';

/**
 * An ArcSight CEF message: `CEF:0|p2pwall|brain|version|signatureId|name|severity|extensions`.
 * Header fields escape `\` and `|`; extension values escape `\`, `=` and line breaks (CEF
 * Implementation Standard, "Character encoding"). Addresses go to src/dst (IPv4) or
 * c6a2/c6a3 (IPv6); what CEF has no key for goes to labelled custom strings.
 */

const header = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
const value = (text: string): string => text.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r/g, '\\r').replace(/\n/g, '\\n');

/** CEF severity 0-10 of each kind. */
export const CEF_SEVERITY: Record<NotificationEvent['kind'], number> = { 'incident-opened': 7, 'incident-escalated': 8, 'operator-overrule': 5 };
const NAME: Record<NotificationEvent['kind'], string> = { 'incident-opened': 'New P2P host', 'incident-escalated': 'P2P incident escalated', 'operator-overrule': 'Operator overrule' };

function address(key: 'src' | 'dst', ip: string): [string, string][] {
  if (isIP(ip) === 4) return [[key, ip]];
  if (isIP(ip) === 6) return key === 'src' ? [['c6a2', ip], ['c6a2Label', 'Source IPv6 Address']] : [['c6a3', ip], ['c6a3Label', 'Destination IPv6 Address']];
  return [];
}

/** The bare address of a peer written `ip:port`, `[v6]:port` or `ip`. */
function peerAddress(peer: string): string {
  if (peer.startsWith('[')) return peer.slice(1, peer.indexOf(']'));
  const colon = peer.indexOf(':');
  return colon >= 0 && peer.indexOf(':', colon + 1) < 0 ? peer.slice(0, colon) : peer;
}

function extensions(event: NotificationEvent, source: string): [string, string][] {
  const common: [string, string][] = [['rt', String(Math.round(event.atMs))], ['dvchost', source], ['externalId', event.eventId], ['msg', headline(event)]];
  if (event.kind === 'operator-overrule') {
    const o = event.overrule;
    return [...common, ['act', o.action], ['suser', o.author], ['cs1Label', 'entry'], ['cs1', o.id], ['cs2Label', 'site'], ['cs2', o.site], ['cs3Label', 'scope'], ['cs3', o.scope], ['cs4Label', 'value'], ['cs4', o.value], ['reason', o.reason]];
  }
  const i = event.incident;
  const rows: [string, string][] = [
    ...common,
    ...address('src', i.host),
    ...(i.peerSample[0] ? address('dst', peerAddress(i.peerSample[0])) : []),
    ['app', i.protocol],
    ['act', i.decisions.some((id) => id.startsWith('host:')) ? 'lock' : i.decisions.length > 0 ? 'block' : 'detect'],
    ['cs1Label', 'incident'],
    ['cs1', i.id],
    ['cs2Label', 'site'],
    ['cs2', i.site],
    ['cs3Label', 'rule'],
    ['cs3', i.rule],
    ['cs4Label', 'gateways'],
    ['cs4', i.gateways.join(',')],
    ['cn1Label', 'peers'],
    ['cn1', String(i.peers)],
    ['cn2Label', 'decisions'],
    ['cn2', String(i.decisionCount)],
  ];
  if (event.kind === 'incident-escalated') rows.push(['reason', event.reasons.join('; ')]);
  return rows;
}

export function cefMessage(event: NotificationEvent, version: string, source: string): string {
  const ext = extensions(event, source)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  return `CEF:0|p2pwall|brain|${header(version)}|${header(event.kind)}|${header(NAME[event.kind])}|${CEF_SEVERITY[event.kind]}|${ext}`;
}
