import type { InsideHost } from './hosts.js';

/** Counters for one direction of a flow. */
export class FlowDirection {
  packets = 0;
  bytes = 0;
  payloadPackets = 0;
  /** Length of the first payload in this direction; 0 until one was seen. */
  firstPayloadLength = 0;

  reset(): void {
    this.packets = 0;
    this.bytes = 0;
    this.payloadPackets = 0;
    this.firstPayloadLength = 0;
  }
}

/** The rules of a flow that has none: shared by every such flow, never written. */
export const NO_RULES: readonly string[] = Object.freeze([]);

/** The flow's rules with `rule` added (at most 8, each once); a new array the first time. */
export function withRule(rules: readonly string[], rule: string): readonly string[] {
  if (rules.length >= 8 || rules.includes(rule)) return rules;
  if (rules === NO_RULES) return [rule];
  (rules as string[]).push(rule);
  return rules;
}

export const Verdict = { accept: 0, drop: 1 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * A bidirectional flow, oriented inside → outside. For flows whose ends are both inside or both
 * outside, the "inside" end is the one that sent the first packet seen, and `crossesBoundary` is
 * false: such flows are tracked and labelled but never learn peers or drop.
 *
 * The flow table recycles Flow objects (reset): a flow that ended is the object of a later one,
 * so that a flood of new flows allocates nothing that lives as long as a flow does. Whatever
 * must outlive a flow (its end event) copies what it needs when the flow ends.
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
  /**
   * Rule ids accepted on this flow, at most 8, each once. NO_RULES (shared, frozen) until the
   * first: most flows never get one, and an array each would be one more object per flow for the
   * collector to copy and promote while a flood fills the table.
   */
  rules: readonly string[] = NO_RULES;
  /** When the flow's first and latest packets were seen (ms); 0 before the first. */
  firstSeen = 0;
  lastSeen = 0;
  /** Per-module state, by slot; null while no module keeps any. */
  moduleStates: unknown[] | null = null;
  /** Bit s: the module in slot s said it will find nothing more on this flow (FlowMemory.pass). */
  passedModules = 0;
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

  /** Where the flow table keeps it (owned by FlowTable; -1 while in none). */
  slot = -1;

  /** The outside address as given (a key), or null: then it is the words below (outsideAddressFrom). */
  private outsideKey: string | null = null;
  /** 4 or 16 while the words hold the address; 0 while the key does. The words are int32 (| 0), small integers to V8, not boxed doubles. */
  private outsideLength = 0;
  private outside0 = 0;
  private outside1 = 0;
  private outside2 = 0;
  private outside3 = 0;

  constructor(
    /** A name for tests and logs; the table keys flows by their 5-tuple (flow-key.ts), not by this. */
    public key: string,
    public protocol: number,
    public ipVersion: 4 | 6,
    /** Address keys (see decode/address.ts). */
    public insideAddress: string,
    public insidePort: number,
    outsideAddress: string,
    public outsidePort: number,
    public crossesBoundary: boolean,
  ) {
    this.outsideKey = outsideAddress;
  }

  /**
   * The outside end's address key (decode/address.ts). A flow made from a packet keeps the
   * address as numbers and builds the key when asked (the first packet's peer lookup, evidence,
   * the end event): a key string kept per flow would live as long as the flow, so under a flood
   * every one of them would be copied and promoted by the collector, the cost this spares.
   */
  get outsideAddress(): string {
    if (this.outsideKey !== null) return this.outsideKey;
    const a = this.outside0;
    if (this.outsideLength === 4) return String.fromCharCode(a >>> 16, a & 0xffff);
    const b = this.outside1;
    const c = this.outside2;
    const d = this.outside3;
    return String.fromCharCode(a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff, d >>> 16, d & 0xffff);
  }

  /**
   * The outside IPv4 address as an unsigned 32-bit number when the flow holds it as one (made
   * from a packet), else -1: the peer lookup of every packet after the peer table changed reads
   * it without building the key string.
   */
  outsideIpv4(): number {
    return this.outsideKey === null && this.outsideLength === 4 ? this.outside0 >>> 0 : -1;
  }

  set outsideAddress(key: string) {
    this.outsideKey = key;
    this.outsideLength = 0;
    this.outside0 = this.outside1 = this.outside2 = this.outside3 = 0;
  }

  /** Sets the outside address from the packet's bytes at buf[offset, offset + length). */
  outsideAddressFrom(buf: Uint8Array, offset: number, length: 4 | 16): void {
    this.outsideKey = null;
    this.outsideLength = length;
    this.outside0 = (buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!;
    if (length === 4) {
      this.outside1 = this.outside2 = this.outside3 = 0;
      return;
    }
    this.outside1 = (buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!;
    this.outside2 = (buf[offset + 8]! << 24) | (buf[offset + 9]! << 16) | (buf[offset + 10]! << 8) | buf[offset + 11]!;
    this.outside3 = (buf[offset + 12]! << 24) | (buf[offset + 13]! << 16) | (buf[offset + 14]! << 8) | buf[offset + 15]!;
  }

  /**
   * Makes this object a new flow, as the constructor would: every field but the table's own
   * (slot, LRU links and class). The rules array may have gone out with the old flow's end
   * event, so it is replaced (by NO_RULES), never emptied. A flow made from a packet then takes
   * its outside address from the bytes (outsideAddressFrom).
   */
  reset(protocol: number, ipVersion: 4 | 6, insideAddress: string, insidePort: number, outsideAddress: string, outsidePort: number, crossesBoundary: boolean): void {
    this.protocol = protocol;
    this.ipVersion = ipVersion;
    this.insideAddress = insideAddress;
    this.insidePort = insidePort;
    this.outsideAddress = outsideAddress;
    this.outsidePort = outsidePort;
    this.crossesBoundary = crossesBoundary;
    this.initiatorInside = true;
    this.startedFresh = false;
    this.out.reset();
    this.in.reset();
    this.app = null;
    this.labels = 0;
    this.ownLabels = 0;
    this.rules = NO_RULES;
    this.firstSeen = 0;
    this.lastSeen = 0;
    this.moduleStates = null;
    this.passedModules = 0;
    this.peersLearned = 0;
    this.verdict = Verdict.accept;
    this.reason = 'clean';
    this.droppedPackets = 0;
    this.wouldDrop = false;
    this.timeLockCandidate = false;
    this.peerVersion = -1;
    this.leadsToPeer = false;
    this.leadsToPeerUntil = 0;
    this.host = null;
    this.changedSince = -1;
  }

  get packets(): number {
    return this.out.packets + this.in.packets;
  }

  /** Whether the side that did not start the flow ever sent anything back. */
  get answered(): boolean {
    return this.initiatorInside ? this.in.packets > 0 : this.out.packets > 0;
  }
}
