import { parseIpProtocolName, wireTransport } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { parseAddress, parseIpv4Into } from '../decode/address.js';
import type { CidrSet } from '../decode/cidr.js';
import type { ClientEvent, EngineEvent, FlowEvent, PeerEvent } from '../events.js';

/**
 * Engine events → wire messages (pure). A `flow` event becomes a FlowSummary; `client` and
 * `peer` events become SensorEvents. `lock` and `peer-refresh` events carry nothing the brain
 * lacks (a lock follows its client event; a refresh only moves an expiry) and map to nothing.
 */

export class SummaryError extends Error {}

const EMPTY = new Uint8Array(0);

function addressBytes(text: string, what: string): Uint8Array {
  // Dotted-quad IPv4, two per flow summary, without parseAddress's regex, split and array (it
  // was a third of a summary's cost under a flood of new flows: bench/flow-churn --uplink).
  const ipv4 = new Uint8Array(4);
  if (parseIpv4Into(text, ipv4)) return ipv4;
  const bytes = parseAddress(text);
  if (!bytes) throw new SummaryError(`${what}: "${text}" is not an IP address`);
  return bytes;
}

/** "tcp" → 6, "udp" → 17, "ip-47" → 47 (ipProtocolName, inverted). */
export function protocolNumber(name: string): number {
  const number = parseIpProtocolName(name);
  if (number === undefined) throw new SummaryError(`protocol "${name}" is unknown`);
  return number;
}

const ENDS: Record<FlowEvent['end'], p2pwall.v1.FlowEnd> = {
  idle: p2pwall.v1.FlowEnd.FLOW_END_IDLE,
  evicted: p2pwall.v1.FlowEnd.FLOW_END_EVICTED,
  flushed: p2pwall.v1.FlowEnd.FLOW_END_FLUSHED,
  ongoing: p2pwall.v1.FlowEnd.FLOW_END_ONGOING,
};

/**
 * The flow's inside side: the initiator (src) when it is in an inside network, else dst when
 * dst is inside; when neither is (or both are), the initiator counts as inside, the way the
 * sensor reports the first sender as the flow's own host.
 */
export function flowSummary(event: FlowEvent, inside: CidrSet): p2pwall.v1.IFlowSummary {
  const src = addressBytes(event.src, 'flow src');
  const dst = addressBytes(event.dst, 'flow dst');
  const initiatorInside = inside.containsBytes(src) || !inside.containsBytes(dst);
  return {
    insideIp: initiatorInside ? src : dst,
    insidePort: initiatorInside ? event.sport : event.dport,
    outsideIp: initiatorInside ? dst : src,
    outsidePort: initiatorInside ? event.dport : event.sport,
    protocol: protocolNumber(event.proto),
    initiatorInside,
    firstSeenMs: event.firstSeen,
    lastSeenMs: event.lastSeen,
    packetsOut: event.packetsOut,
    bytesOut: event.bytesOut,
    packetsIn: event.packetsIn,
    bytesIn: event.bytesIn,
    answered: event.answered,
    app: event.app ?? '',
    rules: [...event.rules],
    verdict: event.verdict === 'drop' ? p2pwall.v1.Verdict.VERDICT_DROP : p2pwall.v1.Verdict.VERDICT_ACCEPT,
    reason: event.reason,
    droppedPackets: event.droppedPackets,
    wouldDrop: event.wouldDrop,
    end: ENDS[event.end],
  };
}

export function clientEvent(event: ClientEvent): p2pwall.v1.ISensorEvent {
  return {
    client: {
      host: addressBytes(event.host, 'client host'),
      protocol: event.protocol,
      evidence: event.evidence.map((e) => ({ protocol: e.protocol, rule: e.rule, flow: e.flow, supporting: e.supporting, detail: e.detail ?? '', packet: e.packet })),
      tsMs: event.ts,
      lockedUntilMs: event.lockedUntil,
      hostPackets: event.hostPackets,
    },
  };
}

export function peerEvent(event: PeerEvent): p2pwall.v1.ISensorEvent {
  return {
    peer: {
      ip: addressBytes(event.ip, 'peer ip'),
      port: event.port,
      protocol: event.protocol,
      via: event.via,
      learnedFrom: event.learnedFrom === null ? EMPTY : addressBytes(event.learnedFrom, 'peer learnedFrom'),
      tsMs: event.ts,
      expiresMs: event.expiresAt,
      transport: wireTransport(event.transport),
    },
  };
}

export type UplinkItem = { flow: p2pwall.v1.IFlowSummary } | { event: p2pwall.v1.ISensorEvent };

/** What of an engine event goes on the wire; null: nothing. Throws SummaryError on an unparsable address. */
export function uplinkItem(event: EngineEvent, inside: CidrSet): UplinkItem | null {
  switch (event.event) {
    case 'flow':
      return { flow: flowSummary(event, inside) };
    case 'client':
      return { event: clientEvent(event) };
    case 'peer':
      return { event: peerEvent(event) };
    default:
      return null;
  }
}
