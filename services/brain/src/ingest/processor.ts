import { LogLimiter, REDIS_KEYS, type CidrSet, decisionId, originLabel, senderOfSubject, sensorName, type Logger, type SubjectSender } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import { PeerBlocks } from '../blocklist/peer-blocks.js';
import type { BlocklistWriter } from '../blocklist/writer.js';
import { type BatchObservations, endpointAdditions, endpointFinding, entriesBlockedTally, hostAdditions, type HostAggregates, hostFindings, hostsReaching, type IsBlocked, knownClientCandidates, MalformedBatchError, observeBatch, reachedPeers, type RulesConfig, windowEntries } from '@p2pwall/common/correlate';
import type { Allowlist } from '../decide/allowlist.js';
import { allowCovers, coveringAllowIds } from '../decide/allow-entries.js';
import type { BrainDecision } from '../decide/decision.js';
import { blockRefusal } from '../decide/sane-block.js';
import { markSimulated } from '../decide/simulation.js';
import { BlockBudget, DEFAULT_MAX_NEW_DECISIONS_PER_SENSOR_PER_MINUTE } from './block-budget.js';
import { fanoutDecision, hostDecision, mergeDecision, signatureDecisions, type DecideContext } from '../decide/make.js';
import { DEFAULT_DEDUP_WINDOW_BATCHES, releaseBatch } from './dedup.js';
import { boundedHeartbeat, DEFAULT_SENSOR_RETENTION_MS, forgetSilentSensors, heartbeatProblem, SENSOR_PRUNE_INTERVAL_MS } from './heartbeats.js';
import { SecondLook } from './second-look.js';
import { WindowMirrors } from './window-mirror.js';
import { incidentUpdates, type BatchEvidence } from '../incidents/evidence.js';
import { batchEvidence, incidentDecisions } from '../incidents/from-batch.js';
import type { IncidentStore } from '../incidents/store.js';
import { defineStateScripts, mergeBatch, readWindows, type BatchMerge, type BatchMergeResult } from './state.js';

/**
 * One message → Redis (the imperative shell around correlate/ and decide/). Used by serve for
 * every JetStream message; needs only Redis, so tests drive it directly as well.
 *
 * Per summary batch: at most one lock look-up (HMGET, only for hosts whose flows count only if
 * they are known clients), one script call that claims the batch's dedup marker and merges every
 * endpoint set and host window (answering with counts, not sets), a read-back of the few windows
 * that just reached a blocked peer, and the decision upserts. Blocklist questions are answered
 * from the writer's memory.
 */

export type Outcome = 'processed' | 'duplicate' | 'beyond-window' | 'malformed' | 'heartbeat' | 'impersonation';

/**
 * What can happen once per message (a malformed message, a sensor that speaks for another or is
 * over its budget, a failed incident update) is logged at most this often per kind and sensor,
 * with the count left out since; the counters count every one.
 */
const PER_MESSAGE_LOG_INTERVAL_MS = 60_000;

export interface IngestCounters {
  batches: number;
  duplicates: number;
  /** Batches more than the dedup window below their sensor instance's newest (ingest/dedup.ts): not counted again, logged once a minute per sensor. */
  beyondDedupWindow: number;
  malformed: number;
  /** Messages whose payload names another site or gateway than their subject (acknowledged, not used). */
  impersonations: number;
  heartbeats: number;
  flows: number;
  skippedItems: number;
  /** Times and counters of processed batches and stored heartbeats out of range (correlate/sane-values.ts, ingest/heartbeats.ts): replaced or bounded. */
  outOfRange: number;
  /** Strings of processed batches that were no protocol names or rule ids (correlate/sane-strings.ts): dropped. */
  invalidStrings: number;
  decisions: number;
  /** Incident updates that could not be recorded (logged; the decisions stand). */
  incidentFailures: number;
  /** Blocks not written because an operator's allow entry covers them. */
  allowed: number;
  /** Blocks never written whatever a sensor says (decide/sane-block.ts): a reserved or inside address, or an address-wide block with one witness. */
  refusedReserved: number;
  refusedInside: number;
  refusedSingleWitness: number;
  /** New decisions over a sensor's budget per minute: counted, logged once a minute per sensor, not written. */
  overBudget: number;
}


export interface ProcessorOptions {
  rules: RulesConfig;
  allowlist: Allowlist;
  /** How long a sensor instance's counted batches are remembered after its last batch (ingest/dedup.ts). */
  dedupMs: number;
  /** Batches told apart per sensor instance (default DEFAULT_DEDUP_WINDOW_BATCHES). */
  dedupWindowBatches?: number;
  /** How long a sensor stays in the sensors list after its last heartbeat (default DEFAULT_SENSOR_RETENTION_MS). */
  sensorRetentionMs?: number;
  /** New decisions one sensor may cause per minute (default DEFAULT_MAX_NEW_DECISIONS_PER_SENSOR_PER_MINUTE). */
  maxNewDecisionsPerSensorPerMinute?: number;
  /** Sites in simulation: their decisions are recorded as simulated, never enforced (decide/simulation.ts). */
  simulatedSites?: ReadonlySet<string>;
  /** The organisation's networks beyond the private ranges: never blocked as peers. */
  insideNetworks?: CidrSet;
  /** Where incidents are recorded (none: not recorded, e.g. in benchmarks of correlation alone). */
  incidents?: { store: Pick<IncidentStore, 'record'>; maxSamples: number };
  log?: Logger;
  now?: () => number;
}

/** Host windows copied in memory at most, and their members together (≈ 250 bytes each: see bench/README.md). */
const MAX_MIRRORED_WINDOWS = 100_000;
const MAX_MIRRORED_MEMBERS = 1_000_000;

/** The aggregates of a window too small for correlate/udp-fanout and correlate/tcp-udp-pairs (see windowsFrom). */
const NO_AGGREGATES: HostAggregates = { udp: { count: 0, unanswered: 0, firstSeenMs: 0, lastSeenMs: 0 }, pairs: { count: 0, firstSeenMs: 0, lastSeenMs: 0 } };

/** What deciding on a merged batch needs: small, so that it is all a message keeps while Redis works. */
interface BatchPlan {
  /** Signature decisions of the batch (clients, detected flows, learned peers). */
  decisions: BrainDecision[];
  /** The host windows merged, in merge order. */
  hosts: { host: string; key: string; site: string; hostIp: string; hostBytes: Uint8Array }[];
  /** The endpoint sets merged, in merge order. */
  endpoints: { ip: string; ipBytes: Uint8Array; port: number }[];
  /** reachedPeers of the batch. */
  reached: string[];
  flows: number;
  skipped: number;
  outOfRange: number;
  invalidStrings: number;
}

export class BatchProcessor {
  readonly counters: IngestCounters = { batches: 0, duplicates: 0, beyondDedupWindow: 0, malformed: 0, impersonations: 0, heartbeats: 0, flows: 0, skippedItems: 0, outOfRange: 0, invalidStrings: 0, decisions: 0, incidentFailures: 0, allowed: 0, refusedReserved: 0, refusedInside: 0, refusedSingleWitness: 0, overBudget: 0 };
  /** The order-independent second look at the windows of recent hosts (second-look.ts). */
  private readonly secondLook: SecondLook;
  /** Copies of the large host windows this replica merges into (see window-mirror.ts). */
  private readonly mirrors: WindowMirrors;
  private readonly impersonationLog = new LogLimiter(PER_MESSAGE_LOG_INTERVAL_MS);
  private readonly malformedLog = new LogLimiter(PER_MESSAGE_LOG_INTERVAL_MS);
  private readonly incidentFailureLog = new LogLimiter(PER_MESSAGE_LOG_INTERVAL_MS);
  private readonly budget: BlockBudget;
  private lastSensorPruneMs = -Infinity;
  private readonly overBudgetLog = new LogLimiter(PER_MESSAGE_LOG_INTERVAL_MS);
  private readonly beyondWindowLog = new LogLimiter(PER_MESSAGE_LOG_INTERVAL_MS);

  constructor(
    private readonly redis: Redis,
    private readonly writer: BlocklistWriter,
    private readonly options: ProcessorOptions,
  ) {
    defineStateScripts(redis);
    this.budget = new BlockBudget(options.maxNewDecisionsPerSensorPerMinute ?? DEFAULT_MAX_NEW_DECISIONS_PER_SENSOR_PER_MINUTE);
    this.mirrors = new WindowMirrors(options.rules.correlation, MAX_MIRRORED_WINDOWS, MAX_MIRRORED_MEMBERS);
    this.secondLook = new SecondLook(redis, writer, options.rules, options.allowlist, this.mirrors);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** A message that can never be processed: counted; logged at most once a minute per kind and subject, with the count left out since. */
  private malformed(what: string, error: unknown, subject: string): Outcome {
    this.counters.malformed += 1;
    // keyed on the sender the subject names (one per sensor, as NATS permissions allow), not on the subject's text, which a flood could vary
    const from = senderOfSubject(subject);
    const line = this.malformedLog.take(`${what}|${from ? `${from.site}/${from.gateway}` : 'another subject'}`, this.now());
    if (line) this.options.log?.warn({ err: (error instanceof Error ? error.message : String(error)).slice(0, 300), subject: subject.slice(0, 140), malformed: this.counters.malformed, leftOut: line.leftOut }, `malformed ${what}: acknowledged and skipped`);
    return 'malformed';
  }

  /** A payload that names another site or gateway than its subject: counted, logged once a minute per sender, never used. */
  private impersonation(sender: SubjectSender, claimed: { site: string; gateway: string }): Outcome {
    this.counters.impersonations += 1;
    const line = this.impersonationLog.take(`${sender.kind}|${sender.site}/${sender.gateway}`, this.now());
    if (line) {
      this.options.log?.warn({ subject: `${sender.site}/${sender.gateway}`, claimed: `${claimed.site}/${claimed.gateway}`.slice(0, 140), impersonations: this.counters.impersonations, leftOut: line.leftOut }, `${sender.kind} payload names another sensor than its subject: acknowledged and ignored`);
    }
    return 'impersonation';
  }

  /** The subject's sender when it is of `kind`, else undefined (counted as malformed by the caller). */
  private static sender(subject: string, kind: SubjectSender['kind']): SubjectSender | undefined {
    const sender = senderOfSubject(subject);
    return sender?.kind === kind ? sender : undefined;
  }

  /** A heartbeat from the sensor its subject names (the payload's site and gateway must agree with the subject). */
  async heartbeat(data: Uint8Array, subject: string): Promise<Outcome> {
    const sender = BatchProcessor.sender(subject, 'heartbeats');
    if (!sender) return this.malformed('heartbeat', new Error('not a heartbeat subject'), subject);
    let beat: p2pwall.v1.Heartbeat;
    try {
      beat = p2pwall.v1.Heartbeat.decode(data);
    } catch (error) {
      return this.malformed('heartbeat', error, subject);
    }
    const s = beat.sensor;
    if (!s?.site || !s.gateway) return this.malformed('heartbeat', new Error('heartbeat without a sensor id'), subject);
    if (s.site !== sender.site || s.gateway !== sender.gateway) return this.impersonation(sender, { site: s.site, gateway: s.gateway });
    const problem = heartbeatProblem(beat, data.length);
    if (problem) return this.malformed('heartbeat', new Error(problem), subject);
    const now = this.now();
    const name = sensorName(s.site, s.gateway, s.queue ?? 0);
    const bounded = boundedHeartbeat(beat, now);
    this.counters.outOfRange += bounded.outOfRange;
    const stored = Buffer.from(p2pwall.v1.Heartbeat.encode(bounded.beat).finish());
    await this.redis.multi().hset(REDIS_KEYS.sensors, name, stored).zadd(REDIS_KEYS.sensorsSeen, now, name).exec();
    this.counters.heartbeats += 1;
    if (now - this.lastSensorPruneMs >= SENSOR_PRUNE_INTERVAL_MS) {
      this.lastSensorPruneMs = now;
      const removed = await forgetSilentSensors(this.redis, now - (this.options.sensorRetentionMs ?? DEFAULT_SENSOR_RETENTION_MS));
      if (removed > 0) this.options.log?.info({ removed }, 'sensors not heard from within the retention: removed from the sensors list');
    }
    return 'heartbeat';
  }

  /**
   * One summary batch, from the sensor its NATS subject names: the subject (which NATS
   * permissions tie to a sensor's credentials), not the payload, says who sent it, and a payload
   * naming another site or gateway is not used.
   */
  async summary(data: Uint8Array, subject: string): Promise<Outcome> {
    const now = this.now();
    const sender = BatchProcessor.sender(subject, 'summaries');
    if (!sender) return this.malformed('summary batch', new Error('not a summaries subject'), subject);
    let obs: BatchObservations;
    try {
      obs = observeBatch(p2pwall.v1.SummaryBatch.decode(data), now);
    } catch (error) {
      // protobuf decode errors and MalformedBatchError alike: the message can never be processed
      return this.malformed(error instanceof MalformedBatchError ? 'summary batch (incomplete)' : 'summary batch', error, subject);
    }
    if (obs.site !== sender.site || obs.gateway !== sender.gateway) return this.impersonation(sender, obs);
    const ctx: DecideContext = { rules: this.options.rules, allowlist: this.options.allowlist, nowMs: now, sensor: obs.sensor };
    const seen = { key: REDIS_KEYS.seenBatches(sender.site, sender.gateway, obs.instance), sequence: obs.sequence, window: this.options.dedupWindowBatches ?? DEFAULT_DEDUP_WINDOW_BATCHES, ttlMs: this.options.dedupMs };
    const evidence = this.options.incidents ? batchEvidence(obs, [], now) : undefined;
    const { plan, merge } = await this.plan(obs, ctx, seen);
    // Only `plan` (small) is used from here on: the observations and the additions are garbage
    // while the merge is in flight, so concurrent messages do not keep them through collections.
    let merged: Awaited<ReturnType<typeof mergeBatch>>;
    try {
      merged = await mergeBatch(this.redis, merge, this.mirrors);
    } catch (error) {
      // A script that fails part-way keeps what it wrote, the claim included: forget it, or the redelivery would be skipped as a duplicate.
      await releaseBatch(this.redis, seen.key, seen.sequence).catch(() => undefined);
      throw error;
    }
    if (merged === 'duplicate') {
      this.counters.duplicates += 1;
      this.options.log?.debug({ sensor: ctx.sensor, sequence: seen.sequence }, 'duplicate batch: already counted');
      return 'duplicate';
    }
    if (merged === 'beyond-window') {
      this.counters.beyondDedupWindow += 1;
      const line = this.beyondWindowLog.take(`${sender.site}/${sender.gateway}`, now);
      if (line) {
        this.options.log?.warn({ sensor: ctx.sensor, sequence: seen.sequence, window: seen.window, beyondDedupWindow: this.counters.beyondDedupWindow, leftOut: line.leftOut }, 'batch too far below its sensor instance\'s newest to tell whether it was counted: acknowledged, not counted again');
      }
      return 'beyond-window';
    }
    let written: BrainDecision[];
    try {
      written = await this.write(await this.decide(plan, merged, ctx), `${sender.site}/${sender.gateway}`);
    } catch (error) {
      // Claimed but not finished: forget the claim so the redelivery is processed (merging again is harmless: it is idempotent).
      await releaseBatch(this.redis, seen.key, seen.sequence).catch(() => undefined);
      throw error;
    }
    this.counters.batches += 1;
    this.counters.flows += plan.flows;
    this.counters.skippedItems += plan.skipped;
    this.counters.outOfRange += plan.outOfRange;
    this.counters.invalidStrings += plan.invalidStrings;
    if (evidence) await this.recordIncidents({ ...evidence, decisions: incidentDecisions(written, now) });
    return 'processed';
  }

  /** After the decisions: a failure here is counted and logged, never a redelivery (it would count twice). */
  private async recordIncidents(evidence: BatchEvidence): Promise<void> {
    const incidents = this.options.incidents!;
    try {
      await incidents.store.record(incidentUpdates(evidence, incidents.maxSamples));
    } catch (error) {
      this.counters.incidentFailures += 1;
      const line = this.incidentFailureLog.take('incidents', this.now());
      if (line) this.options.log?.warn({ err: error instanceof Error ? error.message : String(error), failures: this.counters.incidentFailures, leftOut: line.leftOut }, 'incident update failed: skipped');
    }
  }

  /** What a batch adds (the merge), and what deciding on it needs afterwards (the plan). */
  private async plan(obs: BatchObservations, ctx: DecideContext, seen: BatchMerge['seen']): Promise<{ plan: BatchPlan; merge: BatchMerge }> {
    const config = ctx.rules.correlation;
    const decisions = signatureDecisions(obs, ctx);
    const hosts = [...hostAdditions(obs)];
    const hostKeys = hosts.map(([, entry]) => REDIS_KEYS.hostEndpoints(entry.site, entry.hostIp));
    const endpoints = [...endpointAdditions(obs, await this.knownClients(obs, decisions), config)];
    const merge: BatchMerge = {
      seen,
      endpoints: endpoints.map(([endpoint, entry]) => ({ key: REDIS_KEYS.endpointHosts(endpoint), additions: entry.additions })),
      hosts: hostKeys.map((key, index) => ({ key, additions: hosts[index]![1].additions })),
      nowMs: ctx.nowMs,
      config,
    };
    const plan: BatchPlan = {
      decisions,
      hosts: hosts.map(([host, { site, hostIp, hostBytes }], index) => ({ host, key: hostKeys[index]!, site, hostIp, hostBytes })),
      endpoints: endpoints.map(([, { ip, ipBytes, port }]) => ({ ip, ipBytes, port })),
      reached: reachedPeers(obs),
      flows: obs.flows.length,
      skipped: obs.skipped,
      outOfRange: obs.outOfRange,
      invalidStrings: obs.invalidStrings,
    };
    return { plan, merge };
  }

  /** Hosts of this batch that are known clients: identified in it, or under an active lock (looked up only where it changes the fan-out). */
  private async knownClients(obs: BatchObservations, decisions: readonly BrainDecision[]): Promise<Set<string>> {
    const known = new Set<string>(decisions.filter((d) => d.scope === p2pwall.v1.Scope.SCOPE_HOST).flatMap((d) => d.evidence.hosts));
    for (const client of obs.clients) known.add(client.host);
    const candidates = [...knownClientCandidates(obs, this.options.rules.correlation)].filter(([host]) => !known.has(host));
    if (candidates.length === 0) return known;
    const ids = candidates.map(([, h]) => decisionId.host(h.site, h.hostIp));
    const locks = await this.writer.lookup(ids);
    candidates.forEach(([host], index) => {
      if (locks.has(ids[index]!)) known.add(host);
    });
    return known;
  }

  /** The decisions of a merged batch: its signature decisions, fan-out blocks and host locks. */
  private async decide(plan: BatchPlan, merged: BatchMergeResult, ctx: DecideContext): Promise<BrainDecision[]> {
    const config = ctx.rules.correlation;
    const now = ctx.nowMs;
    const decisions = [...plan.decisions];
    plan.endpoints.forEach((endpoint, index) => {
      const result = merged.endpoints[index]!;
      const finding = endpointFinding(result, config);
      const decision = finding && fanoutDecision(endpoint, result.members, finding, ctx);
      if (decision) decisions.push(decision);
    });

    // correlate/blocked-peers: only a window that just gained a blocked peer can newly reach the
    // threshold here; peers blocked later are caught by the sweep's second look (second-look.ts).
    const decidedPeers = new PeerBlocks();
    for (const decision of decisions) decidedPeers.set(decision);
    const isBlocked: IsBlocked = (endpoint, ip, transport) => this.writer.isPeerBlocked(endpoint, ip, transport, now) || decidedPeers.covers(endpoint, ip, transport, now);
    const reaching = hostsReaching(plan.reached, isBlocked);
    const minPeers = config.host.blockedPeers.minPeers;
    // Windows the merge did not return (too small for the other rules) are read back when they may hold enough blocked peers.
    const readBack = plan.hosts.filter(({ host }, index) => reaching.has(host) && !merged.hosts[index]!.window && merged.hosts[index]!.count >= minPeers);
    const hostWindowMs = config.host.windowSeconds * 1000;
    const read = readBack.length === 0 ? [] : await readWindows(this.redis, readBack.map((h) => h.key), now - hostWindowMs, minPeers);
    const readWindowOf = new Map(readBack.map((h, index) => [h, read[index] instanceof Map ? read[index] : undefined]));

    plan.hosts.forEach((ref, index) => {
      const { window, count } = merged.hosts[index]!;
      // a window too small for correlate/blocked-peers is not worth a second look (it is remembered once it grows)
      if (count >= minPeers) this.secondLook.remember(ref.host, ctx.sensor, now + hostWindowMs, ref);
      const readBackWindow = readWindowOf.get(ref);
      const blockedEntries = reaching.has(ref.host) ? (window?.entries() ?? (readBackWindow && windowEntries(readBackWindow))) : undefined;
      if (!window && !blockedEntries) return; // too small for any host rule
      const findings = hostFindings(window ? window.aggregates() : NO_AGGREGATES, blockedEntries && entriesBlockedTally(blockedEntries, isBlocked), config);
      const decision = hostDecision(ref, findings, ctx);
      if (decision) decisions.push(decision);
    });
    return decisions;
  }

  /**
   * The host rules' second look (see second-look.ts), run on every sweep; also forgets the
   * window copies that ran empty. Returns how many decisions it wrote.
   */
  async reevaluateHosts(): Promise<number> {
    const now = this.now();
    this.mirrors.forgetIdle(now - this.options.rules.correlation.host.windowSeconds * 1000);
    const written = await this.write(await this.secondLook.decisions(now));
    if (this.options.incidents) {
      for (const decision of written) await this.recordIncidents({ gateway: gatewayOf(decision.evidence.sensors[0] ?? ''), flows: [], clients: [], peers: [], decisions: incidentDecisions([decision], now) });
    }
    return written.length;
  }

  /** Whether an operator's allow entry (as this replica knows the blocklist) covers a block. */
  private allowed(decision: BrainDecision): boolean {
    const now = this.now();
    const covered = coveringAllowIds(decision).some((id) => {
      const entry = this.writer.active(id, now);
      return entry !== undefined && allowCovers(entry, decision);
    });
    if (covered) this.counters.allowed += 1;
    return covered;
  }

  /** Whether a block is one the brain never writes (decide/sane-block.ts); counted by reason. */
  private refused(decision: BrainDecision): boolean {
    const refusal = blockRefusal(decision, this.options.insideNetworks);
    if (refusal === 'reserved') this.counters.refusedReserved += 1;
    else if (refusal === 'inside') this.counters.refusedInside += 1;
    else if (refusal === 'single-witness') this.counters.refusedSingleWitness += 1;
    return refusal !== undefined;
  }

  /** Decisions new to the blocklist beyond `sensor`'s budget are left out (counted, logged once a minute per sensor); updates of active ones always pass. */
  private withinBudget(decisions: readonly BrainDecision[], sensor: string): BrainDecision[] {
    const now = this.now();
    const kept = decisions.filter((decision) => this.writer.active(decision.id, now) !== undefined || this.budget.take(sensor, now));
    const over = decisions.length - kept.length;
    if (over > 0) {
      this.counters.overBudget += over;
      const line = this.overBudgetLog.take(sensor, now);
      if (line) this.options.log?.warn({ sensor, over, overBudget: this.counters.overBudget, leftOut: line.leftOut }, 'sensor over its budget of new decisions per minute: left out');
    }
    return kept;
  }

  /**
   * One upsert per id (decisions of one id merged first: merging is associative), all at once;
   * allowed and refused blocks left out; `sensor` (site/gateway of the subject): whose budget new
   * decisions are charged to (none: the sweep's second look).
   */
  private async write(decisions: readonly BrainDecision[], sensor?: string): Promise<BrainDecision[]> {
    const max = this.options.rules.correlation.evidenceMaxItems;
    const simulated = this.options.simulatedSites ?? new Set<string>();
    const byId = new Map<string, BrainDecision>();
    for (const proposed of decisions) {
      if (this.allowed(proposed) || this.refused(proposed)) continue;
      const decision = markSimulated(proposed, simulated);
      const previous = byId.get(decision.id);
      byId.set(decision.id, previous ? (mergeDecision(previous, decision, max) ?? previous) : decision);
    }
    const unique = sensor === undefined ? [...byId.values()] : this.withinBudget([...byId.values()], sensor);
    const results = await Promise.all(unique.map((decision) => this.writer.upsert(decision)));
    const written: BrainDecision[] = [];
    results.forEach((result, index) => {
      if (result !== 'written') return;
      const decision = unique[index]!;
      written.push(decision);
      this.counters.decisions += 1;
      this.options.log?.info({ id: decision.id, origin: originLabel(decision.origin), reason: decision.reason, hosts: decision.evidence.hosts.length, expiresMs: decision.expiresMs }, 'decision');
    });
    return written;
  }
}

/** The gateway of a sensor named `site/gateway/queue` ("" when it is not such a name). */
function gatewayOf(sensor: string): string {
  return sensor.split('/')[1] ?? '';
}
