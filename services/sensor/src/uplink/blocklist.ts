import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connectionFailure, ConnectionLog, LogLimiter, REDIS_KEYS, redactUrlPasswords, redisSecuritySettings, type ConnectionFailure, type Logger } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisUplinkConfig } from '../config.js';

/**
 * Follows the shared blocklist in Redis: a snapshot (HGETALL of the decisions hash, the version
 * key and the change stream's last id, read in one MULTI so they agree), then the change stream
 * with XREAD BLOCK from that id. Every decision that is not expired is handed to onUpsert; one
 * that goes away (removed, expired, replaced by a snapshot without it) to onRemove. What the
 * decision means (peer, lock, allow; simulated; which site) is the caller's business.
 *
 * Falling behind: each change carries the version it makes; a change more than one past ours
 * (the stream was trimmed past our position, or an entry was unreadable) means we missed
 * something, so we re-read the snapshot. A connection error also ends in a re-snapshot once
 * Redis answers again; until then we keep what we have.
 *
 * Redis that lost everything (restarted empty: hash empty and version key missing, or a version
 * lower than ours): a new epoch. We keep every entry we have — dropping the blocklist because
 * Redis forgot it would open the gateways — and read the new epoch's changes as they come
 * (applied one by one, nothing removed on our own). The brain sets REDIS_KEYS.epoch first and
 * then republishes every decision it holds; once the marker has been there for
 * republishGraceMs, we re-read the snapshot and it becomes the truth again: entries it no
 * longer holds are removed. Until then every snapshot is merged (upserts only), never used to
 * remove.
 *
 * The applied blocklist is written to snapshotFile (debounced) and read at start when Redis
 * cannot be reached, so a restarted sensor enforces the last blocklist it knew.
 */

export interface BlocklistOptions {
  config: RedisUplinkConfig;
  logger: Logger;
  onUpsert: (decision: p2pwall.v1.Decision) => void;
  onRemove: (decision: p2pwall.v1.Decision) => void;
  /** Clock for expiry (ms since the epoch). */
  now?: () => number;
  /** XREAD BLOCK timeout; also how often the version and epoch keys are checked (default 1000). */
  blockMs?: number;
  /** Snapshot file writes wait this long after a change (default 1000). */
  saveDebounceMs?: number;
  /** How long start() waits for Redis before falling back to the snapshot file (default 2000). */
  startTimeoutMs?: number;
  /**
   * After Redis lost the blocklist, how long the epoch marker must have been present before a
   * snapshot is taken as the whole truth (the brain sets the marker first, then republishes;
   * default 30000).
   */
  republishGraceMs?: number;
  /** Pause after a Redis error before trying again (default 500). */
  retryDelayMs?: number;
  /** Called each time a whole blocklist was read: from Redis (a snapshot), or from the file at start. */
  onLoaded?: (source: BlocklistSource) => void;
}

/** Where the blocklist applied now was last read whole from. */
export type BlocklistSource = 'redis' | 'file';

/** Entries applied, by the scope of their decision (allow entries included). */
export interface ScopeCounts {
  endpoint: number;
  ip: number;
  host: number;
  network: number;
  other: number;
}

export interface BlocklistStats {
  version: number;
  /** The shared version last seen in Redis (version key or change stream); 0 before any. */
  latestSeenVersion: number;
  /** null: neither Redis nor the snapshot file has been read (yet). */
  loadedFrom: BlocklistSource | null;
  byScope: ScopeCounts;
  entries: number;
  upserts: number;
  removes: number;
  changes: number;
  snapshots: number;
  /** Re-snapshots because of a version gap (trimmed stream, unreadable entry) or a new epoch. */
  resyncs: number;
  /** Unreadable stream entries or hash fields, skipped. */
  malformed: number;
  expiredSkipped: number;
  callbackErrors: number;
  redisErrors: number;
  connected: boolean;
  /** Redis lost the blocklist and the brain has not yet said it republished. */
  awaitingEpoch: boolean;
  fileLoads: number;
  fileSaves: number;
}

interface Applied {
  decision: p2pwall.v1.Decision;
  bytes: Buffer;
}

const FILE_FORMAT = 'p2pwall-blocklist-snapshot/1';
const EXPIRY_SWEEP_MS = 5000;
/** Unreadable entries and failing callbacks are logged at most this often per kind (every one is counted in the stats). */
const PROBLEM_LOG_INTERVAL_MS = 60_000;

export class SnapshotFileError extends Error {}

/** ioredis options: fail fast and retry in our own loop; login and TLS as @p2pwall/common builds them. */
export function redisOptions(config: RedisUplinkConfig): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    connectTimeout: 2000,
    retryStrategy: () => 500,
    ...redisSecuritySettings(config),
  };
}

/** What to check when Redis is not serving us: refused credentials and TLS failures name the keys. */
function redisFailureAdvice(failure: ConnectionFailure): string {
  switch (failure) {
    case 'credentials':
      return 'Redis refused the uplink credentials (check uplink.redis username and password); keeping the blocklist we have';
    case 'permission':
      return 'the Redis ACL forbids a command the blocklist needs (read commands, MULTI/EXEC and XREAD on p2pwall:v1:*); keeping the blocklist we have';
    case 'tls':
      return 'TLS with Redis failed (check uplink.redis.tls: the CA that signed the server certificate, the client certificate); keeping the blocklist we have';
    case 'file':
      return 'a file of uplink.redis.tls cannot be read; keeping the blocklist we have';
    default:
      return 'keeping the blocklist we have';
  }
}

function scopeKey(scope: p2pwall.v1.Scope): keyof ScopeCounts {
  switch (scope) {
    case p2pwall.v1.Scope.SCOPE_ENDPOINT:
      return 'endpoint';
    case p2pwall.v1.Scope.SCOPE_IP:
      return 'ip';
    case p2pwall.v1.Scope.SCOPE_HOST:
      return 'host';
    case p2pwall.v1.Scope.SCOPE_NETWORK:
      return 'network';
    default:
      return 'other';
  }
}

function isExpired(decision: p2pwall.v1.Decision, now: number): boolean {
  return decision.expiresMs > 0 && decision.expiresMs <= now;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class BlocklistFollower {
  private readonly redis: Redis;
  private readonly applied = new Map<string, Applied>();
  private readonly now: () => number;
  private lastId = '0-0';
  private currentVersion = 0;
  private latestSeenVersion = 0;
  private loadedFrom: BlocklistSource | null = null;
  private readonly byScope: ScopeCounts = { endpoint: 0, ip: 0, host: 0, network: 0, other: 0 };
  /** Version key missing: accept changes of any version (a new epoch counting from scratch). */
  private anyVersion = false;
  private needSnapshot = true;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private lastSweep = 0;
  /** Unreadable entries and failing callbacks can come once per decision: logged at most once per interval and kind, with the count left out since. */
  private readonly problemLog = new LogLimiter(PROBLEM_LOG_INTERVAL_MS);
  /** One line per change of the Redis connection, with the cause. */
  private readonly redisLog: ConnectionLog;
  private readonly counters = { upserts: 0, removes: 0, changes: 0, snapshots: 0, resyncs: 0, malformed: 0, expiredSkipped: 0, callbackErrors: 0, redisErrors: 0, fileLoads: 0, fileSaves: 0 };
  private awaitingEpoch = false;
  private epochSeenMs: number | null = null;

  private constructor(private readonly options: BlocklistOptions) {
    this.now = options.now ?? Date.now;
    this.redis = new Redis(options.config.url, redisOptions(options.config));
    this.redisLog = new ConnectionLog(options.logger, { service: 'Redis', context: { url: redactUrlPasswords(options.config.url) } });
    this.redis.on('error', (error: Error) => this.logRedisError(error));
    this.redis.on('ready', () => this.redisLog.up());
  }

  /**
   * Reads the snapshot from Redis (waiting at most startTimeoutMs) or, when Redis is not there,
   * from the snapshot file; then follows the change stream in the background.
   */
  static async start(options: BlocklistOptions): Promise<BlocklistFollower> {
    const follower = new BlocklistFollower(options);
    const timeoutMs = options.startTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      follower.redis.connect().then(() => true, () => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    let loaded = false;
    if (ready) {
      try {
        await follower.snapshot();
        loaded = true;
      } catch (error) {
        follower.logRedisError(error);
      }
    }
    if (!loaded) follower.loadFile();
    follower.loop = follower.run();
    return follower;
  }

  /** The blocklist version applied (from Redis or, at a start without Redis, the file). */
  get version(): number {
    return this.currentVersion;
  }

  get stats(): BlocklistStats {
    return {
      ...this.counters,
      version: this.currentVersion,
      latestSeenVersion: this.latestSeenVersion,
      loadedFrom: this.loadedFrom,
      byScope: { ...this.byScope },
      entries: this.applied.size,
      connected: this.redis.status === 'ready',
      awaitingEpoch: this.awaitingEpoch,
    };
  }

  /** The decisions applied now. */
  decisions(): p2pwall.v1.Decision[] {
    return [...this.applied.values()].map((a) => a.decision);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect();
    await this.loop;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    if (this.dirty) this.saveFile();
  }

  private logRedisError(error: unknown): void {
    if (this.stopped) return;
    const failure = connectionFailure(error);
    this.redisLog.down(error, redisFailureAdvice(failure), failure === 'unreachable' ? 'warn' : 'error');
  }

  private async run(): Promise<void> {
    const blockMs = this.options.blockMs ?? 1000;
    while (!this.stopped) {
      try {
        if (this.redis.status !== 'ready') {
          this.needSnapshot = true;
          await sleep(100);
          continue;
        }
        if (this.needSnapshot) await this.snapshot();
        const reply = await this.redis.xreadBuffer('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', REDIS_KEYS.blocklistChanges, this.lastId);
        if (this.stopped) break;
        if (reply) {
          for (const [, entries] of reply) {
            for (const [id, fields] of entries) {
              if (!this.applyEntry(id.toString(), fields)) break;
            }
          }
        } else {
          await this.tick();
        }
        this.sweep();
      } catch (error) {
        if (this.stopped) break;
        this.counters.redisErrors++;
        this.needSnapshot = true;
        this.logRedisError(error);
        await sleep(this.options.retryDelayMs ?? 500);
      }
    }
  }

  /** An idle moment: has Redis lost the blocklist, or has the brain republished it? */
  private async tick(): Promise<void> {
    const [[, versionText], [, epoch]] = (await this.redis.multi().get(REDIS_KEYS.blocklistVersion).exists(REDIS_KEYS.epoch).exec()) as [[null, string | null], [null, number]];
    if (versionText !== null) this.latestSeenVersion = Number(versionText);
    if (this.awaitingEpoch) {
      if (epoch !== 1) this.epochSeenMs = null;
      else if (this.epochSeenMs === null) this.epochSeenMs = Date.now();
      else if (Date.now() - this.epochSeenMs >= (this.options.republishGraceMs ?? 30_000)) this.needSnapshot = true;
    } else if (versionText === null || Number(versionText) < this.currentVersion) {
      this.counters.resyncs++;
      this.needSnapshot = true;
    }
  }

  /** One MULTI: decisions hash, version, last stream id, epoch marker. */
  private async snapshot(): Promise<void> {
    const replies = await this.redis
      .multi()
      .hgetallBuffer(REDIS_KEYS.decisions)
      .get(REDIS_KEYS.blocklistVersion)
      .xrevrange(REDIS_KEYS.blocklistChanges, '+', '-', 'COUNT', 1)
      .exists(REDIS_KEYS.epoch)
      .exec();
    if (!replies) throw new Error('snapshot transaction aborted');
    for (const [error] of replies) if (error) throw error;
    const hash = replies[0]![1] as Record<string, Buffer>;
    const versionText = replies[1]![1] as string | null;
    const last = replies[2]![1] as [string, string[]][];
    const epochMarker = replies[3]![1] === 1;
    this.counters.snapshots++;
    this.needSnapshot = false;
    this.lastId = last[0]?.[0] ?? '0-0';
    const fields = Object.entries(hash);
    if (fields.length === 0 && versionText === null) {
      if (this.applied.size > 0 && !this.awaitingEpoch) {
        this.options.logger.warn({ kept: this.applied.size, version: this.currentVersion }, 'Redis holds no blocklist (restarted empty?): keeping ours until the brain republishes');
      }
      this.awaitingEpoch = this.applied.size > 0 || this.awaitingEpoch;
      this.anyVersion = true;
      // Redis answered with no blocklist at all: nothing to lag behind.
      this.latestSeenVersion = this.currentVersion;
      this.loaded('redis');
      return;
    }
    const version = versionText === null ? this.currentVersion : Number(versionText);
    const lostEpoch = this.awaitingEpoch || version < this.currentVersion;
    const graceOver = this.epochSeenMs !== null && Date.now() - this.epochSeenMs >= (this.options.republishGraceMs ?? 30_000);
    const authoritative = lostEpoch ? epochMarker && graceOver : true;
    const seen = new Set<string>();
    for (const [id, bytes] of fields) {
      const decision = this.decode(bytes, `hash field ${id}`);
      if (!decision) continue;
      seen.add(decision.id || id);
      this.upsert(decision.id || id, decision, bytes);
    }
    if (authoritative) {
      for (const id of [...this.applied.keys()]) if (!seen.has(id)) this.remove(id);
      if (this.awaitingEpoch) this.options.logger.info({ entries: this.applied.size, version }, 'brain republished the blocklist; Redis is the truth again');
      this.awaitingEpoch = false;
      this.epochSeenMs = null;
    } else {
      this.awaitingEpoch = true;
    }
    this.currentVersion = version;
    this.anyVersion = versionText === null;
    this.latestSeenVersion = version;
    this.loaded('redis');
  }

  /** false: stop reading this reply (a gap: re-snapshot first). */
  private applyEntry(id: string, fields: Buffer[]): boolean {
    let encoded: Buffer | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === 'c') encoded = fields[i + 1];
    let change: p2pwall.v1.BlocklistChange | null = null;
    if (encoded) {
      try {
        change = p2pwall.v1.BlocklistChange.decode(encoded);
      } catch {
        change = null;
      }
    }
    if (!change || (change.kind === p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT && !change.decision)) {
      this.counters.malformed++;
      this.problem('warn', 'unreadable blocklist change skipped', { id, malformed: this.counters.malformed });
      this.lastId = id;
      return true;
    }
    const version = Number(change.version);
    this.latestSeenVersion = version;
    if (!this.anyVersion) {
      if (version <= this.currentVersion) {
        this.lastId = id;
        return true;
      }
      if (version > this.currentVersion + 1) {
        this.counters.resyncs++;
        this.options.logger.info({ ours: this.currentVersion, next: version }, 'blocklist changes missed (stream trimmed?): re-reading the snapshot');
        this.needSnapshot = true;
        return false;
      }
    }
    this.counters.changes++;
    if (change.kind === p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT) {
      const decision = change.decision as p2pwall.v1.Decision;
      this.upsert(decision.id, decision, Buffer.from(p2pwall.v1.Decision.encode(decision).finish()));
    } else if (change.kind === p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE) {
      this.remove(change.decisionId || change.decision?.id || '');
    }
    this.currentVersion = version;
    this.anyVersion = false;
    this.lastId = id;
    return true;
  }

  /** A line about something that can happen once per decision, unless one like it (same message) was written within the interval. */
  private problem(level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    const line = this.problemLog.take(message, this.now());
    if (line) this.options.logger[level]({ ...fields, leftOut: line.leftOut }, message);
  }

  private decode(bytes: Buffer, where: string): p2pwall.v1.Decision | null {
    try {
      return p2pwall.v1.Decision.decode(bytes);
    } catch {
      this.counters.malformed++;
      this.problem('warn', 'unreadable decision skipped', { where, malformed: this.counters.malformed });
      return null;
    }
  }

  private upsert(id: string, decision: p2pwall.v1.Decision, bytes: Buffer): void {
    if (isExpired(decision, this.now())) {
      this.counters.expiredSkipped++;
      if (this.applied.has(id)) this.remove(id);
      return;
    }
    const current = this.applied.get(id);
    if (current && current.bytes.equals(bytes)) return;
    if (current) this.byScope[scopeKey(current.decision.scope)]--;
    this.byScope[scopeKey(decision.scope)]++;
    this.applied.set(id, { decision, bytes });
    this.counters.upserts++;
    this.changed();
    try {
      this.options.onUpsert(decision);
    } catch (error) {
      this.counters.callbackErrors++;
      this.problem('error', 'onUpsert failed', { err: error, id, callbackErrors: this.counters.callbackErrors });
    }
  }

  private remove(id: string): void {
    const current = this.applied.get(id);
    if (!current) return;
    this.applied.delete(id);
    this.byScope[scopeKey(current.decision.scope)]--;
    this.counters.removes++;
    this.changed();
    try {
      this.options.onRemove(current.decision);
    } catch (error) {
      this.counters.callbackErrors++;
      this.problem('error', 'onRemove failed', { err: error, id, callbackErrors: this.counters.callbackErrors });
    }
  }

  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweep < EXPIRY_SWEEP_MS) return;
    this.lastSweep = now;
    for (const [id, { decision }] of this.applied) if (isExpired(decision, now)) this.remove(id);
  }

  private loaded(source: BlocklistSource): void {
    this.loadedFrom = source;
    try {
      this.options.onLoaded?.(source);
    } catch (error) {
      this.counters.callbackErrors++;
      this.options.logger.error({ err: error }, 'onLoaded failed');
    }
  }

  private changed(): void {
    if (this.options.config.snapshotFile === null) return;
    this.dirty = true;
    if (this.saveTimer || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saveFile();
    }, this.options.saveDebounceMs ?? 1000);
    this.saveTimer.unref();
  }

  private saveFile(): void {
    const path = this.options.config.snapshotFile;
    if (path === null) return;
    try {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      const body = { format: FILE_FORMAT, version: this.currentVersion, savedMs: Date.now(), decisions: [...this.applied.values()].map((a) => a.bytes.toString('base64')) };
      writeFileSync(tmp, `${JSON.stringify(body)}\n`);
      renameSync(tmp, path);
      this.dirty = false;
      this.counters.fileSaves++;
    } catch (error) {
      this.options.logger.error({ err: error, path }, 'blocklist snapshot file not written');
    }
  }

  private loadFile(): void {
    const path = this.options.config.snapshotFile;
    if (path === null) return;
    let body: { format?: unknown; version?: unknown; decisions?: unknown };
    try {
      body = JSON.parse(readFileSync(path, 'utf8')) as typeof body;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.options.logger.error({ err: error, path }, 'blocklist snapshot file unreadable; starting empty');
      else this.options.logger.warn({ path }, 'Redis unreachable and no blocklist snapshot file; starting empty');
      return;
    }
    if (body.format !== FILE_FORMAT || typeof body.version !== 'number' || !Array.isArray(body.decisions)) {
      this.options.logger.error({ path }, 'blocklist snapshot file has an unknown format; starting empty');
      return;
    }
    for (const text of body.decisions) {
      if (typeof text !== 'string') continue;
      const bytes = Buffer.from(text, 'base64');
      const decision = this.decode(bytes, `snapshot file ${path}`);
      if (decision) this.upsert(decision.id, decision, bytes);
    }
    this.currentVersion = body.version;
    this.dirty = false;
    this.counters.fileLoads++;
    this.loaded('file');
    this.options.logger.info({ path, entries: this.applied.size, version: this.currentVersion }, 'Redis unreachable: blocklist loaded from the snapshot file');
  }
}
