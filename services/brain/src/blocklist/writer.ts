import { randomUUID } from 'node:crypto';
import { networksOverlap, REDIS_KEYS, type Logger } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import { trace, type Tracer } from '@opentelemetry/api';
import { blocklistUpdateSpan, decisionSpan } from '../telemetry/blocklist-spans.js';
import { decodeDecision, encodeDecision, isActiveBlock, type BrainDecision } from '../decide/decision.js';
import { mergeDecision, worthWriting } from '../decide/make.js';
import { formatIp } from '@p2pwall/common/correlate';
import { NewestFirst, type ListingKey } from './newest-first.js';
import { PeerBlocks } from './peer-blocks.js';

/** Decision ids per HMGET of a look-up. */
const LOOKUP_CHUNK = 1000;

/**
 * The shared blocklist in Redis: hash REDIS_KEYS.decisions (id → Decision), REDIS_KEYS.blocklistVersion
 * and the change stream REDIS_KEYS.blocklistChanges (field `c` = BlocklistChange).
 *
 * Every change is one Lua script: compare-and-set on the stored bytes of the decision, HSET/HDEL,
 * INCR the version, XADD the change (MAXLEN ~). The change is encoded here without its version;
 * the script prepends field 1 (the version it just took) — protobuf fields may come in any order.
 * A writer that lost the race (the stored bytes changed under it) re-reads, re-merges, retries.
 *
 * Redis restarted empty: the scripts refuse to write while REDIS_KEYS.epoch is missing; the writer
 * then sets a new epoch (the version continues above every version it saw) and republishes every
 * active decision it holds in memory. Each replica keeps in memory every active decision it wrote
 * or saw in the hash (each sweep reads the whole hash), so replicas converge on the union: a sweep
 * that finds the epoch changed since its last look (another replica restored it) re-writes the
 * active decisions of its memory missing from the hash. With the epoch unchanged, a decision
 * missing from the hash was removed on purpose (an operator's unblock, an allow entry, another
 * replica's expiry) and is forgotten, never written back.
 *
 * That memory also answers the ingest path's blocklist questions without a Redis round trip
 * (isBlocked), and an upsert that would change nothing against it is skipped at once: the stored
 * decision only ever grows from what this replica wrote or read (merges are unions and maxima),
 * so what adds nothing to the memory copy adds nothing to the stored one. Decisions of other
 * replicas reach the memory with the next sweep; takeNewPeerBlocks tells the ingest path which
 * peers became blocked since it last asked, so it can give the host rules a second look.
 */

const VARINT = `
local function version_field(n)
  local out = { string.char(8) }
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end`;

// KEYS: decisions, version, changes, epoch. ARGV: id, expected ('' = absent), new value ('' = remove), change without version, maxlen.
const CHANGE_SCRIPT = `${VARINT}
if redis.call('EXISTS', KEYS[4]) == 0 then return -2 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false then current = '' end
if current ~= ARGV[2] then return -1 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
local v = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'c', version_field(v) .. ARGV[4])
return v`;

// KEYS: epoch, version. ARGV: epoch value, version floor. 1 when this call set the epoch.
const EPOCH_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
if v < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
return 1`;

interface ScriptedRedis extends Redis {
  p2pwallBlocklistChange(decisions: string, version: string, changes: string, epoch: string, id: string, expected: Buffer | string, value: Buffer | string, change: Buffer, maxLen: number): Promise<number>;
  p2pwallBlocklistEpoch(epoch: string, version: string, value: string, floor: number): Promise<number>;
}

export function defineBlocklistScripts(redis: Redis): void {
  if ('p2pwallBlocklistChange' in redis) return;
  redis.defineCommand('p2pwallBlocklistChange', { numberOfKeys: 4, lua: CHANGE_SCRIPT });
  redis.defineCommand('p2pwallBlocklistEpoch', { numberOfKeys: 2, lua: EPOCH_SCRIPT });
}

export interface BlocklistWriterOptions {
  /** XADD MAXLEN ~ of the change stream. */
  changesMaxLen: number;
  /** An unchanged decision is rewritten only when its expiry moves later by more than this. */
  minExtendMs: number;
  evidenceMaxItems: number;
  log?: Logger;
  now?: () => number;
  /** Makes the "decision" and "blocklist update" spans; absent: the API's global tracer (a no-op unless registered). */
  tracer?: Tracer;
  /** Told of every decision written as new or changed (upsert 'written', replace); not of republished copies. */
  onWritten?: (decision: BrainDecision) => void;
}

export type UpsertResult = 'written' | 'skipped' | 'kept';

export interface WriterCounters {
  written: number;
  skipped: number;
  kept: number;
  removed: number;
  conflicts: number;
  republished: number;
  epochsRestored: number;
}

const MAX_ATTEMPTS = 20;

export class BlocklistWriter {
  private readonly redis: ScriptedRedis;
  private readonly tracer: Tracer;
  private readonly memory = new Map<string, BrainDecision>();
  /** The last upsert of each id still running (see upsert). */
  private readonly upserting = new Map<string, Promise<UpsertResult>>();
  /** The bytes Redis holds for a decision object of memory (written or read here): the compare-and-set needs no re-encoding. */
  private readonly storedBytes = new WeakMap<BrainDecision, Buffer>();
  /** Endpoint and IP decisions of memory by peer and transport: isPeerBlocked builds no ids. */
  private readonly peers = new PeerBlocks();
  /** Endpoint and IP blocks that became active in memory since takeNewPeerBlocks last ran. */
  private newPeerBlocks = new Map<string, BrainDecision>();
  private highestVersion = 0;
  /** The epoch marker the last sweep saw: when it changes, Redis lost the blocklist and another replica restored it. */
  private epochSeen: string | null | undefined;
  /** The order decisions were remembered in: one remembered during a sweep may be missing from its scan. */
  private readonly rememberedAt = new WeakMap<BrainDecision, number>();
  private remembered = 0;
  private restoring: Promise<void> | undefined;
  /** The decisions of memory in the API's listing order (newest first): a page never sorts the whole blocklist. */
  private readonly listing = new NewestFirst<BrainDecision>();
  /** The ids of memory's decisions by the address they are about (formatIp): one id, or several. */
  private readonly idsByIp = new Map<string, string | Set<string>>();
  /** The ids of memory's network decisions (operators make few): what idsCovering scans. */
  private readonly networkIds = new Set<string>();
  /** The last change-stream entry memory has taken in (set by the first sweep; see catchUp). */
  private changesSeen: string | undefined;
  private catchingUp: Promise<void> | undefined;
  readonly counters: WriterCounters = { written: 0, skipped: 0, kept: 0, removed: 0, conflicts: 0, republished: 0, epochsRestored: 0 };

  constructor(
    redis: Redis,
    private readonly options: BlocklistWriterOptions,
  ) {
    defineBlocklistScripts(redis);
    this.redis = redis as ScriptedRedis;
    this.tracer = options.tracer ?? trace.getTracer('p2pwall-brain');
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Active decisions this replica knows (its copy for republishing). */
  known(): BrainDecision[] {
    const now = this.now();
    return [...this.memory.values()].filter((d) => d.expiresMs > now);
  }

  private remember(decision: BrainDecision): void {
    const mine = this.memory.get(decision.id);
    if (mine && mine.expiresMs > decision.expiresMs) return;
    if (mine) this.unlist(mine);
    this.memory.set(decision.id, decision);
    this.list(decision);
    this.rememberedAt.set(decision, ++this.remembered);
    this.peers.set(decision);
    const now = this.now();
    if (decision.scope !== p2pwall.v1.Scope.SCOPE_HOST && isActiveBlock(decision, now) && !(mine && isActiveBlock(mine, now))) this.newPeerBlocks.set(decision.id, decision);
  }

  /** The active decision under `id` this replica knows (written here, or read by the last sweep). */
  active(id: string, nowMs = this.now()): BrainDecision | undefined {
    const decision = this.memory.get(id);
    return decision !== undefined && decision.expiresMs > nowMs ? decision : undefined;
  }

  /** Whether this replica knows an active BLOCK under `id` (written here, or read by the last sweep). */
  isBlocked(id: string, nowMs = this.now()): boolean {
    const decision = this.memory.get(id);
    return decision !== undefined && isActiveBlock(decision, nowMs);
  }

  private forget(id: string): void {
    const mine = this.memory.get(id);
    if (mine) this.unlist(mine);
    this.memory.delete(id);
    this.peers.delete(id);
  }

  /** Files a decision of memory in the listing and under its address. */
  private list(decision: BrainDecision): void {
    this.listing.add(decision);
    if (decision.scope === p2pwall.v1.Scope.SCOPE_NETWORK) this.networkIds.add(decision.id);
    const ip = formatIp(decision.ip);
    if (ip === undefined) return;
    const ids = this.idsByIp.get(ip);
    if (ids === undefined) this.idsByIp.set(ip, decision.id);
    else if (typeof ids === 'string') {
      if (ids !== decision.id) this.idsByIp.set(ip, new Set([ids, decision.id]));
    } else ids.add(decision.id);
  }

  private unlist(decision: BrainDecision): void {
    this.listing.delete(decision);
    this.networkIds.delete(decision.id);
    const ip = formatIp(decision.ip);
    if (ip === undefined) return;
    const ids = this.idsByIp.get(ip);
    if (ids === decision.id) this.idsByIp.delete(ip);
    else if (typeof ids === 'object') {
      ids.delete(decision.id);
      if (ids.size === 1) this.idsByIp.set(ip, ids.values().next().value!);
    }
  }

  /** How many decisions memory holds (active, and expired ones the next sweep forgets). */
  get size(): number {
    return this.memory.size;
  }

  /**
   * Walks memory's decisions in the listing order (newest first, then by id) after `after`: at most
   * `maxVisits` of them, returning those `accept` takes, at most `limit` (see NewestFirst.walk).
   * Synchronous and bounded: a caller pages through a large blocklist in slices, yielding between.
   */
  walkListing(after: ListingKey | undefined, accept: (decision: BrainDecision) => boolean, limit: number, maxVisits: number): { items: BrainDecision[]; last: ListingKey | undefined; done: boolean } {
    return this.listing.walk(after, accept, limit, maxVisits);
  }

  /** The ids of memory's decisions about the address `ip` (as formatIp writes it): endpoints, the address, host locks, allow entries. */
  idsAbout(ip: string): string[] {
    const ids = this.idsByIp.get(ip);
    return ids === undefined ? [] : typeof ids === 'string' ? [ids] : [...ids];
  }

  /** The ids of memory's network decisions whose network holds the address `bytes`. */
  networkIdsCovering(bytes: Uint8Array): string[] {
    const address = { bytes, prefix: bytes.length * 8 };
    return [...this.networkIds].filter((id) => {
      const network = this.memory.get(id);
      return network !== undefined && networksOverlap({ bytes: network.ip, prefix: network.prefixLength ?? 0 }, address);
    });
  }

  /**
   * Brings memory up to date with the change stream since the last sweep or catch-up: decisions
   * other replicas wrote or removed appear at once instead of with the next sweep. Reads at most
   * `maxChanges` changes (a replica far behind waits for its sweep); concurrent calls share one read.
   */
  catchUp(maxChanges = 10_000): Promise<void> {
    this.catchingUp ??= this.readChanges(maxChanges).finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  private async readChanges(maxChanges: number): Promise<void> {
    const CHUNK = 500;
    for (let read = 0; read < maxChanges && this.changesSeen !== undefined; ) {
      const entries = await this.redis.xrangeBuffer(REDIS_KEYS.blocklistChanges, `(${this.changesSeen}`, '+', 'COUNT', CHUNK);
      for (const [entryId, fields] of entries) {
        const seen = entryId.toString();
        if (this.changesSeen === undefined || laterStreamId(seen, this.changesSeen)) this.changesSeen = seen;
        for (let k = 0; k + 1 < fields.length; k += 2) if (fields[k]!.toString() === 'c') this.applyChange(fields[k + 1]!);
      }
      read += entries.length;
      if (entries.length < CHUNK) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private applyChange(bytes: Buffer): void {
    let change: p2pwall.v1.BlocklistChange;
    try {
      change = p2pwall.v1.BlocklistChange.decode(bytes);
    } catch {
      return; // the sweep reads the hash itself
    }
    if (change.kind === p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE) this.forget(change.decisionId);
    else if (change.kind === p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT && change.decision) {
      const decision = decodeDecision(p2pwall.v1.Decision.encode(change.decision).finish());
      if (decision.expiresMs > this.now()) this.remember(decision);
    }
  }

  /**
   * Whether a flow of `transport` to the endpoint (`ip:port` / `[v6]:port`, as endpointText names
   * it) is blocked, by a block of the endpoint or of its whole address `ip` for that transport or
   * both, as far as this replica knows.
   */
  isPeerBlocked(endpoint: string, ip: string, transport: 'tcp' | 'udp', nowMs = this.now()): boolean {
    return this.peers.covers(endpoint, ip, transport, nowMs);
  }

  /** Endpoint and IP blocks that became active here (own writes or the sweep) since the last call. */
  takeNewPeerBlocks(): BrainDecision[] {
    const taken = [...this.newPeerBlocks.values()];
    this.newPeerBlocks = new Map();
    return taken;
  }

  /** `valueBytes`: `value` already encoded, when the caller has it. */
  private change(id: string, expected: Buffer | null, value: BrainDecision | null, kind: p2pwall.v1.ChangeKind, decision: BrainDecision, valueBytes?: Buffer): Promise<number> {
    const change = p2pwall.v1.BlocklistChange.encode({ kind, decision, decisionId: id }).finish();
    return blocklistUpdateSpan(this.tracer, id, kind, () => this.redis.p2pwallBlocklistChange(
      REDIS_KEYS.decisions,
      REDIS_KEYS.blocklistVersion,
      REDIS_KEYS.blocklistChanges,
      REDIS_KEYS.epoch,
      id,
      expected ?? '',
      valueBytes ?? (value ? Buffer.from(encodeDecision(value)) : ''),
      Buffer.from(change),
      this.options.changesMaxLen,
    ));
  }

  /** Merges `next` into the stored decision of the same id and writes it when that changes something. */
  async upsert(next: BrainDecision): Promise<UpsertResult> {
    // Upserts of one id run one after the other: the next starts from what the previous wrote
    // (often nothing left to write) instead of losing the compare-and-set to it and reading again.
    const previous = this.upserting.get(next.id);
    const run = previous ? previous.catch(() => undefined).then(() => this.upsertNow(next)) : this.upsertNow(next);
    this.upserting.set(next.id, run);
    try {
      return await run;
    } finally {
      if (this.upserting.get(next.id) === run) this.upserting.delete(next.id);
    }
  }

  private async upsertNow(next: BrainDecision): Promise<UpsertResult> {
    const unchanged = this.unchangedByMemory(next);
    if (unchanged) return unchanged;
    const result = await decisionSpan(this.tracer, next, () => this.upsertStored(next, true));
    if (result === 'written') this.options.onWritten?.(next);
    return result;
  }

  /**
   * upsert against the stored decision (republishing writes the memory copy itself back). With
   * `guessFromMemory`, the first attempt takes the live memory copy for the stored decision and
   * its encoding for the compare-and-set, saving a read: a copy this replica wrote or read encodes
   * to the stored bytes, unless another writer changed them since, and then the set fails and the
   * next attempt reads.
   */
  private async upsertStored(next: BrainDecision, guessFromMemory = false): Promise<UpsertResult> {
    const mine = guessFromMemory ? this.memory.get(next.id) : undefined;
    let guess = mine && mine.expiresMs > this.now() ? mine : undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const now = this.now();
      let current: Buffer | null;
      let stored: BrainDecision | undefined;
      if (guess) {
        stored = guess;
        current = this.storedBytes.get(guess) ?? Buffer.from(encodeDecision(guess));
        guess = undefined;
      } else {
        current = await this.redis.hgetBuffer(REDIS_KEYS.decisions, next.id);
        try {
          stored = current ? decodeDecision(current) : undefined;
        } catch {
          stored = undefined; // unreadable: overwrite it
        }
      }
      const merged = mergeDecision(stored, next, this.options.evidenceMaxItems, now);
      if (!merged) {
        this.counters.kept += 1;
        return 'kept';
      }
      const live = stored && stored.expiresMs > now ? stored : undefined;
      if (live && !worthWriting(live, merged, this.options.minExtendMs)) {
        this.remember(live);
        this.counters.skipped += 1;
        return 'skipped';
      }
      const bytes = Buffer.from(encodeDecision(merged));
      const version = await this.change(next.id, current, merged, p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, merged, bytes);
      if (version === -2) {
        await this.restoreEpoch();
        continue;
      }
      if (version === -1) {
        this.counters.conflicts += 1;
        continue;
      }
      this.highestVersion = Math.max(this.highestVersion, version);
      this.storedBytes.set(merged, bytes);
      this.remember(merged);
      this.counters.written += 1;
      return 'written';
    }
    throw new Error(`decision ${next.id}: gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  /**
   * Writes `decision` as it is, replacing whatever is stored under its id (no merge): an operator's
   * manual block or allow entry outranks what the brain decided, and an operator may shorten it.
   */
  async replace(decision: BrainDecision): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const current = await this.redis.hgetBuffer(REDIS_KEYS.decisions, decision.id);
      const version = await this.change(decision.id, current, decision, p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, decision);
      if (version === -2) {
        await this.restoreEpoch();
        continue;
      }
      if (version === -1) {
        this.counters.conflicts += 1;
        continue;
      }
      this.highestVersion = Math.max(this.highestVersion, version);
      // remember() keeps a later expiry; an operator may shorten one, so the old copy goes first.
      const old = this.memory.get(decision.id);
      if (old) this.unlist(old);
      this.memory.delete(decision.id);
      this.remember(decision);
      this.counters.written += 1;
      this.options.onWritten?.(decision);
      return;
    }
    throw new Error(`decision ${decision.id}: gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  /** 'skipped' or 'kept' when merging `next` into the live memory copy changes nothing worth writing; undefined: ask Redis. */
  private unchangedByMemory(next: BrainDecision): UpsertResult | undefined {
    const now = this.now();
    const mine = this.memory.get(next.id);
    if (!mine || mine.expiresMs <= now) return undefined;
    const merged = mergeDecision(mine, next, this.options.evidenceMaxItems, now);
    if (!merged) {
      this.counters.kept += 1;
      return 'kept';
    }
    if (worthWriting(mine, merged, this.options.minExtendMs)) return undefined;
    this.counters.skipped += 1;
    return 'skipped';
  }

  /** Removes a decision (REMOVE change) if it is still stored as `expected` (any stored value when undefined). */
  async remove(id: string, expected?: Buffer): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const current = await this.redis.hgetBuffer(REDIS_KEYS.decisions, id);
      if (!current || (expected && !current.equals(expected))) {
        this.forget(id);
        return false;
      }
      let decision: BrainDecision;
      try {
        decision = decodeDecision(current);
      } catch {
        decision = { id } as BrainDecision;
      }
      const version = await this.change(id, current, null, p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE, decision);
      if (version === -1) continue;
      if (version === -2) return false; // Redis lost everything: nothing left to remove
      this.highestVersion = Math.max(this.highestVersion, version);
      this.forget(id);
      this.counters.removed += 1;
      return true;
    }
    return false;
  }

  /** Whether Redis still holds the epoch marker; if not, sets a new one and republishes what this replica knows. */
  async ensureEpoch(): Promise<boolean> {
    if ((await this.redis.exists(REDIS_KEYS.epoch)) === 1) return false;
    await this.restoreEpoch();
    return true;
  }

  private restoreEpoch(): Promise<void> {
    this.restoring ??= (async () => {
      try {
        const set = await this.redis.p2pwallBlocklistEpoch(REDIS_KEYS.epoch, REDIS_KEYS.blocklistVersion, `${randomUUID()}@${this.now()}`, this.highestVersion);
        if (set === 1) {
          this.counters.epochsRestored += 1;
          this.options.log?.warn({ known: this.memory.size, versionFloor: this.highestVersion }, 'blocklist epoch missing (Redis empty or restarted): new epoch, republishing known decisions');
        }
        const pending = this.known();
        this.restoring = undefined;
        for (const decision of pending) {
          if ((await this.upsertStored(decision)) === 'written') this.counters.republished += 1;
        }
      } finally {
        this.restoring = undefined;
      }
    })();
    return this.restoring;
  }

  /** Active decisions among `ids` (one HMGET per LOOKUP_CHUNK ids: a spread of at most that many arguments, never one per id of a huge batch). */
  async lookup(ids: readonly string[]): Promise<Map<string, BrainDecision>> {
    const out = new Map<string, BrainDecision>();
    if (ids.length === 0) return out;
    const chunks: string[][] = [];
    for (let start = 0; start < ids.length; start += LOOKUP_CHUNK) chunks.push(ids.slice(start, start + LOOKUP_CHUNK));
    const values = (await Promise.all(chunks.map((chunk) => this.redis.hmgetBuffer(REDIS_KEYS.decisions, ...chunk)))).flat();
    const now = this.now();
    values.forEach((value, index) => {
      if (!value) return;
      try {
        const decision = decodeDecision(value);
        if (decision.expiresMs > now) out.set(ids[index]!, decision);
      } catch {
        // unreadable entries are ignored here; the sweep reports them
      }
    });
    return out;
  }

  /**
   * One maintenance pass: restores the epoch if Redis lost it, removes expired decisions (REMOVE
   * changes), learns the hash into memory, and for decisions of memory the hash lacks: re-writes
   * them after a restored epoch, forgets them otherwise.
   */
  async sweep(): Promise<{ removed: number; republished: number; active: number }> {
    const rememberedBefore = this.remembered;
    const restored = await this.ensureEpoch();
    // Every change after this entry is either in the hash the scan below reads or read by catchUp.
    const [tail] = await this.redis.xrevrangeBuffer(REDIS_KEYS.blocklistChanges, '+', '-', 'COUNT', 1);
    const tailId = tail ? tail[0].toString() : '0-0';
    const now = this.now();
    const epoch = await this.redis.get(REDIS_KEYS.epoch);
    // Another replica restored the epoch since the last sweep: what is missing was lost, not removed.
    const lost = this.epochSeen !== undefined && epoch !== this.epochSeen && !restored;
    this.epochSeen = epoch;
    let removed = 0;
    const present = new Set<string>();
    const stream = this.redis.hscanBufferStream(REDIS_KEYS.decisions, { count: 500 });
    const expired: [string, Buffer][] = [];
    for await (const chunk of stream as AsyncIterable<Buffer[]>) {
      for (let i = 0; i + 1 < chunk.length; i += 2) {
        const id = chunk[i]!.toString();
        const value = chunk[i + 1]!;
        present.add(id);
        const mine = this.memory.get(id);
        const known = mine && this.storedBytes.get(mine);
        // unchanged since this replica wrote or read it: nothing to decode or learn (it expires by its memory copy below)
        if (known && known.equals(value) && mine!.expiresMs > now) continue;
        let decision: BrainDecision | undefined;
        try {
          decision = decodeDecision(value);
        } catch {
          this.options.log?.warn({ id }, 'unreadable decision in the blocklist hash: removing it');
          expired.push([id, value]);
          continue;
        }
        if (decision.expiresMs <= now) expired.push([id, value]);
        else {
          this.storedBytes.set(decision, value);
          this.remember(decision);
        }
      }
    }
    for (const [id, value] of expired) if (await this.remove(id, value)) removed += 1;
    let republished = 0;
    for (const [id, decision] of this.memory) {
      if (decision.expiresMs <= now) this.forget(id);
      else if (present.has(id) || restored) continue;
      else if (lost) {
        if ((await this.upsertStored(decision)) === 'written') republished += 1;
      } else if ((this.rememberedAt.get(decision) ?? 0) <= rememberedBefore) {
        // Removed by someone else (an operator's unblock, an allow entry, another replica's
        // expiry): forget it, never write it back.
        this.forget(id);
      }
    }
    this.counters.republished += republished;
    if (this.changesSeen === undefined || laterStreamId(tailId, this.changesSeen)) this.changesSeen = tailId;
    return { removed, republished, active: this.memory.size };
  }
}

/** Whether stream entry id `a` (`ms-seq`) comes after `b`. */
export function laterStreamId(a: string, b: string): boolean {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs > bMs || (aMs === bMs && aSeq > bSeq);
}
