import type { InsideHost } from './hosts.js';

/** Counters for one direction of a flow. */
export class FlowDirection {
  packets = 0;
  bytes = 0;
  payloadPackets = 0;
  /** Length of the first payload in this direction; 0 until one was seen. */
  firstPayloadLength = 0;
  firstSeen = 0;
  lastSeen = 0;
}

export const Verdict = { accept: 0, drop: 1 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * A bidirectional flow, oriented inside → outside. For flows whose ends are both inside or both
 * outside, the "inside" end is the one that sent the first packet seen, and `crossesBoundary` is
 * false: such flows are tracked and labelled but never learn peers or drop.
 */
export class Flow {
  /** Which side sent the first packet seen (true: the inside end). */
  initiatorInside = true;
  /** Whether the flow began with a TCP SYN (or, for UDP, any datagram): a new connection. */
  startedFresh = false;
  /** Inside → outside. */
  readonly out = new FlowDirection();
  /** Outside → inside. */
  readonly in = new FlowDirection();
  /**
   * The flow's label: of the protocol modules whose evidence the engine accepted on it, the one
   * with the highest priority (the lowest slot); null while none.
   */
  app: string | null = null;
  /** Bit s: the module in slot s (the engine's module list) concluded on this flow. */
  labels = 0;
  /** Bit s: ... from a packet the inside host sent itself (what lets a reply or a named peer count). */
  ownLabels = 0;
  /** Rule ids accepted on this flow, at most 8, each once. */
  rules: string[] = [];
  /** Per-module state, by slot; null while no module keeps any. */
  moduleStates: unknown[] | null = null;
  /** Peers this flow taught (bounded by EngineConfig.maxPeersPerFlow). */
  peersLearned = 0;
  verdict: Verdict = Verdict.accept;
  reason = 'clean';
  droppedPackets = 0;
  /** A packet of this flow was judged "drop" but let through (monitor mode, or UDP under -n). */
  wouldDrop = false;
  /** Whether a locked client opened this flow to a port the time-lock covers. */
  timeLockCandidate = false;

  /** Cached "leads to a learned peer" answer, valid while the peer table's version is unchanged. */
  peerVersion = -1;
  leadsToPeer = false;
  /** When the peer entry behind a cached "yes" expires (ms). */
  leadsToPeerUntil = 0;
  /** The inside end's host record (set by the engine when the flow starts). */
  host: InsideHost | null = null;
  /**
   * When the flow first changed after its last summary (ms), or -1 while nothing changed since
   * (owned by FlowTable's interim queue: see noteChange).
   */
  changedSince = -1;

  // Intrusive LRU list links (owned by FlowTable).
  newer: Flow | null = null;
  older: Flow | null = null;
  lruClass = 0;

  constructor(
    readonly key: string,
    readonly protocol: number,
    readonly ipVersion: 4 | 6,
    /** Address keys (see decode/address.ts). */
    readonly insideAddress: string,
    readonly insidePort: number,
    readonly outsideAddress: string,
    readonly outsidePort: number,
    readonly crossesBoundary: boolean,
  ) {}

  get packets(): number {
    return this.out.packets + this.in.packets;
  }

  get firstSeen(): number {
    if (this.out.packets === 0) return this.in.firstSeen;
    if (this.in.packets === 0) return this.out.firstSeen;
    return Math.min(this.out.firstSeen, this.in.firstSeen);
  }

  get lastSeen(): number {
    return Math.max(this.out.lastSeen, this.in.lastSeen);
  }

  /** Whether the side that did not start the flow ever sent anything back. */
  get answered(): boolean {
    return this.initiatorInside ? this.in.packets > 0 : this.out.packets > 0;
  }
}
