import { endpointText, type Transport } from '../formats.js';
import { MAX_ENDPOINT_HOSTS, type RulesConfig } from './config.js';
import type { BatchObservations } from './observe.js';
import { endpointAdditions, endpointAggregate, endpointFinding, entriesAggregates, entriesBlockedTally, hostAdditions, hostFindings, windowEntries, type Finding, type IsBlocked } from './rules.js';
import { mergeTimedSet, type Mark, type TimedSet } from './window.js';

/**
 * The brain's correlation rules over observations in memory, with the observations' own clock:
 * what `p2pwall-sensor analyze --correlate` shows of a capture. The same rule functions,
 * thresholds and window bounds as the brain's ingest (ingest/processor.ts), with in-memory sets
 * where the brain keeps them in Redis; pure (the caller passes each batch's time).
 *
 * What the brain would decide is followed as far as the rules read it: a client the sensor
 * identified, and a host a host rule flagged, count as known clients while their lock would
 * last; a peer the sensor learned, and an endpoint correlate/peer-fanout flagged, count as
 * blocked for correlate/blocked-peers while their block would last. Operators' allow entries
 * and decisions are not known offline.
 */

/** A rule that fired, and on what: an inside host (`site/ip`) or an outside endpoint. */
export interface CorrelationFinding extends Finding {
  subject: 'host' | 'endpoint';
  /** `site/ip` for a host, `ip:port` (endpointText) for an endpoint. */
  target: string;
  /** The observations' time when the rule first fired on this target. */
  firedAtMs: number;
}

/** Sets not merged into for this many batches are checked for expiry (bounds memory over long captures). */
const PRUNE_EVERY_BATCHES = 256;

export class OfflineCorrelation {
  private readonly endpointSets = new Map<string, TimedSet>();
  private readonly hostWindows = new Map<string, TimedSet>();
  /** Inside host (site/ip) → until when the brain's lock would hold. */
  private readonly locks = new Map<string, number>();
  /** `transport|endpoint` or `transport|ip` (a whole address) → until when the block would hold. */
  private readonly blocks = new Map<string, number>();
  /** `rule|target` → the strongest finding so far. */
  private readonly found = new Map<string, CorrelationFinding>();
  private batches = 0;

  constructor(private readonly rules: RulesConfig) {}

  /** One batch's observations at `nowMs`; returns the findings that fired for the first time on their target. */
  observe(obs: BatchObservations, nowMs: number): CorrelationFinding[] {
    const { correlation, expiry } = this.rules;
    const fresh: CorrelationFinding[] = [];
    for (const client of obs.clients) this.extend(this.locks, client.host, nowMs + expiry.signature.hostSeconds * 1000);
    for (const peer of obs.peers) this.block(peer.transport, peer.port === 0 ? peer.ip : endpointText(peer.ip, peer.port), nowMs + expiry.signature.peerSeconds * 1000);

    const known = new Set<string>();
    for (const [host, until] of this.locks) if (until > nowMs) known.add(host);
    const fanoutCutoff = nowMs - correlation.fanout.windowSeconds * 1000;
    for (const [endpoint, entry] of endpointAdditions(obs, known, correlation)) {
      const set = mergeTimedSet(this.endpointSets.get(endpoint) ?? new Map<string, Mark>(), entry.additions, fanoutCutoff, MAX_ENDPOINT_HOSTS);
      this.endpointSets.set(endpoint, set);
      const finding = endpointFinding(endpointAggregate(set), correlation);
      if (!finding) continue;
      this.block('both', endpoint, nowMs + expiry.correlation.peerSeconds * 1000);
      this.record({ ...finding, subject: 'endpoint', target: endpoint, firedAtMs: nowMs }, fresh);
    }

    const isBlocked: IsBlocked = (endpoint, ip, transport) => this.blocked(transport, endpoint, nowMs) || this.blocked(transport, ip, nowMs);
    const hostCutoff = nowMs - correlation.host.windowSeconds * 1000;
    for (const [host, entry] of hostAdditions(obs)) {
      const window = mergeTimedSet(this.hostWindows.get(host) ?? new Map<string, Mark>(), entry.additions, hostCutoff, correlation.host.maxEntries);
      this.hostWindows.set(host, window);
      const entries = windowEntries(window);
      const findings = hostFindings(entriesAggregates(entries, correlation), entriesBlockedTally(entries, isBlocked), correlation);
      if (findings.length > 0) this.extend(this.locks, host, nowMs + expiry.correlation.hostSeconds * 1000);
      for (const finding of findings) this.record({ ...finding, subject: 'host', target: host, firedAtMs: nowMs }, fresh);
    }

    if (++this.batches % PRUNE_EVERY_BATCHES === 0) this.prune(nowMs);
    return fresh;
  }

  /** Every rule that fired, once per rule and target with its largest count, in the order they first fired. */
  findings(): CorrelationFinding[] {
    return [...this.found.values()];
  }

  private record(finding: CorrelationFinding, fresh: CorrelationFinding[]): void {
    const key = `${finding.rule}|${finding.target}`;
    const before = this.found.get(key);
    if (!before) {
      this.found.set(key, finding);
      fresh.push(finding);
    } else if (finding.count > before.count) {
      this.found.set(key, { ...finding, firedAtMs: before.firedAtMs, firstSeenMs: Math.min(before.firstSeenMs, finding.firstSeenMs) });
    }
  }

  private block(transport: Transport, target: string, untilMs: number): void {
    for (const t of transport === 'both' ? (['tcp', 'udp'] as const) : [transport]) this.extend(this.blocks, `${t}|${target}`, untilMs);
  }

  private blocked(transport: 'tcp' | 'udp', target: string, nowMs: number): boolean {
    return (this.blocks.get(`${transport}|${target}`) ?? -Infinity) > nowMs;
  }

  private extend(map: Map<string, number>, key: string, untilMs: number): void {
    map.set(key, Math.max(map.get(key) ?? -Infinity, untilMs));
  }

  /** Forgets sets whose newest member left the window, and locks and blocks that ended. */
  private prune(nowMs: number): void {
    const { fanout, host } = this.rules.correlation;
    forgetStale(this.endpointSets, nowMs - fanout.windowSeconds * 1000);
    forgetStale(this.hostWindows, nowMs - host.windowSeconds * 1000);
    for (const map of [this.locks, this.blocks]) for (const [key, until] of map) if (until <= nowMs) map.delete(key);
  }
}

function forgetStale(sets: Map<string, TimedSet>, cutoffMs: number): void {
  for (const [key, set] of sets) {
    let newest = -Infinity;
    for (const mark of set.values()) newest = Math.max(newest, mark.ts);
    if (newest < cutoffMs) sets.delete(key);
  }
}
