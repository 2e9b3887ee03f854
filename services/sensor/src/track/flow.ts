import { formatAddressKey, formatIpv4Word } from '../decode/address.js';
import type { InsideHost } from './hosts.js';

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

/** Flag bits of Flow.bits (booleans and small enums packed into one small integer field). */
const INITIATOR_INSIDE = 1 << 0;
const STARTED_FRESH = 1 << 1;
const WOULD_DROP = 1 << 2;
const TIME_LOCK_CANDIDATE = 1 << 3;
const LEADS_TO_PEER = 1 << 4;
const CROSSES_BOUNDARY = 1 << 5;
const VERDICT_DROP = 1 << 6;
const IP_VERSION_6 = 1 << 7;
const LRU_CLASS_SHIFT = 8;
const LRU_CLASS_MASK = 3 << LRU_CLASS_SHIFT;
/** What reset leaves: a flow started by its inside end, verdict accept. */
const RESET_BITS = INITIATOR_INSIDE;

/** Times a flow keeps (ms), at these offsets of its four places in a time block (see Flow.times). */
const FIRST_SEEN = 0;
const LAST_SEEN = 1;
const LEADS_TO_PEER_UNTIL = 2;
const CHANGED_SINCE = 3;
export const FLOW_TIMES = 4;

/**
 * A bidirectional flow, oriented inside → outside. For flows whose ends are both inside or both
 * outside, the "inside" end is the one that sent the first packet seen, and `crossesBoundary` is
 * false: such flows are tracked and labelled but never learn peers or drop.
 *
 * The flow table recycles Flow objects (reset): a flow that ended is the object of a later one,
 * so that a flood of new flows allocates nothing that lives as long as a flow does. Whatever
 * must outlive a flow (its end event) copies what it needs when the flow ends.
 *
 * While a flood fills the table, every new flow is one more object the collector copies twice
 * (into the survivor space, then the old generation), so a flow is one object, as small as it
 * can be: flags and small enums packed into `bits` (behind accessors), both directions'
 * counters inline, and its times in a shared Float64Array block (a double field would be one
 * more heap number per time, allocated with the flow).
 */
export class Flow {
  /** The flags and small enums below (accessors), packed. */
  private bits = RESET_BITS;
  /** Inside → outside: packets, bytes, packets with payload, length of the first payload (0 until one). */
  outPackets = 0;
  outBytes = 0;
  outPayloadPackets = 0;
  outFirstPayloadLength = 0;
  /** Outside → inside: the same. */
  inPackets = 0;
  inBytes = 0;
  inPayloadPackets = 0;
  inFirstPayloadLength = 0;
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
  /** Per-module state, by slot; null while no module keeps any. */
  moduleStates: unknown[] | null = null;
  /** Bit s: the module in slot s said it will find nothing more on this flow (FlowMemory.pass). */
  passedModules = 0;
  /** Peers this flow taught (bounded by EngineConfig.maxPeersPerFlow). */
  peersLearned = 0;
  reason = 'clean';
  droppedPackets = 0;
  /** Cached "leads to a learned peer" answer (leadsToPeer), valid while the peer table's version is unchanged. */
  peerVersion = -1;
  /** The inside end's host record (set by the engine when the flow starts). */
  host: InsideHost | null = null;

  // Intrusive LRU list links (owned by FlowTable).
  newer: Flow | null = null;
  older: Flow | null = null;

  /** Where the flow table keeps it (owned by FlowTable; -1 while in none). */
  slot = -1;

  /**
   * The block holding this flow's times at [timesAt, timesAt + FLOW_TIMES): the flow table's,
   * shared by many flows (one object per 1,024 of them), or the flow's own when made alone.
   */
  private readonly times: Float64Array;
  private readonly timesAt: number;

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
    ipVersion: 4 | 6,
    /** Address keys (see decode/address.ts). */
    public insideAddress: string,
    public insidePort: number,
    outsideAddress: string,
    public outsidePort: number,
    crossesBoundary: boolean,
    times?: Float64Array,
    timesAt = 0,
  ) {
    this.outsideKey = outsideAddress;
    this.times = times ?? new Float64Array(FLOW_TIMES);
    this.timesAt = timesAt;
    this.ipVersion = ipVersion;
    this.crossesBoundary = crossesBoundary;
    this.changedSince = -1;
  }

  private flag(bit: number): boolean {
    return (this.bits & bit) !== 0;
  }

  private setFlag(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  /** Which side sent the first packet seen (true: the inside end). */
  get initiatorInside(): boolean {
    return this.flag(INITIATOR_INSIDE);
  }
  set initiatorInside(on: boolean) {
    this.setFlag(INITIATOR_INSIDE, on);
  }

  /** Whether the flow began with a TCP SYN (or, for UDP, any datagram): a new connection. */
  get startedFresh(): boolean {
    return this.flag(STARTED_FRESH);
  }
  set startedFresh(on: boolean) {
    this.setFlag(STARTED_FRESH, on);
  }

  /** Whether one end is inside and the other outside (see the class comment). */
  get crossesBoundary(): boolean {
    return this.flag(CROSSES_BOUNDARY);
  }
  set crossesBoundary(on: boolean) {
    this.setFlag(CROSSES_BOUNDARY, on);
  }

  /** A packet of this flow was judged "drop" but let through (monitor mode, or UDP under -n). */
  get wouldDrop(): boolean {
    return this.flag(WOULD_DROP);
  }
  set wouldDrop(on: boolean) {
    this.setFlag(WOULD_DROP, on);
  }

  /** Whether a locked client opened this flow to a port the time-lock covers. */
  get timeLockCandidate(): boolean {
    return this.flag(TIME_LOCK_CANDIDATE);
  }
  set timeLockCandidate(on: boolean) {
    this.setFlag(TIME_LOCK_CANDIDATE, on);
  }

  /** The cached "leads to a learned peer" answer (see peerVersion, leadsToPeerUntil). */
  get leadsToPeer(): boolean {
    return this.flag(LEADS_TO_PEER);
  }
  set leadsToPeer(on: boolean) {
    this.setFlag(LEADS_TO_PEER, on);
  }

  get verdict(): Verdict {
    return this.flag(VERDICT_DROP) ? Verdict.drop : Verdict.accept;
  }
  set verdict(verdict: Verdict) {
    this.setFlag(VERDICT_DROP, verdict === Verdict.drop);
  }

  get ipVersion(): 4 | 6 {
    return this.flag(IP_VERSION_6) ? 6 : 4;
  }
  set ipVersion(version: 4 | 6) {
    this.setFlag(IP_VERSION_6, version === 6);
  }

  /** Which LRU list the flow is on (owned by FlowTable). */
  get lruClass(): number {
    return (this.bits & LRU_CLASS_MASK) >> LRU_CLASS_SHIFT;
  }
  set lruClass(lruClass: number) {
    this.bits = (this.bits & ~LRU_CLASS_MASK) | ((lruClass << LRU_CLASS_SHIFT) & LRU_CLASS_MASK);
  }

  /** When the flow's first packet was seen (ms); 0 before it. */
  get firstSeen(): number {
    return this.times[this.timesAt + FIRST_SEEN]!;
  }
  set firstSeen(ms: number) {
    this.times[this.timesAt + FIRST_SEEN] = ms;
  }

  /** When the flow's latest packet was seen (ms); 0 before the first. */
  get lastSeen(): number {
    return this.times[this.timesAt + LAST_SEEN]!;
  }
  set lastSeen(ms: number) {
    this.times[this.timesAt + LAST_SEEN] = ms;
  }

  /** When the peer entry behind a cached "yes" (leadsToPeer) expires (ms). */
  get leadsToPeerUntil(): number {
    return this.times[this.timesAt + LEADS_TO_PEER_UNTIL]!;
  }
  set leadsToPeerUntil(ms: number) {
    this.times[this.timesAt + LEADS_TO_PEER_UNTIL] = ms;
  }

  /**
   * When the flow first changed after its last summary (ms), or -1 while nothing changed since
   * (owned by FlowTable's interim queue: see noteChange).
   */
  get changedSince(): number {
    return this.times[this.timesAt + CHANGED_SINCE]!;
  }
  set changedSince(ms: number) {
    this.times[this.timesAt + CHANGED_SINCE] = ms;
  }

  /** Counts a packet of `wireLength` bytes, `payloadLength` of them payload, in its direction. */
  count(fromInside: boolean, wireLength: number, payloadLength: number): void {
    if (fromInside) {
      this.outPackets++;
      this.outBytes += wireLength;
      if (payloadLength > 0) {
        this.outPayloadPackets++;
        if (this.outFirstPayloadLength === 0) this.outFirstPayloadLength = payloadLength;
      }
    } else {
      this.inPackets++;
      this.inBytes += wireLength;
      if (payloadLength > 0) {
        this.inPayloadPackets++;
        if (this.inFirstPayloadLength === 0) this.inFirstPayloadLength = payloadLength;
      }
    }
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

  /** The outside end's address as text (an event's), from the words when the flow holds it as words. */
  outsideAddressText(): string {
    if (this.outsideKey === null && this.outsideLength === 4) return formatIpv4Word(this.outside0 >>> 0);
    return formatAddressKey(this.outsideAddress);
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
    this.insideAddress = insideAddress;
    this.insidePort = insidePort;
    this.outsideAddress = outsideAddress;
    this.outsidePort = outsidePort;
    // Keeps the table's own bits (the LRU class); the rest as the constructor leaves them.
    this.bits = (this.bits & LRU_CLASS_MASK) | RESET_BITS;
    this.ipVersion = ipVersion;
    this.crossesBoundary = crossesBoundary;
    this.outPackets = this.outBytes = this.outPayloadPackets = this.outFirstPayloadLength = 0;
    this.inPackets = this.inBytes = this.inPayloadPackets = this.inFirstPayloadLength = 0;
    this.app = null;
    this.labels = 0;
    this.ownLabels = 0;
    this.rules = NO_RULES;
    this.moduleStates = null;
    this.passedModules = 0;
    this.peersLearned = 0;
    this.reason = 'clean';
    this.droppedPackets = 0;
    this.peerVersion = -1;
    this.host = null;
    const times = this.times;
    const at = this.timesAt;
    times[at + FIRST_SEEN] = 0;
    times[at + LAST_SEEN] = 0;
    times[at + LEADS_TO_PEER_UNTIL] = 0;
    times[at + CHANGED_SINCE] = -1;
  }

  get packets(): number {
    return this.outPackets + this.inPackets;
  }

  /** Whether the side that did not start the flow ever sent anything back. */
  get answered(): boolean {
    return this.initiatorInside ? this.inPackets > 0 : this.outPackets > 0;
  }
}
