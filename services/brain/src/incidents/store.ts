import { randomBytes } from 'node:crypto';
import { parseAddress, REDIS_KEYS, ruleNamespace, type CidrSet, type IncidentIndex } from '@p2pwall/common';
import type { Redis } from 'ioredis';
import type { FlowSampleView, IdentificationView, IncidentView, Page, RuleCountView } from '../api/views.js';
import type { Identification, IncidentUpdate } from './evidence.js';
import { DEFAULT_MAX_INCIDENTS_PER_SITE, DEFAULT_MAX_INCIDENTS_TOTAL, defineIncidentScripts, INCIDENT_PREFIX, INDEX_PREFIX, peerIp, recordUpdates } from './record.js';
import { closedAtMs, parseWorkflow, storedState, type IncidentState, type WorkflowStep } from './workflow.js';
import { recordStep } from './workflow-record.js';

/**
 * Incidents in Redis: recording (record.ts) and queries. A query walks one sorted-set index —
 * the most selective of its filters — newest first, from its cursor, and checks the other
 * filters on the records it reads, so it reads about what it returns, never everything.
 */

/** What a host that is no address matches against a range: nothing. */
const EMPTY = new Uint8Array(0);

export interface IncidentQuery {
  /** Last seen at or after (ms). */
  since?: number;
  /** First seen at or before (ms). */
  until?: number;
  site?: string;
  gateway?: string;
  /** Inside host ip. */
  host?: string;
  protocol?: string;
  /** Outside peer: ip, `ip:port` or `[v6]:port`. */
  peer?: string;
  /** Inside hosts in these networks. */
  range?: CidrSet;
  /** A rule id (`fasttrack/udp-ping`) or a namespace (`fasttrack`) among the incident's evidence. */
  rule?: string;
  /** The operators' workflow state. */
  state?: IncidentState;
  limit: number;
  cursor?: string;
}

export interface IncidentStoreOptions {
  /** A gap in evidence longer than this closes an episode. */
  quietMs: number;
  retentionMs: number;
  /** Incidents kept per site and in all: past either, the one last seen longest ago goes (default DEFAULT_MAX_INCIDENTS_PER_SITE, _TOTAL). */
  maxPerSite?: number;
  maxTotal?: number;
  /** Sample flows kept per incident. */
  maxSamples: number;
  /** Peers and decisions listed per incident (their counts are always whole). */
  listItems: number;
  now?: () => number;
  /** Called once for each incident this store opened (p2pwall_brain_incidents_opened). */
  onOpened?: (incident: { site: string; protocol: string }) => void;
}

export class InvalidCursorError extends Error {}

interface Cursor {
  score: number;
  id: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.score}:${cursor.id}`).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  const raw = Buffer.from(text, 'base64url').toString();
  const sep = raw.indexOf(':');
  const score = Number(raw.slice(0, sep));
  const id = raw.slice(sep + 1);
  if (sep <= 0 || !Number.isFinite(score) || !/^[a-z0-9-]{1,80}$/.test(id)) throw new InvalidCursorError('cursor: not a cursor this API returned');
  return { score, id };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** What incident ids look like (`<site>-<base36 time>-<hex>`): anything else names no incident, nor another key. */
const INCIDENT_ID = /^[a-z0-9-]{1,200}$/;

/** Scans more candidates per round than asked for, since other filters may reject some. */
const SCAN_FACTOR = 4;
/** Bounds one query's work when filters match almost nothing (the cursor lets the caller go on). */
const MAX_SCANNED = 20_000;

export class IncidentStore {
  /** Incidents removed to stay within maxPerSite and maxTotal (p2pwall_brain_incidents_evicted). */
  evicted = 0;
  /** Told, after each record, which incidents it touched and which of them it opened (notify/incident-events.ts); none: nobody listens. */
  onRecorded: ((touched: { id: string; created: boolean }[]) => void) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: IncidentStoreOptions,
  ) {
    defineIncidentScripts(redis);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Applies a batch's updates; returns the incident ids touched ("" for updates with no open episode). */
  async record(updates: readonly IncidentUpdate[]): Promise<string[]> {
    // The script answers the id it was offered only for an incident it opened.
    const offered: string[] = [];
    const newId = (update: IncidentUpdate) => {
      const id = `${update.site}-${Math.round(update.firstSeenMs).toString(36)}-${randomBytes(4).toString('hex')}`;
      offered.push(id);
      return id;
    };
    const { quietMs, retentionMs, maxSamples, maxPerSite = DEFAULT_MAX_INCIDENTS_PER_SITE, maxTotal = DEFAULT_MAX_INCIDENTS_TOTAL } = this.options;
    const result = await recordUpdates(this.redis, updates, { quietMs, retentionMs, maxSamples, maxPerSite, maxTotal, nowMs: this.now(), newId });
    this.evicted += result.evicted;
    result.ids.forEach((id, i) => {
      if (id !== '' && id === offered[i]) this.options.onOpened?.({ site: updates[i]!.site, protocol: updates[i]!.protocol });
    });
    this.onRecorded?.(result.ids.map((id, i) => ({ id, created: id !== '' && id === offered[i] })));
    return result.ids;
  }

  async get(id: string): Promise<IncidentView | undefined> {
    const [view] = await this.views([id], true);
    return view;
  }

  /** Takes an operator's workflow step (workflow.ts); undefined when there is no such incident. */
  async step(id: string, step: WorkflowStep): Promise<{ incident: IncidentView } | { refused: string } | undefined> {
    if (!INCIDENT_ID.test(id)) return undefined;
    const result = await recordStep(this.redis, INCIDENT_PREFIX + id, step);
    if ('missing' in result) return undefined;
    if ('refused' in result) return result;
    const incident = await this.get(id);
    return incident ? { incident } : undefined;
  }

  async list(query: IncidentQuery): Promise<Page<IncidentView>> {
    const since = query.since ?? 0;
    const chosen = await this.chooseIndex(query, since);
    if (!chosen.startsWith(`${INDEX_PREFIX}peer:`)) return this.listFrom(chosen, query, since);
    // The peer index is scored by when the peer was last reported, not by the incident's last
    // seen: a short-lived copy scored by the incident's own last seen keeps the list newest first.
    const byLast = REDIS_KEYS.incidentListing(randomBytes(6).toString('hex'));
    await this.redis.multi().zinterstore(byLast, 2, chosen, `${INDEX_PREFIX}all:`, 'WEIGHTS', 0, 1).pexpire(byLast, 60_000).exec();
    try {
      return await this.listFrom(byLast, query, since);
    } finally {
      await this.redis.del(byLast);
    }
  }

  private async listFrom(index: string, query: IncidentQuery, since: number): Promise<Page<IncidentView>> {
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const items: IncidentView[] = [];
    let max = cursor ? String(cursor.score) : '+inf';
    if (query.until !== undefined) {
      // An incident first seen by `until` was last seen by `until` + the longest span so far.
      const bound = query.until + Number((await this.redis.get(REDIS_KEYS.incidentMaxSpan)) ?? 0);
      if (!cursor || bound < cursor.score) max = String(bound);
    }
    let skipTies = cursor;
    let scanned = 0;
    let last: Cursor | undefined;
    const chunk = Math.min(1000, query.limit * SCAN_FACTOR);
    for (;;) {
      const raw = await this.redis.zrange(index, max, since, 'BYSCORE', 'REV', 'LIMIT', 0, chunk + 1, 'WITHSCORES');
      const candidates: Cursor[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) candidates.push({ id: raw[i]!, score: Number(raw[i + 1]) });
      // Members of equal score come in reverse lexical order: those after the cursor's id are new.
      const fresh = candidates.filter((c) => !skipTies || c.score < skipTies.score || (c.score === skipTies.score && c.id < skipTies.id));
      const page = fresh.slice(0, chunk);
      const views = await this.matching(page, query, since);
      for (const [position, view] of views) {
        items.push(view);
        last = page[position];
        if (items.length === query.limit) break;
      }
      scanned += page.length;
      const exhausted = candidates.length <= chunk;
      if (items.length === query.limit || page.length === 0 || exhausted) {
        const more = items.length === query.limit && (last !== page[page.length - 1] || !exhausted);
        return { items, nextCursor: more && last ? encodeCursor(last) : null };
      }
      const tail = page[page.length - 1]!;
      if (scanned >= MAX_SCANNED) return { items, nextCursor: encodeCursor(tail) };
      max = String(tail.score);
      skipTies = tail;
    }
  }

  /** The index of the most selective filter (fewest members in range). */
  private async chooseIndex(query: IncidentQuery, since: number): Promise<string> {
    const candidates: [IncidentIndex, string][] = [];
    if (query.site) candidates.push(['site', query.site]);
    if (query.gateway) candidates.push(['gateway', query.gateway]);
    if (query.host) candidates.push(['host', query.host]);
    if (query.protocol) candidates.push(['protocol', query.protocol]);
    if (query.peer) candidates.push(['peer', peerIp(query.peer)]);
    if (candidates.length === 0) return `${INDEX_PREFIX}all:`;
    if (candidates.length === 1) return `${INDEX_PREFIX}${candidates[0]![0]}:${candidates[0]![1]}`;
    const pipeline = this.redis.pipeline();
    for (const [by, value] of candidates) pipeline.zcount(`${INDEX_PREFIX}${by}:${value}`, since, '+inf');
    const counts = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n));
    let best = 0;
    counts.forEach((n, i) => {
      if (n < counts[best]!) best = i;
    });
    return `${INDEX_PREFIX}${candidates[best]![0]}:${candidates[best]![1]}`;
  }

  /** The candidates that pass every filter, as [position in candidates, view]. */
  private async matching(candidates: readonly Cursor[], query: IncidentQuery, since: number): Promise<[number, IncidentView][]> {
    if (candidates.length === 0) return [];
    const ids = candidates.map((c) => c.id);
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      pipeline.hmget(INCIDENT_PREFIX + id, 'site', 'host', 'protocol', 'first', 'last', 'gateways', 'wf:state');
      // ip:port: among the incident's peers; a bare ip: the peer-ip index names the incident.
      if (query.peer) {
        if (isEndpoint(query.peer)) pipeline.zscore(`${INCIDENT_PREFIX}${id}:peers`, query.peer);
        else pipeline.zscore(`${INDEX_PREFIX}peer:${query.peer}`, id);
      }
    }
    const replies = ((await pipeline.exec()) ?? []).map(([, value]) => value);
    const passing: number[] = [];
    let r = 0;
    ids.forEach((_, position) => {
      const [site, host, protocol, first, last, gateways, state] = replies[r++] as (string | null)[];
      const inGateway = query.gateway ? (gateways ?? '').split(',').includes(query.gateway) : true;
      const withPeer = query.peer ? replies[r++] !== null : true;
      if (site === null || site === undefined) return; // expired or removed: a stale index entry
      if (query.site && site !== query.site) return;
      if (query.host && host !== query.host) return;
      if (query.protocol && protocol !== query.protocol) return;
      if (query.until !== undefined && Number(first) > query.until) return;
      if (Number(last) < since) return;
      if (!inGateway || !withPeer) return;
      if (query.state && storedState(state) !== query.state) return;
      if (query.range && !query.range.containsBytes(parseAddress(host ?? '') ?? EMPTY)) return;
      passing.push(position);
    });
    const views = await this.views(passing.map((p) => ids[p]!), false);
    const out: [number, IncidentView][] = [];
    const rule = query.rule;
    views.forEach((view, i) => {
      if (!view) return;
      if (rule !== undefined && !view.evidence.some((e) => e.rule === rule || ruleNamespace(e.rule) === rule)) return;
      out.push([passing[i]!, view]);
    });
    return out;
  }

  private async views(ids: readonly string[], withSamples: boolean): Promise<(IncidentView | undefined)[]> {
    if (ids.length === 0) return [];
    const n = this.options.listItems;
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      const key = INCIDENT_PREFIX + id;
      pipeline.hgetall(key).zrange(`${key}:peers`, 0, n - 1).zrange(`${key}:decisions`, 0, n - 1).hlen(`${key}:live`);
      if (withSamples) pipeline.lrange(`${key}:samples`, 0, -1);
    }
    const replies = ((await pipeline.exec()) ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const per = withSamples ? 5 : 4;
    const now = this.now();
    return ids.map((id, i) => {
      const [hash, peers, decisions, liveFlows, samples] = replies.slice(i * per, i * per + per) as [Record<string, string>, string[], string[], number, string[] | undefined];
      if (!hash || !hash['site']) return undefined;
      const last = Number(hash['last']);
      const open = last + this.options.quietMs > now;
      const identifiedBy = parseIdentification(hash['why']);
      const workflow = parseWorkflow(hash['wf:state'], hash['wf:log']);
      const closedAt = closedAtMs(workflow);
      const view: IncidentView = {
        id,
        site: hash['site'],
        host: hash['host'] ?? '',
        protocol: hash['protocol'] ?? '',
        firstSeen: iso(Number(hash['first'])),
        lastSeen: iso(last),
        open,
        gateways: (hash['gateways'] ?? '').split(',').filter((g) => g !== '').sort(),
        evidence: identifyingFirst(
          Object.entries(hash)
            .filter(([field]) => field.startsWith('r:'))
            .map(([field, count]) => ({ rule: field.slice(2), count: Number(count) })),
          identifiedBy?.rule,
        ),
        peers: { count: Number(hash['peers'] ?? 0), sample: peers },
        attemptsBlocked: Number(hash['attempts'] ?? 0),
        bytes: Number(hash['bytes'] ?? 0),
        liveFlows: Number(liveFlows),
        provisional: open && Number(liveFlows) > 0,
        identifiedBy,
        decisions,
        decisionCount: Number(hash['decisions'] ?? 0),
        state: workflow.state,
        workflow: workflow.steps.map((s) => ({ action: s.action, at: iso(s.atMs), role: s.role, author: s.author, note: s.note })),
        evidenceSinceClosed: closedAt !== undefined && last > closedAt,
      };
      if (withSamples) view.samples = (samples ?? []).flatMap((text) => parseSample(text));
      return view;
    });
  }
}

/** `ip:port` or `[v6]:port`, as opposed to a bare address. */
function isEndpoint(peer: string): boolean {
  return peer.startsWith('[') || (peer.includes(':') && peer.split(':').length === 2);
}

/**
 * Rules as "why" reads them: the rule that identified the host first, then the most frequent. A
 * signature that fired once would otherwise sort behind payload-free findings counted per endpoint.
 */
export function identifyingFirst(evidence: RuleCountView[], identifyingRule: string | undefined): RuleCountView[] {
  const rank = (rule: string) => (rule === identifyingRule ? 0 : 1);
  return evidence.sort((a, b) => rank(a.rule) - rank(b.rule) || b.count - a.count || a.rule.localeCompare(b.rule));
}

function parseIdentification(text: string | undefined): IdentificationView | null {
  if (!text) return null;
  try {
    const i = JSON.parse(text) as Identification;
    return { rule: i.rule, detail: i.detail, flow: i.flow, packet: i.packet, seen: iso(i.seenMs), gateway: i.gateway };
  } catch {
    return null;
  }
}

function parseSample(text: string): FlowSampleView[] {
  try {
    const s = JSON.parse(text) as { seenMs: number } & Omit<FlowSampleView, 'seen'>;
    return [{ seen: iso(s.seenMs), gateway: s.gateway, protocol: s.protocol, peer: s.peer, app: s.app, rules: s.rules, verdict: s.verdict, packetsOut: s.packetsOut, packetsIn: s.packetsIn, bytesOut: s.bytesOut, bytesIn: s.bytesIn }];
  } catch {
    return [];
  }
}
