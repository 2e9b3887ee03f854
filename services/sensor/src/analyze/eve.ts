import { parseAddress } from '@p2pwall/common/address';
import type { CidrSet } from '@p2pwall/common/cidr';
import { EVE_SEVERITY, eveAlert, eveEndpointsOfFlowText, eveFlow, eveProto, eveTimestamp, type EveEndpoints, type EveEvent } from '@p2pwall/common/eve';
import type { ClientEvent, EngineEvent, FlowEvent, PeerEvent } from '../events.js';

/**
 * The engine's events as Suricata EVE JSON (`analyze --format eve`), through the mapping the
 * brain's export uses too (@p2pwall/common/eve): a client identified and a peer learned are
 * alerts, an ended flow a flow event; lock and peer-refresh events have no EVE form. Pure: the
 * inside networks say which end of a flow is the inside host.
 */

export interface EveContext {
  inside: CidrSet;
  /** Drops nothing (--monitor): alerts say "allowed". */
  monitor: boolean;
}

function isInside(inside: CidrSet, ip: string): boolean {
  const bytes = parseAddress(ip);
  return bytes !== null && inside.containsBytes(bytes);
}

function clientAlert(event: ClientEvent, context: EveContext): EveEvent | undefined {
  const first = event.evidence[0];
  const endpoints = first && eveEndpointsOfFlowText(first.flow, event.host);
  if (!first || !endpoints) return undefined;
  return eveAlert({
    tsMs: event.ts,
    endpoints,
    rule: first.rule,
    what: `${event.protocol} client identified${first.detail ? ` (${first.detail})` : ''}`,
    severity: EVE_SEVERITY.client,
    blocked: !context.monitor,
    appProto: event.protocol,
    p2pwall: { event: 'client', host: event.host, protocol: event.protocol, protocols: event.protocols, rule: first.rule, detail: first.detail ?? '', packet: first.packet, flow: first.flow, evidence: event.evidence, hostPackets: event.hostPackets, lockedUntil: eveTimestamp(event.lockedUntil), reidentified: event.reidentified },
  });
}

function peerAlert(event: PeerEvent, context: EveContext): EveEvent {
  const inside = event.learnedFrom ?? '';
  const endpoints: EveEndpoints = { proto: eveProto(event.transport), srcIp: inside, srcPort: 0, destIp: event.ip, destPort: event.port, insideIp: inside, outsideIp: event.ip, outsidePort: event.port };
  return eveAlert({
    tsMs: event.ts,
    endpoints,
    rule: event.via,
    what: `${event.protocol} peer learned`,
    severity: EVE_SEVERITY.peer,
    blocked: !context.monitor,
    appProto: event.protocol,
    p2pwall: { event: 'peer', ip: event.ip, port: event.port, transport: event.transport, protocol: event.protocol, via: event.via, learnedFrom: event.learnedFrom, expiresAt: eveTimestamp(event.expiresAt) },
  });
}

function flowEvent(event: FlowEvent, context: EveContext): EveEvent {
  // src sent first; the inside end is src unless dst is the inside one (an inbound flow)
  const srcInside = isInside(context.inside, event.src) || !isInside(context.inside, event.dst);
  const [insideIp, outsideIp, outsidePort] = srcInside ? [event.src, event.dst, event.dport] : [event.dst, event.src, event.sport];
  const endpoints: EveEndpoints = { proto: eveProto(event.proto), srcIp: event.src, srcPort: event.sport, destIp: event.dst, destPort: event.dport, insideIp, outsideIp, outsidePort };
  return eveFlow({
    endpoints,
    appProto: event.app,
    startMs: event.firstSeen,
    endMs: event.lastSeen,
    packetsToServer: srcInside ? event.packetsOut : event.packetsIn,
    packetsToClient: srcInside ? event.packetsIn : event.packetsOut,
    bytesToServer: srcInside ? event.bytesOut : event.bytesIn,
    bytesToClient: srcInside ? event.bytesIn : event.bytesOut,
    end: event.end,
    alerted: event.rules.length > 0 || event.verdict === 'drop',
    p2pwall: { event: 'flow', letter: event.letter, app: event.app, rules: event.rules, verdict: event.verdict, reason: event.reason, wouldDrop: event.wouldDrop, droppedPackets: event.droppedPackets, answered: event.answered, end: event.end },
  });
}

/** The EVE event of an engine event, or undefined when it has none. */
export function eveEvent(event: EngineEvent, context: EveContext): EveEvent | undefined {
  switch (event.event) {
    case 'client':
      return clientAlert(event, context);
    case 'peer':
      return peerAlert(event, context);
    case 'flow':
      return flowEvent(event, context);
    default:
      return undefined;
  }
}
