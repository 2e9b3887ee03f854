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
  }
}
