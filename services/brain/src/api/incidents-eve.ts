import { EVE_SEVERITY, eveAlert, eveEndpointsOfFlowText, eveFlow, eveProto, type EveEndpoints, type EveEvent } from '@p2pwall/common/eve';
import { parseEndpointText } from '@p2pwall/common/formats';
import type { FlowSampleView, IncidentView } from './views.js';

/**
 * Incidents as Suricata EVE JSON (pure), through the mapping `analyze --format eve` uses
 * (@p2pwall/common/eve): an incident is an alert (its identifying evidence: rule, detail and
 * flow, or its first rule and peer when only correlation found it), its sample flows are flow
 * events. flow_id names the host's conversation with one outside endpoint, as in analyze, so an
 * incident's alert, its sample flows and an analyze run over the same traffic link up.
 */

const ms = (iso: string): number => Date.parse(iso);

/** The outside end an incident's alert names when no identifying flow does: its first sample peer, or the unspecified address. */
function fallbackEndpoints(i: IncidentView): EveEndpoints {
  const peer = parseEndpointText(i.peers.sample[0] ?? '') ?? { ip: i.host.includes(':') ? '::' : '0.0.0.0', port: 0 };
  return { proto: 'IP', srcIp: i.host, srcPort: 0, destIp: peer.ip, destPort: peer.port, insideIp: i.host, outsideIp: peer.ip, outsidePort: peer.port };
}

export function incidentAlert(i: IncidentView): EveEvent {
  const why = i.identifiedBy;
  const endpoints = (why && eveEndpointsOfFlowText(why.flow, i.host)) ?? fallbackEndpoints(i);
  const rule = why?.rule ?? i.evidence[0]?.rule ?? `${i.protocol}/unknown`;
  return eveAlert({
    tsMs: why ? ms(why.seen) : ms(i.firstSeen),
    endpoints,
    rule,
    what: `${i.protocol} client identified${why?.detail ? ` (${why.detail})` : ''}`,
    severity: EVE_SEVERITY.client,
    blocked: i.decisionCount > 0,
    appProto: i.protocol,
    p2pwall: {
      event: 'incident',
      incident: i.id,
      site: i.site,
      gateway: why?.gateway ?? i.gateways[0] ?? '',
      gateways: i.gateways,
      host: i.host,
      protocol: i.protocol,
      state: i.state,
      firstSeen: i.firstSeen,
      lastSeen: i.lastSeen,
      rule,
      detail: why?.detail ?? '',
      flow: why?.flow ?? '',
      packet: why?.packet ?? 0,
      evidence: i.evidence,
      peers: i.peers.count,
      attemptsBlocked: i.attemptsBlocked,
      bytes: i.bytes,
      decisions: i.decisions,
      decisionCount: i.decisionCount,
    },
  });
}

/** A sample flow: outbound from the host (samples keep no inside port, so src_port is 0). */
export function sampleFlow(i: IncidentView, s: FlowSampleView): EveEvent | undefined {
  const peer = parseEndpointText(s.peer);
  if (!peer) return undefined;
  const seen = ms(s.seen);
  return eveFlow({
    endpoints: { proto: eveProto(s.protocol), srcIp: i.host, srcPort: 0, destIp: peer.ip, destPort: peer.port, insideIp: i.host, outsideIp: peer.ip, outsidePort: peer.port },
    appProto: s.app || null,
    startMs: seen,
    endMs: seen,
    packetsToServer: s.packetsOut,
    packetsToClient: s.packetsIn,
    bytesToServer: s.bytesOut,
    bytesToClient: s.bytesIn,
    end: 'idle',
    alerted: s.rules.length > 0 || s.verdict === 'drop',
    p2pwall: { event: 'flow', incident: i.id, site: i.site, gateway: s.gateway, app: s.app, rules: s.rules, verdict: s.verdict },
  });
}

/** One incident's events: its alert, then its sample flows. */
export function incidentEve(i: IncidentView): EveEvent[] {
  const flows = (i.samples ?? []).flatMap((s) => sampleFlow(i, s) ?? []);
  return [incidentAlert(i), ...flows];
}

/** EVE's file form: one JSON object a line. */
export const eveLines = (events: readonly EveEvent[]): string => events.map((e) => `${JSON.stringify(e)}\n`).join('');
