import { windowEntry, type WindowEntry } from '../correlate/rules.js';
import type { Mark, TimedSet } from '../correlate/window.js';

/**
 * This replica's copies of the large host windows (those a rule may fire on), each with the
 * version Redis holds it under. Large windows are those of P2P clients, merged on nearly every
 * batch; with a copy, a merge sends only what changes and gets back no members, and the rules
 * read the copy, already parsed (see INGEST_SCRIPT). Redis stays the truth: the script merges
 * incrementally only when the version it holds is the one expected here; otherwise it merges in
 * full and returns the window, which reseeds the copy.
 *
 * predict() runs when a merge is sent, and applies the merge to the copy at once, so the next
 * message (sent on the same connection, so merged after it) expects the version that merge will
 * leave. It mirrors the script's merge exactly (correlate/window.ts mergeTimedSet semantics).
 */

interface Copy {
  /** The version Redis will hold once every merge sent so far has run (as the script writes it). */
  version: string;
  members: Map<string, { mark: Mark; entry: WindowEntry | undefined }>;
  /** Newest member time: nothing live once the cutoff passes it. */
  newest: number;
  /** No member is older than this: nothing expires before the cutoff passes it. */
  oldest: number;
}

/** What the script needs to merge incrementally: the version expected, the live count, the members that expired. */
export interface MirrorRequest {
  expected: string;
  live: number;
  expired: string[];
}

export interface Prediction {
  request: MirrorRequest;
  /** The window as it will be after this merge, parsed (unreadable members left out). */
  entries: WindowEntry[];
  /** Its member count (unreadable members included, as Redis counts them). */
  count: number;
}

export class WindowMirrors {
  private readonly copies = new Map<string, Copy>();

  constructor(private readonly maxWindows: number) {}

  get size(): number {
    return this.copies.size;
  }

  /**
   * Applies a merge (the additions, times rounded to ms as they are sent; the script's cutoff and
   * member bound) to the copy of `key`, and returns what the script needs; undefined when there is
   * no copy.
   */
  predict(key: string, additions: readonly (readonly [string, Mark])[], cutoffMs: number, maxMembers: number): Prediction | undefined {
    const copy = this.copies.get(key);
    if (!copy) return undefined;
    const expired: string[] = [];
    if (copy.oldest < cutoffMs) {
      copy.oldest = Infinity;
      copy.members.forEach(({ mark }, member, members) => {
        if (mark.ts < cutoffMs) {
          expired.push(member);
          members.delete(member);
        } else copy.oldest = Math.min(copy.oldest, mark.ts);
      });
    }
    const live = copy.members.size;
    for (const [member, added] of additions) {
      const mark = { ts: Math.round(added.ts), flags: added.flags };
      if (mark.ts < cutoffMs) continue;
      const known = copy.members.get(member);
      if (known) {
        const ts = Math.max(known.mark.ts, mark.ts);
        const flags = known.mark.flags | mark.flags;
        // marks are replaced, never changed in place: an earlier prediction's entries stay as they were
        if (ts !== known.mark.ts || flags !== known.mark.flags) copy.members.set(member, this.member(member, { ts, flags }));
      } else if (copy.members.size < maxMembers) {
        copy.members.set(member, this.member(member, mark));
        copy.oldest = Math.min(copy.oldest, mark.ts);
      }
      copy.newest = Math.max(copy.newest, mark.ts);
    }
    const request: MirrorRequest = { expected: copy.version, live, expired };
    copy.version = String(Number(copy.version) + 1);
    const entries: WindowEntry[] = [];
    for (const { entry } of copy.members.values()) if (entry) entries.push(entry);
    // touched: moves to the end, so the bound evicts the copy used longest ago
    this.copies.delete(key);
    this.copies.set(key, copy);
    return { request, entries, count: copy.members.size };
  }

  private member(member: string, mark: Mark): { mark: Mark; entry: WindowEntry | undefined } {
    return { mark, entry: windowEntry(member, mark) };
  }

  /** After a full merge: the window as Redis returned it (reseeds the copy), or undefined (the copy goes). */
  reseed(key: string, version: string, window: TimedSet | undefined): WindowEntry[] | undefined {
    this.copies.delete(key);
    if (!window) return undefined;
    const copy: Copy = { version, members: new Map(), newest: -Infinity, oldest: Infinity };
    for (const [member, mark] of window) {
      copy.members.set(member, this.member(member, mark));
      copy.newest = Math.max(copy.newest, mark.ts);
      copy.oldest = Math.min(copy.oldest, mark.ts);
    }
    this.copies.set(key, copy);
    if (this.copies.size > this.maxWindows) this.copies.delete(this.copies.keys().next().value!);
    const entries: WindowEntry[] = [];
    for (const { entry } of copy.members.values()) if (entry) entries.push(entry);
    return entries;
  }

  /** Drops a copy that turned out wrong (a defensive check failed). */
  forget(key: string): void {
    this.copies.delete(key);
  }

  /** Drops copies with nothing newer than `cutoffMs` left: their windows are empty, their keys expire. */
  forgetIdle(cutoffMs: number): void {
    for (const [key, copy] of this.copies) if (copy.newest < cutoffMs) this.copies.delete(key);
  }
}
