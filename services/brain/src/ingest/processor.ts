import { REDIS_KEYS, sensorName, type Logger } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import type { BlocklistWriter } from '../blocklist/writer.js';
import type { RulesConfig } from '../correlate/config.js';
import { MalformedBatchError, observeBatch } from '../correlate/observe.js';
import { endpointAdditions, evaluateEndpoint, evaluateHost, hostAdditions, windowEndpoints } from '../correlate/rules.js';
import type { TimedSet } from '../correlate/window.js';
import type { Allowlist } from '../decide/allowlist.js';
import { decisionId, isActiveBlock, type BrainDecision } from '../decide/decision.js';
import { fanoutDecision, hostDecision, signatureDecisions, type DecideContext } from '../decide/make.js';
import { defineStateScripts, parseTimedSet, queueMerge } from './state.js';

/**
 * One message → Redis (the imperative shell around correlate/ and decide/). Used by serve for
 * every JetStream message; needs only Redis, so tests drive it directly as well.
 */

export type Outcome = 'processed' | 'duplicate' | 'malformed' | 'heartbeat';

export interface IngestCounters {
  batches: number;
  duplicates: number;
  malformed: number;
  heartbeats: number;
  flows: number;
  skippedItems: number;
  decisions: number;
}

export interface ProcessorOptions {
  rules: RulesConfig;
  allowlist: Allowlist;
  /** How long (instance, sequence) of a counted batch is remembered. */
  dedupMs: number;
  log?: Logger;
  now?: () => number;
}

/** Hosts whose windows the sweep re-evaluates at most (the oldest are forgotten first). */
const MAX_RECENT_HOSTS = 100_000;

interface RecentHost {
  site: string;
  hostIp: string;
  hostBytes: Uint8Array;
  sensor: string;
  /** Its window holds nothing newer than this: no need to look again after it. */
  until: number;
}

export class BatchProcessor {
  readonly counters: IngestCounters = { batches: 0, duplicates: 0, malformed: 0, heartbeats: 0, flows: 0, skippedItems: 0, decisions: 0 };
  /** Hosts with a live window, for the order-independent second look (see reevaluateHosts). */
  private readonly recentHosts = new Map<string, RecentHost>();

  constructor(
    private readonly redis: Redis,
    private readonly writer: BlocklistWriter,
    private readonly options: ProcessorOptions,
  ) {
    defineStateScripts(redis);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private malformed(what: string, error: unknown): Outcome {
    this.counters.malformed += 1;
    this.options.log?.warn({ err: error instanceof Error ? error.message : String(error), malformed: this.counters.malformed }, `malformed ${what}: acknowledged and skipped`);
    return 'malformed';
  }

  async heartbeat(data: Uint8Array): Promise<Outcome> {
    let beat: p2pwall.v1.Heartbeat;
    try {
      beat = p2pwall.v1.Heartbeat.decode(data);
    } catch (error) {
      return this.malformed('heartbeat', error);
    }
    const s = beat.sensor;
    if (!s?.site || !s.gateway) return this.malformed('heartbeat', new Error('heartbeat without a sensor id'));
    await this.redis.hset(REDIS_KEYS.sensors, sensorName(s.site, s.gateway, s.queue ?? 0), Buffer.from(data));
    this.counters.heartbeats += 1;
    return 'heartbeat';
  }

  async summary(data: Uint8Array): Promise<Outcome> {
    const now = this.now();
    let obs;
    try {
      obs = observeBatch(p2pwall.v1.SummaryBatch.decode(data), now);
    } catch (error) {
      // protobuf decode errors and MalformedBatchError alike: the message can never be processed
      return this.malformed(error instanceof MalformedBatchError ? 'summary batch (incomplete)' : 'summary batch', error);
    }
    const seenKey = REDIS_KEYS.seenBatch(obs.instance, obs.sequence);
    const claimed = await this.redis.set(seenKey, String(now), 'PX', this.options.dedupMs, 'NX');
    if (claimed === null) {
      this.counters.duplicates += 1;
      this.options.log?.debug({ sensor: obs.sensor, instance: obs.instance, sequence: obs.sequence }, 'duplicate batch: already counted');
      return 'duplicate';
    }
    try {
      await this.correlate(obs, now);
    } catch (error) {
      await this.redis.del(seenKey).catch(() => undefined);
      throw error;
    }
    this.counters.batches += 1;
    this.counters.flows += obs.flows.length;
    this.counters.skippedItems += obs.skipped;
    return 'processed';
  }

  /**
   * The host rules against the blocklist as it stands now. `decided` are decisions of the same
   * batch that block peers, counted as blocked already.
   */
  private async evaluateHosts(windows: readonly { entry: { site: string; hostIp: string; hostBytes: Uint8Array }; window: TimedSet }[], decided: readonly BrainDecision[], ctx: DecideContext): Promise<BrainDecision[]> {
    const lookupIds = new Set<string>();
    for (const { window } of windows) {
      for (const { ip, port } of windowEndpoints(window)) {
        lookupIds.add(decisionId.endpoint(ip, port));
        lookupIds.add(decisionId.ip(ip));
      }
    }
    const blocks = await this.writer.lookup([...lookupIds]);
    const blocked = new Set<string>([...blocks].filter(([, d]) => isActiveBlock(d, ctx.nowMs)).map(([id]) => id));
    for (const d of decided) if (d.scope !== p2pwall.v1.Scope.SCOPE_HOST) blocked.add(d.id);
    const isBlocked = (ip: string, port: number) => blocked.has(decisionId.endpoint(ip, port)) || blocked.has(decisionId.ip(ip));
    const out: BrainDecision[] = [];
    for (const { entry, window } of windows) {
      const decision = hostDecision(entry, evaluateHost(window, isBlocked, ctx.rules.correlation), ctx);
      if (decision) out.push(decision);
    }
    return out;
  }

  private remember(entry: { site: string; hostIp: string; hostBytes: Uint8Array }, sensor: string, until: number): void {
    const key = `${entry.site}/${entry.hostIp}`;
    this.recentHosts.delete(key);
    this.recentHosts.set(key, { site: entry.site, hostIp: entry.hostIp, hostBytes: entry.hostBytes, sensor, until });
    if (this.recentHosts.size > MAX_RECENT_HOSTS) this.recentHosts.delete(this.recentHosts.keys().next().value!);
  }

  /**
   * A second look at every host with a live window, against the blocklist as it is now. A host
   * rule such as corr.blocked-peers must not depend on which batch was processed first (two
   * replicas, or concurrent messages, see them in any order): a host whose flows arrived before
   * the peers it reached were blocked is caught here, on the next sweep.
   */
  async reevaluateHosts(): Promise<number> {
    const now = this.now();
    const hosts = [...this.recentHosts.entries()].filter(([key, host]) => {
      if (host.until > now) return true;
      this.recentHosts.delete(key);
      return false;
    });
    if (hosts.length === 0) return 0;
    const windowMs = this.options.rules.correlation.host.windowSeconds * 1000;
    const pipeline = this.redis.pipeline();
    for (const [, host] of hosts) pipeline.hgetall(REDIS_KEYS.hostEndpoints(host.site, host.hostIp));
    const replies = (await pipeline.exec()) ?? [];
    let written = 0;
    const bySensor = new Map<string, { entry: RecentHost; window: TimedSet }[]>();
    hosts.forEach(([, host], index) => {
      const [error, fields] = replies[index] ?? [];
      if (error || typeof fields !== 'object' || fields === null) return;
      const window = parseTimedSet(Object.entries(fields as Record<string, string>).flat());
      for (const [member, mark] of window) if (mark.ts < now - windowMs) window.delete(member);
      if (window.size === 0) return;
      const group = bySensor.get(host.sensor) ?? [];
      group.push({ entry: host, window });
      bySensor.set(host.sensor, group);
    });
    for (const [sensor, windows] of bySensor) {
      const ctx: DecideContext = { rules: this.options.rules, allowlist: this.options.allowlist, nowMs: now, sensor };
      const decisions = await this.evaluateHosts(windows, [], ctx);
      const before = this.counters.decisions;
      await this.write(decisions);
      written += this.counters.decisions - before;
    }
    return written;
  }

  private async correlate(obs: ReturnType<typeof observeBatch>, now: number): Promise<void> {
    const { rules, allowlist } = this.options;
    const config = rules.correlation;
    const ctx: DecideContext = { rules, allowlist, nowMs: now, sensor: obs.sensor };
    const decisions: BrainDecision[] = signatureDecisions(obs, ctx);

    const hosts = hostAdditions(obs);
    // Known clients: hosts this batch identifies, and hosts under an active lock.
    const lockIds = [...hosts.values()].map((h) => decisionId.host(h.site, h.hostIp));
    const locks = await this.writer.lookup(lockIds);
    const knownClients = new Set<string>(decisions.filter((d) => d.scope === p2pwall.v1.Scope.SCOPE_HOST).flatMap((d) => d.evidence.hosts));
    for (const h of hosts.values()) if (locks.has(decisionId.host(h.site, h.hostIp))) knownClients.add(`${h.site}/${h.hostIp}`);
    const endpoints = endpointAdditions(obs, knownClients, config);

    const pipeline = this.redis.pipeline();
    const endpointList = [...endpoints.entries()];
    const hostList = [...hosts.entries()];
    const fanoutWindowMs = config.fanout.windowSeconds * 1000;
    const hostWindowMs = config.host.windowSeconds * 1000;
    for (const [endpoint, entry] of endpointList) queueMerge(pipeline, REDIS_KEYS.endpointHosts(endpoint), entry.additions, now - fanoutWindowMs, fanoutWindowMs, 100_000);
    for (const [, entry] of hostList) queueMerge(pipeline, REDIS_KEYS.hostEndpoints(entry.site, entry.hostIp), entry.additions, now - hostWindowMs, hostWindowMs, config.host.maxEntries);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;

    endpointList.forEach(([, entry], index) => {
      const set = parseTimedSet(replies[index]![1]);
      const finding = evaluateEndpoint(set, config);
      const decision = finding && fanoutDecision(entry, set, finding, ctx);
      if (decision) decisions.push(decision);
    });

    const windows = hostList.map(([, entry], index) => ({ entry, window: parseTimedSet(replies[endpointList.length + index]![1]) }));
    for (const { entry } of windows) this.remember(entry, obs.sensor, now + hostWindowMs);
    decisions.push(...(await this.evaluateHosts(windows, decisions, ctx)));

    await this.write(decisions);
  }

  private async write(decisions: readonly BrainDecision[]): Promise<void> {
    for (const decision of decisions) {
      if ((await this.writer.upsert(decision)) === 'written') {
        this.counters.decisions += 1;
        this.options.log?.info({ id: decision.id, origin: p2pwall.v1.Origin[decision.origin], reason: decision.reason, hosts: decision.evidence.hosts.length, expiresMs: decision.expiresMs }, 'decision');
      }
    }
  }
}
