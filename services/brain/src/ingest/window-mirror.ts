import { type CorrelationConfig, entriesAggregates, type HostAggregates, type Mark, type TimedSet, windowEntry, type WindowEntry, WindowTally } from '@p2pwall/common/correlate';

/**
 * This replica's copies of the large host windows (those a rule may fire on), each with the
 * version Redis holds it under. Large windows belong to busy hosts, merged on nearly every batch;
 * with a copy, a merge sends only what changes and gets back no members, and the rules read the
 * copy's running counts (correlate/window-tally.ts), so a merge costs what it adds, not the
 * window's size. Redis stays the truth: the script merges incrementally only when the version it
 * holds is the one expected here; otherwise it merges in full and returns the window, which
 * reseeds the copy.
 *
 * predict() runs when a merge is sent, and applies the merge to the copy at once, so the next
 * message (sent on the same connection, so merged after it) expects the version that merge will
 * leave. It mirrors the script's merge exactly (correlate/window.ts mergeTimedSet semantics).
 * The rules read a copy when its batch is decided: by then it may already hold the merges of
 * messages sent after it, which reach Redis next on the same connection (merges only add).
 */

/** What the host rules read from a window after a merge. */
export interface WindowView {
  /** correlate/udp-fanout's and correlate/tcp-udp-pairs' aggregates (spans only when one of them fires). */
  aggregates(): HostAggregates;
  /** Its readable members, for correlate/blocked-peers' tally. */
  entries(): Iterable<WindowEntry>;
}

/** A window parsed from a full reply, read as it is. */
export class ParsedWindow implements WindowView {
  constructor(
    private readonly list: readonly WindowEntry[],
    private readonly config: CorrelationConfig,
  ) {}

  aggregates(): HostAggregates {
    return entriesAggregates(this.list, this.config);
  }

  entries(): Iterable<WindowEntry> {
    return this.list;
  }
}

/** Members are bucketed by the second they were last seen in, so that expiry visits what expires, not the window. */
const BUCKET_MS = 1000;
const bucketOf = (ts: number) => Math.floor(ts / BUCKET_MS);

/** A member of a copy: parsed (a WindowEntry, counted by the rules) or, unreadable, its mark alone (Redis counts it all the same). */
type Slot = WindowEntry | Mark;
const readable = (slot: Slot): slot is WindowEntry => (slot as WindowEntry).endpoint !== undefined;

/** Spelled out, not spread: a spread copy keeps numbers boxed, and every later update of ts would allocate. */
const copyOf = (e: WindowEntry): WindowEntry => ({ member: e.member, endpoint: e.endpoint, ip: e.ip, port: e.port, protocol: e.protocol, ts: e.ts, flags: e.flags });

class WindowCopy implements WindowView {
  readonly members = new Map<string, Slot>();
  /** bucketOf(ts) → the members last seen in that second. */
  private readonly buckets = new Map<number, Set<string>>();
  /** No member lies in an earlier bucket. */
  private firstBucket = Infinity;
  /** Newest member time: nothing live once the cutoff passes it. */
  newest = -Infinity;
  readonly tally: WindowTally;

  constructor(
    /** The version Redis will hold once every merge sent so far has run (as the script writes it). */
    public version: string,
    config: CorrelationConfig,
    excludedPorts: ReadonlySet<number>,
  ) {
    this.tally = new WindowTally(config, excludedPorts);
  }

  /** A new member; its mark may be the member already read (hostAdditions gives them so), else it is parsed here. */
  add(member: string, mark: Mark | WindowEntry): void {
    const slot: Slot = readable(mark) ? copyOf(mark) : (windowEntry(member, mark) ?? { ts: mark.ts, flags: mark.flags });
    this.members.set(member, slot);
    this.file(member, slot.ts);
    if (readable(slot)) this.tally.count(slot, 1);
    this.newest = Math.max(this.newest, slot.ts);
  }

  /** Max of times, OR of flags, as the script merges a member already there. */
  update(member: string, slot: Slot, ts: number, flags: number): void {
    if (ts > slot.ts) {
      this.unfile(member, slot.ts);
      slot.ts = ts;
      this.file(member, ts);
      this.newest = Math.max(this.newest, ts);
    }
    const before = slot.flags;
    slot.flags = before | flags;
    if (slot.flags !== before && readable(slot)) this.tally.flagsChanged(slot, before);
  }

  /** Removes the members last seen before `cutoffMs` and returns them. */
  expire(cutoffMs: number): string[] {
    const expired: string[] = [];
    if (this.firstBucket * BUCKET_MS >= cutoffMs) return expired;
    let first = Infinity;
    for (const [bucket, names] of this.buckets) {
      const whole = (bucket + 1) * BUCKET_MS <= cutoffMs;
      if (whole || bucket * BUCKET_MS < cutoffMs) {
        for (const name of names) {
          const slot = this.members.get(name)!;
          if (!whole && slot.ts >= cutoffMs) continue;
          expired.push(name);
          names.delete(name);
          this.members.delete(name);
          if (readable(slot)) this.tally.count(slot, -1);
        }
        if (names.size === 0) {
          this.buckets.delete(bucket);
          continue;
        }
      }
      first = Math.min(first, bucket);
    }
    this.firstBucket = first;
    return expired;
  }

  private file(member: string, ts: number): void {
    const bucket = bucketOf(ts);
    let names = this.buckets.get(bucket);
    if (!names) this.buckets.set(bucket, (names = new Set()));
    names.add(member);
    this.firstBucket = Math.min(this.firstBucket, bucket);
  }

  private unfile(member: string, ts: number): void {
    const bucket = bucketOf(ts);
    const names = this.buckets.get(bucket);
    names?.delete(member);
    if (names?.size === 0) this.buckets.delete(bucket);
  }

  aggregates(): HostAggregates {
    return this.tally.aggregates(() => this.entries());
  }

  entries(): WindowEntry[] {
    // an array, not a generator: a firing window is read on every batch, and resuming a generator per member costs more than the array
    const out: WindowEntry[] = [];
    for (const slot of this.members.values()) if (readable(slot)) out.push(slot);
    return out;
  }
}

/** What the script needs to merge incrementally: the version expected, the live count, the members that expired. */
export interface MirrorRequest {
  expected: string;
  live: number;
  expired: string[];
}

export interface Prediction {
  request: MirrorRequest;
  /** The window after this merge (the copy itself). */
  window: WindowView;
  /** Its member count after this merge (unreadable members included, as Redis counts them). */
  count: number;
}

export class WindowMirrors {
  private readonly copies = new Map<string, WindowCopy>();
  private readonly excludedPorts: ReadonlySet<number>;
  private members = 0;

  /** At most `maxWindows` copies holding at most `maxMembers` members together: beyond, the copy used longest ago goes. */
  constructor(
    private readonly config: CorrelationConfig,
    private readonly maxWindows: number,
    private readonly maxMembers = Infinity,
  ) {
    this.excludedPorts = new Set(config.host.tcpUdpPairs.excludePorts);
  }

  get size(): number {
    return this.copies.size;
  }

  /** Members held in all copies. */
  get memberCount(): number {
    return this.members;
  }

  /**
   * Applies a merge (the additions, times rounded to ms as they are sent; the script's cutoff and
   * member bound) to the copy of `key`, and returns what the script needs; undefined when there is
   * no copy.
   */
  predict(key: string, additions: readonly (readonly [string, Mark])[], cutoffMs: number, maxMembers: number): Prediction | undefined {
    const copy = this.copies.get(key);
    if (!copy) return undefined;
    const before = copy.members.size;
    const expired = copy.expire(cutoffMs);
    const live = copy.members.size;
    for (const [member, added] of additions) {
      const ts = Math.round(added.ts);
      if (ts < cutoffMs) continue;
      const known = copy.members.get(member);
      if (known) copy.update(member, known, ts, added.flags);
      else if (copy.members.size < maxMembers) copy.add(member, ts === added.ts ? added : { ts, flags: added.flags });
    }
    const request: MirrorRequest = { expected: copy.version, live, expired };
    copy.version = String(Number(copy.version) + 1);
    this.members += copy.members.size - before;
    // touched: moves to the end, so the bounds evict the copy used longest ago
    this.copies.delete(key);
    this.copies.set(key, copy);
    this.evict(copy);
    return { request, window: copy, count: copy.members.size };
  }

  /** The version the copy of `key` holds once every merge sent so far has run (undefined: no copy). */
  version(key: string): string | undefined {
    return this.copies.get(key)?.version;
  }

  /** The copy of `key`'s members last seen from `cutoffMs` on: how many (unreadable ones included), and the readable ones. */
  live(key: string, cutoffMs: number): { count: number; entries: WindowEntry[] } | undefined {
    const copy = this.copies.get(key);
    if (!copy) return undefined;
    let count = 0;
    const entries: WindowEntry[] = [];
    for (const slot of copy.members.values()) {
      if (slot.ts < cutoffMs) continue;
      count += 1;
      if (readable(slot)) entries.push(slot);
    }
    return { count, entries };
  }

  /** After a full merge: the window as Redis returned it (reseeds the copy), or undefined (the copy goes). */
  reseed(key: string, version: string, window: TimedSet | undefined): WindowView | undefined {
    this.forget(key);
    if (!window) return undefined;
    const copy = new WindowCopy(version, this.config, this.excludedPorts);
    for (const [member, mark] of window) copy.add(member, mark);
    this.copies.set(key, copy);
    this.members += copy.members.size;
    this.evict(copy);
    return copy;
  }

  private evict(keep: WindowCopy): void {
    for (const [key, copy] of this.copies) {
      if (this.copies.size <= this.maxWindows && this.members <= this.maxMembers) return;
      if (copy === keep) continue;
      this.forget(key);
    }
  }

  /** Drops a copy (it turned out wrong, or its window is gone). */
  forget(key: string): void {
    const copy = this.copies.get(key);
    if (!copy) return;
    this.copies.delete(key);
    this.members -= copy.members.size;
  }

  /** Drops copies with nothing newer than `cutoffMs` left: their windows are empty, their keys expire. */
  forgetIdle(cutoffMs: number): void {
    for (const [key, copy] of this.copies) if (copy.newest < cutoffMs) this.forget(key);
  }
}
