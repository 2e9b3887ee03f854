import { endpointText, siteHostText, type Transport } from '../formats.js';
import { sensorName } from '../names.js';
import { transportOfWire } from '../wire-enums.js';
import { p2pwall } from '@p2pwall/proto';
import { formatIp } from './address.js';
import { isSaneInstance, saneEvidenceText, saneProtocolName, saneRuleIds, saneVia } from './sane-strings.js';
import { boundedCounter, isSaneSensorTime, MAX_FLOW_COUNTER } from './sane-values.js';

/**
 * SummaryBatch → observations (pure). Flows and events whose addresses cannot be read are
 * skipped and counted in `skipped`; a batch without a sensor id is malformed as a whole.
 */

export class MalformedBatchError extends Error {}

export const TCP = 6;
export const UDP = 17;

export interface FlowObservation {
  site: string;
  /** `site/ip` of the inside host. */
  host: string;
  hostIp: string;
  hostBytes: Uint8Array;
  insidePort: number;
  outsideIp: string;
  outsideBytes: Uint8Array;
  port: number;
  /** `ip:port` of the outside end. */
  endpoint: string;
  protocol: number;
  initiatorInside: boolean;
  answered: boolean;
  app: string;
  rules: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
  droppedPackets: number;
  /** The sensor dropped (some of) it: an attempt blocked. */
  dropped: boolean;
  /** An interim summary of a live flow: its counters are totals so far, superseded by the next summary. */
  ongoing: boolean;
}

/** What identified a host, as `analyze` prints it: the rule, its detail, the packet and its flow. */
export interface IdentifyingEvidence {
  rule: string;
  /** The module's detail, e.g. a network name; "" when it gave none. */
  detail: string;
  /** `udp 192.168.1.5:3531 > 203.0.113.1:41477`: the packet's own direction. */
  flow: string;
  /** Ordinal of the packet in the sensor's input; 0: unknown. */
  packet: number;
}

export interface ClientObservation {
  site: string;
  host: string;
  hostIp: string;
  hostBytes: Uint8Array;
  protocol: string;
  rules: string[];
  tsMs: number;
  /** The evidence that identified it (identifyingEvidence); absent when the sensor sent none. */
  identifying?: IdentifyingEvidence;
}

/**
 * The evidence to show first for an identification: the first that identifies (not merely
 * supports), else the first. Sensors list evidence in the order it was found.
 */
export function identifyingEvidence(evidence: readonly p2pwall.v1.IEvidence[], rule: (text: string) => string | undefined, text: (value: string) => string): IdentifyingEvidence | undefined {
  const chosen = evidence.find((e) => !e.supporting && e.rule) ?? evidence.find((e) => e.rule);
  const ruleId = chosen && rule(chosen.rule ?? '');
  if (!chosen || !ruleId) return undefined;
  return { rule: ruleId, detail: text(chosen.detail ?? ''), flow: text(chosen.flow ?? ''), packet: boundedCounter(chosen.packet) };
}

export interface PeerObservation {
  ip: string;
  ipBytes: Uint8Array;
  /** 0: every port of the address. */
  port: number;
  /** What the sensor learned it for (absent on the wire: both). */
  transport: Transport;
  protocol: string;
  via: string;
  /** `site/ip` of the inside host the peer was learned from ("" when unknown). */
  learnedFrom: string;
  tsMs: number;
}

export interface BatchObservations {
  site: string;
  gateway: string;
  /** `site/gateway/queue`. */
  sensor: string;
  instance: string;
  sequence: number;
  flows: FlowObservation[];
  clients: ClientObservation[];
  peers: PeerObservation[];
  /** Flows and events left out because an address or port was unreadable. */
  skipped: number;
  /** Times out of the sane window (replaced by the brain's clock) and counters over MAX_FLOW_COUNTER (bounded): sane-values.ts. */
  outOfRange: number;
  /** Protocol, app, rule and via strings that were no names or rule ids a sensor may send (sane-strings.ts): dropped. */
  invalidStrings: number;
}

const finite = (value: number | null | undefined, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);

export function observeBatch(batch: p2pwall.v1.ISummaryBatch, nowMs: number): BatchObservations {
  const sensor = batch.sensor;
  if (!sensor || !sensor.site || !sensor.gateway || !sensor.instance) throw new MalformedBatchError('batch without a complete sensor id (site, gateway, instance)');
  if (!isSaneInstance(sensor.instance)) throw new MalformedBatchError('sensor instance is not 1 to 64 printable ASCII characters');
  // a sensor numbers its batches 1, 2, 3, …: the duplicate check (ingest/dedup.ts) needs exact integers
  if (!Number.isSafeInteger(batch.sequence) || Number(batch.sequence) < 1) throw new MalformedBatchError('batch sequence is not an integer from 1 to 2^53 - 1');
  const site = sensor.site;
  const out: BatchObservations = {
    site,
    gateway: sensor.gateway,
    sensor: sensorName(site, sensor.gateway, sensor.queue ?? 0),
    instance: sensor.instance,
    sequence: Number(batch.sequence),
    flows: [],
    clients: [],
    peers: [],
    skipped: 0,
    outOfRange: 0,
    invalidStrings: 0,
  };
  const name = (text: string | null | undefined): string => {
    const sane = saneProtocolName(text ?? '');
    if (sane === undefined) out.invalidStrings += 1;
    return sane ?? '';
  };
  const rules = (list: readonly string[]): string[] => {
    const sane = saneRuleIds(list);
    out.invalidStrings += sane.dropped;
    return sane.rules;
  };
  const via = (text: string | null | undefined): string => {
    const sane = saneVia(text ?? '');
    if (sane === undefined) out.invalidStrings += 1;
    return sane ?? '';
  };
  /** A reported time (`fallback` when not a number, 0 for "unknown"); the brain's clock when out of the sane window. */
  const time = (value: number | null | undefined, fallback: number): number => {
    const ms = finite(value, fallback);
    if (ms === 0) return 0;
    if (isSaneSensorTime(ms, nowMs)) return ms;
    out.outOfRange += 1;
    return nowMs;
  };
  const counter = (value: number | null | undefined): number => {
    if (typeof value === 'number' && value > MAX_FLOW_COUNTER) out.outOfRange += 1;
    return boundedCounter(value);
  };
  const created = time(batch.createdMs, nowMs);
  for (const flow of batch.flows ?? []) {
    const hostIp = formatIp(flow.insideIp);
    const outsideIp = formatIp(flow.outsideIp);
    const port = flow.outsidePort ?? 0;
    if (hostIp === undefined || outsideIp === undefined || port > 65535) {
      out.skipped += 1;
      continue;
    }
    const lastSeenMs = time(flow.lastSeenMs, created);
    out.flows.push({
      site,
      host: siteHostText(site, hostIp),
      hostIp,
      hostBytes: flow.insideIp!,
      insidePort: flow.insidePort ?? 0,
      outsideIp,
      outsideBytes: flow.outsideIp!,
      port,
      endpoint: endpointText(outsideIp, port),
      protocol: flow.protocol ?? 0,
      initiatorInside: flow.initiatorInside ?? false,
      answered: flow.answered ?? false,
      app: name(flow.app),
      rules: rules(flow.rules ?? []),
      firstSeenMs: time(flow.firstSeenMs, lastSeenMs),
      lastSeenMs,
      packetsOut: counter(flow.packetsOut),
      packetsIn: counter(flow.packetsIn),
      bytesOut: counter(flow.bytesOut),
      bytesIn: counter(flow.bytesIn),
      droppedPackets: counter(flow.droppedPackets),
      dropped: flow.verdict === p2pwall.v1.Verdict.VERDICT_DROP || (flow.droppedPackets ?? 0) > 0,
      ongoing: flow.end === p2pwall.v1.FlowEnd.FLOW_END_ONGOING,
    });
  }
  for (const event of batch.events ?? []) {
    if (event.client) {
      const hostIp = formatIp(event.client.host);
      if (hostIp === undefined) {
        out.skipped += 1;
        continue;
      }
      out.clients.push({
        site,
        host: siteHostText(site, hostIp),
        hostIp,
        hostBytes: event.client.host!,
        protocol: name(event.client.protocol),
        rules: rules([...new Set((event.client.evidence ?? []).map((e) => e.rule ?? '').filter((r) => r !== ''))].sort()),
        tsMs: time(event.client.tsMs, created),
        identifying: identifyingEvidence(event.client.evidence ?? [], (r) => saneRuleIds([r]).rules[0], saneEvidenceText),
      });
    } else if (event.peer) {
      const ip = formatIp(event.peer.ip);
      const port = event.peer.port ?? 0;
      if (ip === undefined || port > 65535) {
        out.skipped += 1;
        continue;
      }
      const from = formatIp(event.peer.learnedFrom);
      out.peers.push({
        ip,
        ipBytes: event.peer.ip!,
        port,
        transport: transportOfWire(event.peer.transport),
        protocol: name(event.peer.protocol),
        via: via(event.peer.via),
        learnedFrom: from === undefined ? '' : siteHostText(site, from),
        tsMs: time(event.peer.tsMs, created),
      });
    } else {
      out.skipped += 1;
    }
  }
  return out;
}
