import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/packet.js';
import { Flow } from './flow.js';

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

/**
 * Flows by key, bounded in number, with one LRU list per timeout class. Each list is ordered by
 * last activity, so idle expiry only ever looks at list heads, and eviction under pressure
 * takes the least recently active flow across the lists.
 */
export class FlowTable {
  private readonly flows = new Map<string, Flow>();
  private readonly lists = [new LruList(), new LruList(), new LruList()];
  private readonly timeoutOf: Float64Array;
  /**
   * The interim queue: flows that changed since their last summary, in the order of that first
   * change (the clock only moves forward, so the head is always the longest-waiting). Two
   * parallel arrays and a head index, no per-flow links: an entry whose stamp no longer equals
   * its flow's changedSince is stale (the flow was summarized or left since) and is skipped.
   */
  private changedFlows: Flow[] = [];
  private changedStamps: number[] = [];
  private changedHead = 0;
  evictions = 0;
  expirations = 0;

  constructor(
    readonly maxFlows: number,
    timeouts: FlowTimeouts,
    /** Called for every flow that leaves the table. */
    private readonly onEnd: (flow: Flow, cause: FlowEndCause) => void,
  ) {
    if (!(maxFlows >= 1)) throw new RangeError('maxFlows must be at least 1');
    this.timeoutOf = Float64Array.from([timeouts.tcp, timeouts.udp, timeouts.other]);
  }

  get size(): number {
    return this.flows.size;
  }

  get(key: string): Flow | undefined {
    return this.flows.get(key);
  }

  /** Adds a new flow, evicting the least recently active one when the table is full. */
  insert(flow: Flow): void {
    if (this.flows.size >= this.maxFlows) this.evictOldest();
    flow.lruClass = flow.protocol === IPPROTO_TCP ? LRU_TCP : flow.protocol === IPPROTO_UDP ? LRU_UDP : LRU_OTHER;
    this.flows.set(flow.key, flow);
    this.lists[flow.lruClass]!.append(flow);
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

  *[Symbol.iterator](): IterableIterator<Flow> {
    yield* this.flows.values();
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
    this.flows.delete(flow.key);
    this.lists[flow.lruClass]!.unlink(flow);
    // Its end summary says everything: its interim queue entry, if any, goes stale.
    flow.changedSince = -1;
  }
}
