import { randomUUID } from 'node:crypto';
import { REDIS_KEYS, type Logger } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import { decodeDecision, encodeDecision, type BrainDecision } from '../decide/decision.js';
import { mergeDecision, worthWriting } from '../decide/make.js';

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
 * or saw in the hash (each sweep reads the whole hash), so replicas converge on the union; the
 * sweep also re-writes any active decision of its memory missing from the hash.
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
  private readonly memory = new Map<string, BrainDecision>();
  private highestVersion = 0;
  private restoring: Promise<void> | undefined;
  readonly counters: WriterCounters = { written: 0, skipped: 0, kept: 0, removed: 0, conflicts: 0, republished: 0, epochsRestored: 0 };

  constructor(
    redis: Redis,
    private readonly options: BlocklistWriterOptions,
  ) {
    defineBlocklistScripts(redis);
    this.redis = redis as ScriptedRedis;
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
    if (!mine || mine.expiresMs <= decision.expiresMs) this.memory.set(decision.id, decision);
  }

  private change(id: string, expected: Buffer | null, value: BrainDecision | null, kind: p2pwall.v1.ChangeKind, decision: BrainDecision): Promise<number> {
    const change = p2pwall.v1.BlocklistChange.encode({ kind, decision, decisionId: id }).finish();
    return this.redis.p2pwallBlocklistChange(
      REDIS_KEYS.decisions,
      REDIS_KEYS.blocklistVersion,
      REDIS_KEYS.blocklistChanges,
      REDIS_KEYS.epoch,
      id,
      expected ?? '',
      value ? Buffer.from(encodeDecision(value)) : '',
      Buffer.from(change),
      this.options.changesMaxLen,
    );
  }

  /** Merges `next` into the stored decision of the same id and writes it when that changes something. */
  async upsert(next: BrainDecision): Promise<UpsertResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const now = this.now();
      const current = await this.redis.hgetBuffer(REDIS_KEYS.decisions, next.id);
      let stored: BrainDecision | undefined;
      try {
        stored = current ? decodeDecision(current) : undefined;
      } catch {
        stored = undefined; // unreadable: overwrite it
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
      const version = await this.change(next.id, current, merged, p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, merged);
      if (version === -2) {
        await this.restoreEpoch();
        continue;
      }
      if (version === -1) {
        this.counters.conflicts += 1;
        continue;
      }
      this.highestVersion = Math.max(this.highestVersion, version);
      this.remember(merged);
      this.counters.written += 1;
      return 'written';
    }
    throw new Error(`decision ${next.id}: gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  /** Removes a decision (REMOVE change) if it is still stored as `expected` (any stored value when undefined). */
  async remove(id: string, expected?: Buffer): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const current = await this.redis.hgetBuffer(REDIS_KEYS.decisions, id);
      if (!current || (expected && !current.equals(expected))) {
        this.memory.delete(id);
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
      this.memory.delete(id);
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
          if ((await this.upsert(decision)) === 'written') this.counters.republished += 1;
        }
      } finally {
        this.restoring = undefined;
      }
    })();
    return this.restoring;
  }

  /** Active decisions among `ids` (one HMGET). */
  async lookup(ids: readonly string[]): Promise<Map<string, BrainDecision>> {
    const out = new Map<string, BrainDecision>();
    if (ids.length === 0) return out;
    const values = await this.redis.hmgetBuffer(REDIS_KEYS.decisions, ...ids);
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
   * changes), learns the hash into memory, and re-writes active decisions of memory the hash lacks.
   */
  async sweep(): Promise<{ removed: number; republished: number; active: number }> {
    const restored = await this.ensureEpoch();
    const now = this.now();
    let removed = 0;
    const present = new Set<string>();
    const stream = this.redis.hscanBufferStream(REDIS_KEYS.decisions, { count: 500 });
    const expired: [string, Buffer][] = [];
    for await (const chunk of stream as AsyncIterable<Buffer[]>) {
      for (let i = 0; i + 1 < chunk.length; i += 2) {
        const id = chunk[i]!.toString();
        const value = chunk[i + 1]!;
        present.add(id);
        let decision: BrainDecision | undefined;
        try {
          decision = decodeDecision(value);
        } catch {
          this.options.log?.warn({ id }, 'unreadable decision in the blocklist hash: removing it');
          expired.push([id, value]);
          continue;
        }
        if (decision.expiresMs <= now) expired.push([id, value]);
        else this.remember(decision);
      }
    }
    for (const [id, value] of expired) if (await this.remove(id, value)) removed += 1;
    let republished = 0;
    for (const [id, decision] of this.memory) {
      if (decision.expiresMs <= now) this.memory.delete(id);
      else if (!present.has(id) && !restored) {
        if ((await this.upsert(decision)) === 'written') republished += 1;
      }
    }
    this.counters.republished += republished;
    return { removed, republished, active: this.memory.size };
  }
}
