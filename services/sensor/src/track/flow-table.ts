import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/packet.js';
import { FLOW_TIMES, Flow } from './flow.js';
import { FLOW_KEY_WORDS, hashFlowKey, writeFlowKey } from './flow-key.js';

export interface FlowTimeouts {
  /** Idle timeout of TCP flows, ms. */
  tcp: number;
  /** Idle timeout of UDP flows, ms. */
  udp: number;
  /** Idle timeout of other IP protocols, ms. */
  other: number;
}

export const DEFAULT_FLOW_TIMEOUTS: FlowTimeouts = { tcp: 300_000, udp: 60_000, other: 60_000 };

export type FlowEndCause = 'idle' | 'evicted' | 'flushed';

/** Entries the interim queue skips over before it compacts its arrays. */
const COMPACT_AFTER = 4096;

const LRU_TCP = 0;
const LRU_UDP = 1;
const LRU_OTHER = 2;

class LruList {
  oldest: Flow | null = null;
  newest: Flow | null = null;

  append(flow: Flow): void {
    flow.older = this.newest;
    flow.newer = null;
    if (this.newest) this.newest.newer = flow;
    else this.oldest = flow;
    this.newest = flow;
  }

  unlink(flow: Flow): void {
    if (flow.older) flow.older.newer = flow.newer;
    else this.oldest = flow.newer;
    if (flow.newer) flow.newer.older = flow.older;
    else this.newest = flow.older;
    flow.older = null;
    flow.newer = null;
  }
}

/** Slots whose flows share one block of times (Flow.times): a block never moves, so a Flow keeps its own for life. */
const SLOTS_PER_TIME_BLOCK = 1024;

/**
 * Flows by 5-tuple, bounded in number, with one LRU list per timeout class. Each list is ordered
 * by last activity, so idle expiry only ever looks at list heads, and eviction under pressure
 * takes the least recently active flow across the lists.
 *
 * The index is open addressing (linear probing, deletion by backward shift) over typed arrays:
 * bucket → slot and hash (side by side, so probing reads one cache line, not the hash's slot
 * too), slot → key words and hash (flow-key.ts), slot → Flow. The typed arrays are
 * made for maxFlows at once and never grow: the kernel backs their pages only as slots are
 * first used (the index's at once: its buckets are random), and a table that doubled as flows
 * arrived would copy and re-index every flow at each doubling, a stall of tens of ms in the
 * middle of a flood (the last doubling of a 262,144-flow table re-indexes 131,072). A slot keeps its Flow
 * object after the flow ends, and the next flow in that slot reuses it: with the table full,
 * every new flow takes the evicted one's slot and object, so a flood of new flows allocates
 * nothing per flow that the collector would have to copy and promote (the generational worst
 * case: objects that live as long as a flow stays in a full table, seconds).
 *
 * Lookups go through `key`: setKey writes the key of the packet at hand, find looks it up, and
 * add files a new flow under it.
 */
export class FlowTable {
  private readonly lists = [new LruList(), new LruList(), new LruList()];
  private readonly timeoutOf: Float64Array;
  /** Per table, so that outside hosts cannot choose 5-tuples that collide (flow-key.ts). */
  private readonly seed = (Math.random() * 0x1_0000_0000) | 0;
  /** The key of the packet at hand (setKey), its length in words and hash. */
  private readonly key = new Int32Array(FLOW_KEY_WORDS);
  private keyLength = 0;
  private keyHash = 0;
  /** Slot → its Flow: live, or ended and waiting for reuse; slots from bySlot.length on were never used. */
  private readonly bySlot: Flow[] = [];
  /** Slot / SLOTS_PER_TIME_BLOCK → the block of its flow's times. */
  private readonly timeBlocks: Float64Array[] = [];
  /** Slot → key words (FLOW_KEY_WORDS per slot). */
  private readonly keys: Int32Array;
  /** Slot → key hash. */
  private readonly hashes: Int32Array;
  /** Bucket b → slot + 1 at [2b] (0: empty) and the slot's key hash at [2b + 1]. At most half full. */
  private readonly index: Int32Array;
  private readonly indexMask: number;
  /** Slots whose flow ended, free for a new one: a stack, below `freeCount` (used before a never-used slot). */
  private readonly freeSlots: Int32Array;
  private freeCount = 0;
  private live = 0;
  /**
   * The interim queue: flows that changed since their last summary, in the order of that first
   * change (the clock only moves forward, so the head is always the longest-waiting). Two
   * parallel arrays and a head index, no per-flow links: an entry whose stamp no longer equals
   * its flow's changedSince is stale (the flow was summarized or left since, or its object now
   * holds another flow that changed at that very ms: then the entry stands for that flow, which
   * waits since then) and is skipped.
   */
  private changedFlows: Flow[] = [];
  private changedStamps: number[] = [];
  private changedHead = 0;
  evictions = 0;
  expirations = 0;

  constructor(
    readonly maxFlows: number,
    timeouts: FlowTimeouts,
    /** Called for every flow that leaves the table; the object is reused afterwards (see Flow). */
    private readonly onEnd: (flow: Flow, cause: FlowEndCause) => void,
  ) {
    if (!(maxFlows >= 1)) throw new RangeError('maxFlows must be at least 1');
    this.timeoutOf = Float64Array.from([timeouts.tcp, timeouts.udp, timeouts.other]);
    this.keys = new Int32Array(maxFlows * FLOW_KEY_WORDS);
    this.hashes = new Int32Array(maxFlows);
    this.freeSlots = new Int32Array(maxFlows);
    let buckets = 1;
    while (buckets < maxFlows * 2) buckets *= 2;
    this.index = new Int32Array(buckets * 2);
    this.indexMask = buckets - 1;
  }

  get size(): number {
    return this.live;
  }

  /** Makes (protocol, a end, b end) the key at hand: find looks it up, add files a new flow under it. */
  setKey(protocol: number, buf: Uint8Array, aOffset: number, aPort: number, bOffset: number, bPort: number, addressLength: 4 | 16): void {
    const length = writeFlowKey(this.key, protocol, buf, aOffset, aPort, bOffset, bPort, addressLength);
    this.keyLength = length;
    this.keyHash = hashFlowKey(this.key, length, this.seed);
  }

  /** The flow of the key at hand, if the table holds one. */
  find(): Flow | undefined {
    const index = this.index;
    const mask = this.indexMask;
    const hash = this.keyHash;
    for (let bucket = hash & mask; ; bucket = (bucket + 1) & mask) {
      const entry = index[2 * bucket]!;
      if (entry === 0) return undefined;
      if (index[2 * bucket + 1] === hash && this.keyEquals(entry - 1)) return this.bySlot[entry - 1];
    }
  }

  /**
   * Files a new flow under the key at hand (which the table must not hold), evicting the least
   * recently active flow first when the table is full. Returns its object, recycled or new: the
   * caller resets it (Flow.reset) before anything else reads it.
   */
  add(protocol: number): Flow {
    if (this.live >= this.maxFlows) this.evictOldest();
    let slot: number;
    let flow: Flow;
    if (this.freeCount > 0) {
      slot = this.freeSlots[--this.freeCount]!;
      flow = this.bySlot[slot]!;
    } else {
      slot = this.bySlot.length;
      const block = Math.floor(slot / SLOTS_PER_TIME_BLOCK);
      const times = (this.timeBlocks[block] ??= new Float64Array(SLOTS_PER_TIME_BLOCK * FLOW_TIMES));
      flow = new Flow('', protocol, 4, '', 0, '', 0, false, times, (slot % SLOTS_PER_TIME_BLOCK) * FLOW_TIMES);
      this.bySlot.push(flow);
    }
    flow.slot = slot;
    const keys = this.keys;
    const key = this.key;
    const base = slot * FLOW_KEY_WORDS;
    for (let i = 0; i < this.keyLength; i++) keys[base + i] = key[i]!;
    this.hashes[slot] = this.keyHash;
    this.indexInsert(slot);
    this.live++;
    flow.lruClass = protocol === IPPROTO_TCP ? LRU_TCP : protocol === IPPROTO_UDP ? LRU_UDP : LRU_OTHER;
    this.lists[flow.lruClass]!.append(flow);
    return flow;
  }

  /** Marks a flow as just active. */
  touch(flow: Flow): void {
    const list = this.lists[flow.lruClass]!;
    if (list.newest === flow) return;
    list.unlink(flow);
    list.append(flow);
  }

  /** Notes that the flow changed (a packet); it joins the interim queue unless it waits there already. */
  noteChange(flow: Flow, now: number): void {
    if (flow.changedSince >= 0) return;
    flow.changedSince = now;
    this.changedFlows.push(flow);
    this.changedStamps.push(now);
  }

  /** The flow was just summarized: nothing about it is new any more. */
  markSummarized(flow: Flow): void {
    flow.changedSince = -1;
  }

  /**
   * Hands every flow whose first unsummarized change is at or before `cutoff` to `summarize`,
   * longest-waiting first, and marks it summarized. Cheap when nothing is due: one look at the head.
   */
  summarizeChanged(cutoff: number, summarize: (flow: Flow) => void): void {
    const flows = this.changedFlows;
    const stamps = this.changedStamps;
    let head = this.changedHead;
    while (head < flows.length) {
      const flow = flows[head]!;
      const stamp = stamps[head]!;
      if (flow.changedSince === stamp && stamp > cutoff) break;
      head++;
      if (flow.changedSince !== stamp) continue;
      flow.changedSince = -1;
      summarize(flow);
    }
    this.changedHead = head;
    if (head === flows.length) {
      flows.length = 0;
      stamps.length = 0;
      this.changedHead = 0;
    } else if (head >= COMPACT_AFTER && head * 2 >= flows.length) {
      // Entries before the head would keep flows that left the table alive: drop them.
      this.changedFlows = flows.slice(head);
      this.changedStamps = stamps.slice(head);
      this.changedHead = 0;
    }
  }

  /** Flows in the interim queue, stale entries included (tests, bounds). */
  get changedQueueLength(): number {
    return this.changedFlows.length - this.changedHead;
  }

  /** Ends flows idle longer than their class's timeout. Cheap when nothing is due. */
  expire(now: number): void {
    for (let c = 0; c < this.lists.length; c++) {
      const list = this.lists[c]!;
      const timeout = this.timeoutOf[c]!;
      let flow = list.oldest;
      while (flow && now - flow.lastSeen > timeout) {
        const next = flow.newer;
        this.remove(flow);
        this.expirations++;
        this.onEnd(flow, 'idle');
        flow = next;
      }
    }
  }

  /** Ends every flow, oldest first (end of a capture, shutdown). */
  flush(): void {
    for (;;) {
      const oldest = this.oldestAcrossLists();
      if (!oldest) return;
      this.remove(oldest);
      this.onEnd(oldest, 'flushed');
    }
  }

  /** The live flows, class by class, least recently active first. */
  *[Symbol.iterator](): IterableIterator<Flow> {
    for (const list of this.lists) {
      for (let flow = list.oldest; flow !== null; flow = flow.newer) yield flow;
    }
  }

  private evictOldest(): void {
    const victim = this.oldestAcrossLists();
    if (!victim) return;
    this.remove(victim);
    this.evictions++;
    this.onEnd(victim, 'evicted');
  }

  private oldestAcrossLists(): Flow | null {
    let victim: Flow | null = null;
    for (const list of this.lists) {
      const candidate = list.oldest;
      if (candidate && (!victim || candidate.lastSeen < victim.lastSeen)) victim = candidate;
    }
    return victim;
  }

  private remove(flow: Flow): void {
    this.indexDelete(flow.slot);
    this.freeSlots[this.freeCount++] = flow.slot;
    flow.slot = -1;
    this.live--;
    this.lists[flow.lruClass]!.unlink(flow);
    // Its end summary says everything: its interim queue entry, if any, goes stale.
    flow.changedSince = -1;
  }

  private keyEquals(slot: number): boolean {
    const keys = this.keys;
    const key = this.key;
    const base = slot * FLOW_KEY_WORDS;
    if (keys[base] !== key[0]) return false;
    const length = this.keyLength;
    for (let i = 1; i < length; i++) if (keys[base + i] !== key[i]) return false;
    return true;
  }

  private indexInsert(slot: number): void {
    const index = this.index;
    const mask = this.indexMask;
    const hash = this.hashes[slot]!;
    let bucket = hash & mask;
    while (index[2 * bucket] !== 0) bucket = (bucket + 1) & mask;
    index[2 * bucket] = slot + 1;
    index[2 * bucket + 1] = hash;
  }

  /** Empties the slot's bucket and moves later entries of its probe run back (no tombstones, so churn never fills the index). */
  private indexDelete(slot: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let hole = this.hashes[slot]! & mask;
    while (index[2 * hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let bucket = (hole + 1) & mask; ; bucket = (bucket + 1) & mask) {
      const entry = index[2 * bucket]!;
      if (entry === 0) break;
      const hash = index[2 * bucket + 1]!;
      const home = hash & mask;
      // The entry may move into the hole unless its home lies cyclically in (hole, bucket].
      const stays = hole <= bucket ? home > hole && home <= bucket : home > hole || home <= bucket;
      if (!stays) {
        index[2 * hole] = entry;
        index[2 * hole + 1] = hash;
        hole = bucket;
      }
    }
    index[2 * hole] = 0;
  }
}
