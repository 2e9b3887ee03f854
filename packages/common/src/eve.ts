import { parseEndpointText } from './formats.js';

/**
 * p2pwall's findings as Suricata EVE JSON (pure), one definition for `p2pwall-sensor analyze
 * --format eve` and the brain's incident export, so that what reads Suricata's eve.json (EveBox,
 * Elastic/Filebeat's suricata module, Splunk, Wazuh, jq scripts) reads them too:
 * - an identified client or a learned peer is an `alert` (readers list alerts by
 *   `alert.signature`, `alert.category` and `alert.severity`);
 * - a flow is a `flow` event with Suricata's `flow` counters;
 * - the rest is in a `p2pwall` object, which readers keep as it is.
 *
 * `flow_id` links the events of one conversation: the inside host's with one outside endpoint
 * (inside address, outside address and port). A peer event names no inside port, so the id leaves
 * the inside port and the transport out: the client alert of a flow, the peer learned on it and
 * the flow events of the host to that peer all carry the same id. Like Suricata's, it is at most
 * 51 bits, so JSON readers in JavaScript keep it exact.
 */

export type EveProto = 'TCP' | 'UDP' | 'IP' | string;

/** Where an event happened, in EVE's words: src is the side that sent first (or the packet's sender). */
export interface EveEndpoints {
  proto: EveProto;
  srcIp: string;
  srcPort: number;
  destIp: string;
  destPort: number;
  /** Which end is the inside host: its address, and the outside end's address and port. */
  insideIp: string;
  outsideIp: string;
  outsidePort: number;
}

export interface EveAlert {
  action: 'allowed' | 'blocked';
  gid: 1;
  signature_id: number;
  rev: 1;
  signature: string;
  category: string;
  severity: number;
}

export interface EveFlowCounters {
  pkts_toserver: number;
  pkts_toclient: number;
  bytes_toserver: number;
  bytes_toclient: number;
  start: string;
  end: string;
  age: number;
  state: 'established' | 'closed';
  reason: 'timeout' | 'forced' | 'shutdown';
  alerted: boolean;
}

export interface EveEvent {
  timestamp: string;
  flow_id: number;
  event_type: 'alert' | 'flow';
  src_ip: string;
  src_port: number;
  dest_ip: string;
  dest_port: number;
  proto: EveProto;
  app_proto?: string;
  alert?: EveAlert;
  flow?: EveFlowCounters;
  p2pwall: Record<string, unknown>;
}

/** The category Emerging Threats files P2P rules under, which SIEM dashboards already group by. */
export const EVE_P2P_CATEGORY = 'Potential Corporate Privacy Violation';
/** Severities as Suricata numbers them (1 highest): an identified client, a learned peer. */
export const EVE_SEVERITY = { client: 2, peer: 3 } as const;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** `2026-01-01T00:00:00.123456+0000`: Suricata's timestamp, in UTC, to the microsecond. */
export function eveTimestamp(ms: number): string {
  const micros = Math.round(ms * 1000);
  const date = new Date(Math.floor(micros / 1000));
  const fraction = pad(((micros % 1_000_000) + 1_000_000) % 1_000_000, 6);
  const d = date;
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${fraction}+0000`;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;
const MASK_51 = (1n << 51n) - 1n;

/** FNV-1a, 64 bits, of text. */
function fnv1a64(text: string): bigint {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) hash = ((hash ^ BigInt(text.charCodeAt(i))) * FNV_PRIME) & MASK_64;
  return hash;
}

/** The conversation's id: the same for every event of an inside host with one outside endpoint; never 0. */
export function eveFlowId(insideIp: string, outsideIp: string, outsidePort: number): number {
  const id = Number(fnv1a64(`${insideIp}|${outsideIp}|${outsidePort}`) & MASK_51);
  return id === 0 ? 1 : id;
}

/** A rule's signature id: stable, from 9,000,000 to 9,999,999 (clear of local rules' 1,xxx,xxx and Emerging Threats' 2,xxx,xxx). */
export function eveSignatureId(rule: string): number {
  return 9_000_000 + Number(fnv1a64(rule) % 1_000_000n);
}

/** `tcp`/`udp` (and other IP protocol names) as EVE writes them; a peer for both transports is `IP`. */
export function eveProto(name: string): EveProto {
  return name === 'both' ? 'IP' : name.toUpperCase();
}

/**
 * The endpoints of a flow as `analyze` and incidents write it: `udp 192.168.1.5:3531 >
 * 203.0.113.1:41477`, with ` (inbound)` when the outside end sent the packet. `insideIp` says
 * which end is the inside host. Undefined for text of another shape.
 */
export function eveEndpointsOfFlowText(text: string, insideIp: string): EveEndpoints | undefined {
  const match = /^([a-z0-9-]+) (\S+) > (\S+?)( \(inbound\))?$/.exec(text);
  if (!match) return undefined;
  const src = parseEndpointText(match[2]!);
  const dest = parseEndpointText(match[3]!);
  if (!src || !dest) return undefined;
  const srcInside = src.ip === insideIp;
  if (!srcInside && dest.ip !== insideIp) return undefined;
  const outside = srcInside ? dest : src;
  return { proto: eveProto(match[1]!), srcIp: src.ip, srcPort: src.port, destIp: dest.ip, destPort: dest.port, insideIp, outsideIp: outside.ip, outsidePort: outside.port };
}

export interface EveAlertInput {
  tsMs: number;
  endpoints: EveEndpoints;
  rule: string;
  /** What the alert says after the rule: "client identified (KaZaA)". */
  what: string;
  severity: number;
  blocked: boolean;
  appProto?: string;
  p2pwall: Record<string, unknown>;
}

/** The fields every event starts with, in EVE's order. */
function base(tsMs: number, e: EveEndpoints, eventType: EveEvent['event_type']): Omit<EveEvent, 'p2pwall'> {
  return { timestamp: eveTimestamp(tsMs), flow_id: eveFlowId(e.insideIp, e.outsideIp, e.outsidePort), event_type: eventType, src_ip: e.srcIp, src_port: e.srcPort, dest_ip: e.destIp, dest_port: e.destPort, proto: e.proto };
}

export function eveAlert(input: EveAlertInput): EveEvent {
  return {
    ...base(input.tsMs, input.endpoints, 'alert'),
    ...(input.appProto ? { app_proto: input.appProto } : {}),
    alert: { action: input.blocked ? 'blocked' : 'allowed', gid: 1, signature_id: eveSignatureId(input.rule), rev: 1, signature: `P2PWALL ${input.rule} ${input.what}`, category: EVE_P2P_CATEGORY, severity: input.severity },
    p2pwall: input.p2pwall,
  };
}

export interface EveFlowInput {
  endpoints: EveEndpoints;
  /** The P2P protocol found on it, if any. */
  appProto: string | null;
  startMs: number;
  endMs: number;
  /** From the side that sent first (src) and from the other. */
  packetsToServer: number;
  packetsToClient: number;
  bytesToServer: number;
  bytesToClient: number;
  /** How p2pwall saw it end: idle, evicted, flushed (end of input) or ongoing (an interim report). */
  end: string;
  /** A rule fired on it, or it was dropped. */
  alerted: boolean;
  p2pwall: Record<string, unknown>;
}

const REASONS: Record<string, EveFlowCounters['reason']> = { idle: 'timeout', evicted: 'forced', flushed: 'shutdown', ongoing: 'timeout' };

export function eveFlow(input: EveFlowInput): EveEvent {
  const flow: EveFlowCounters = {
    pkts_toserver: input.packetsToServer,
    pkts_toclient: input.packetsToClient,
    bytes_toserver: input.bytesToServer,
    bytes_toclient: input.bytesToClient,
    start: eveTimestamp(input.startMs),
    end: eveTimestamp(input.endMs),
    age: Math.max(0, Math.round((input.endMs - input.startMs) / 1000)),
    // an interim report is of a live flow; every other flow event is of one that ended
    state: input.end === 'ongoing' ? 'established' : 'closed',
    reason: REASONS[input.end] ?? 'timeout',
    alerted: input.alerted,
  };
  // A flow event's timestamp is the flow's start, as Suricata writes it.
  return { ...base(input.startMs, input.endpoints, 'flow'), ...(input.appProto ? { app_proto: input.appProto } : {}), flow, p2pwall: input.p2pwall };
}
