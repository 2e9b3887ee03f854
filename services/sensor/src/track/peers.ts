import type { Transport } from '@p2pwall/common';
import { addressKeyFromText, formatAddressKey } from '../decode/address.js';
import { BoundedMap } from './bounded-map.js';

/** An outside endpoint learned as a P2P peer. Port 0 stands for every port of the address. */
export interface PeerEntry {
  /** The endpoint's key in the table (address key and port). */
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  /** The transport it is blocked for: what the protocol module said it speaks there. */
  readonly transport: Transport;
  protocol: string;
  /** How it was learned: the rule id or source that named it (fasttrack/udp-ping, storefile:…, …). */
  via: string;
  /** The inside host whose traffic revealed it, when there is one. */
  learnedFrom: string | null;
  learnedAt: number;
  expiresAt: number;
  /** The expiry last written out (storefile, kernel set), so refreshes are announced sparingly. */
  announcedExpiry: number;
}

/**
 * The peers of one endpoint, by the transport they are blocked for. A peer learned for `both` and
 * the same endpoint learned for one transport are two entries, each with its own expiry, as the
 * kernel's set entries are; keeping them in one slot makes a lookup one Map read per endpoint.
 */
interface PeerSlot {
  tcp: PeerEntry | null;
  udp: PeerEntry | null;
  both: PeerEntry | null;
}

/** Slots looked at per prune call (about once a second). */
const PRUNE_BUDGET = 4096;

function endpointKey(addressKey: string, port: number): string {
  return addressKey + String.fromCharCode(port);
}

function entriesOf(slot: PeerSlot): PeerEntry[] {
  const entries: PeerEntry[] = [];
  if (slot.tcp) entries.push(slot.tcp);
  if (slot.udp) entries.push(slot.udp);
  if (slot.both) entries.push(slot.both);
  return entries;
}

function isEmpty(slot: PeerSlot): boolean {
  return slot.tcp === null && slot.udp === null && slot.both === null;
}

export interface PeerDetails {
  protocol: string;
  via: string;
  learnedFrom: string | null;
}

export interface LearnResult {
  entry: PeerEntry;
  /** new: first time; refreshed: its expiry moved far enough to be announced again. */
  change: 'new' | 'refreshed' | 'none';
}

/**
 * Learned peers by endpoint (address, port) and transport, bounded by endpoints. A Map keeps the
 * endpoints in learning order and a re-learned one moves to the end, so the endpoint learned
 * longest ago is evicted first. Expired peers are ignored by lookups at once and removed by a
 * bounded sweep later.
 */
export class PeerTable {
  private readonly slots: BoundedMap<string, PeerSlot>;
  private entryCount = 0;
  /** Bumped on every insertion or removal, so flows can cache "leads to a peer" answers. */
  version = 0;
  /**
   * No entry expires before this (a lower bound): until then a prune has nothing to do and
   * visits nothing. A sweep that goes round the whole table sets it to the earliest expiry it saw.
   */
  private earliestExpiry = Infinity;
  /** The earliest expiry seen since the current sweep round began (survivors and new entries). */
  private roundEarliest = Infinity;

  constructor(
    /** Endpoints held at most (each with up to three transports' entries). */
    readonly maxPeers: number,
    readonly ttlMs: number,
  ) {
    this.slots = new BoundedMap(maxPeers, (_key, slot) => {
      this.entryCount -= entriesOf(slot).length;
      this.version++;
    });
  }

  /** Peer entries held (an endpoint learned for two transports counts twice). */
  get size(): number {
    return this.entryCount;
  }

  get evictions(): number {
    return this.slots.evictions;
  }

  /**
   * The entry covering a packet of `transport` to (address, port): the exact endpoint first, then
   * the whole address; for each, one learned for that transport, then one learned for both.
   */
  lookup(addressKey: string, port: number, transport: 'tcp' | 'udp', now: number): PeerEntry | null {
    const exact = this.slots.get(endpointKey(addressKey, port));
    if (exact !== undefined) {
      const hit = live(exact[transport], now) ?? live(exact.both, now);
      if (hit !== null) return hit;
    }
    if (port === 0) return null;
    const whole = this.slots.get(endpointKey(addressKey, 0));
    return whole === undefined ? null : (live(whole[transport], now) ?? live(whole.both, now));
  }

  /**
   * `details.ipText`: the address as formatAddressKey would write it, when the caller has it
   * already (a named peer's canonical IPv4 text): spares turning the key back into text.
   */
  learn(addressKey: string, port: number, transport: Transport, details: PeerDetails & { now: number; expiresAt?: number | undefined; ipText?: string | undefined }): LearnResult {
    const key = endpointKey(addressKey, port);
    const expiresAt = details.expiresAt ?? details.now + this.ttlMs;
    if (expiresAt < this.earliestExpiry) this.earliestExpiry = expiresAt;
    if (expiresAt < this.roundEarliest) this.roundEarliest = expiresAt;
    let slot = this.slots.get(key);
    const existing = slot?.[transport] ?? null;
    if (slot !== undefined && existing !== null && existing.expiresAt > details.now) {
      if (expiresAt <= existing.expiresAt) return { entry: existing, change: 'none' };
      existing.expiresAt = expiresAt;
      this.slots.refresh(key, slot);
      // Announced again once the expiry moved by half the entry's own lifetime: a short-lived
      // entry (a DHT contact) would otherwise outlive its kernel copy, a long one churn events.
      if (expiresAt - existing.announcedExpiry < Math.min(this.ttlMs, expiresAt - details.now) / 2) return { entry: existing, change: 'none' };
      existing.announcedExpiry = expiresAt;
      return { entry: existing, change: 'refreshed' };
    }
    const entry: PeerEntry = {
      key,
      ip: details.ipText ?? formatAddressKey(addressKey),
      port,
      transport,
      protocol: details.protocol,
      via: details.via,
      learnedFrom: details.learnedFrom,
      learnedAt: details.now,
      expiresAt,
      announcedExpiry: expiresAt,
    };
    if (existing === null) this.entryCount++;
    slot ??= { tcp: null, udp: null, both: null };
    slot[transport] = entry;
    this.slots.set(key, slot);
    this.version++;
    return { entry, change: 'new' };
  }

  /** Loads a peer from text (storefile, shared blocklist). Returns null for an unusable address. */
  load(ip: string, port: number, transport: Transport, details: PeerDetails & { learnedAt: number; expiresAt: number }, now: number): PeerEntry | null {
    const addressKey = addressKeyFromText(ip);
    if (addressKey === null || !(port >= 0 && port <= 65535) || details.expiresAt <= now) return null;
    const { entry } = this.learn(addressKey, port, transport, { ...details, now: details.learnedAt });
    return entry;
  }

  remove(addressKey: string, port: number, transport: Transport): boolean {
    const key = endpointKey(addressKey, port);
    const slot = this.slots.get(key);
    if (slot === undefined || slot[transport] === null) return false;
    slot[transport] = null;
    this.entryCount--;
    if (isEmpty(slot)) this.slots.delete(key);
    this.version++;
    return true;
  }

  /**
   * Removes every transport of (address, port); with port 0, every entry of the address. An
   * operator's allow entry is rare, so a whole-address one may walk the table.
   */
  removeCovered(addressKey: string, port: number): PeerEntry[] {
    const keys: string[] = [];
    if (port !== 0) keys.push(endpointKey(addressKey, port));
    else for (const [key] of this.slots.entries()) if (key.length === addressKey.length + 1 && key.startsWith(addressKey)) keys.push(key);
    const covered: PeerEntry[] = [];
    for (const key of keys) {
      const slot = this.slots.get(key);
      if (slot === undefined) continue;
      covered.push(...entriesOf(slot));
      this.slots.delete(key);
    }
    this.entryCount -= covered.length;
    if (covered.length > 0) this.version++;
    return covered;
  }

  /**
   * Drops expired entries, looking at no more than `budget` endpoints: lookups already ignore
   * expired peers, so this only gives memory back, and must not stall the packet path on a
   * table of a million peers.
   */
  prune(now: number, budget = PRUNE_BUDGET): PeerEntry[] {
    const expired: PeerEntry[] = [];
    if (now < this.earliestExpiry) return expired;
    this.slots.sweep(budget, (slot) => {
      if (slot.tcp !== null && slot.tcp.expiresAt <= now) {
        expired.push(slot.tcp);
        slot.tcp = null;
      }
      if (slot.udp !== null && slot.udp.expiresAt <= now) {
        expired.push(slot.udp);
        slot.udp = null;
      }
      if (slot.both !== null && slot.both.expiresAt <= now) {
        expired.push(slot.both);
        slot.both = null;
      }
      const dead = isEmpty(slot);
      if (!dead) this.noteSurvivor(slot);
      return dead;
    });
    if (this.slots.sweepWrapped) {
      this.earliestExpiry = this.roundEarliest;
      this.roundEarliest = Infinity;
    }
    this.entryCount -= expired.length;
    if (expired.length > 0) this.version++;
    return expired;
  }

  private noteSurvivor(slot: PeerSlot): void {
    let earliest = this.roundEarliest;
    if (slot.tcp !== null && slot.tcp.expiresAt < earliest) earliest = slot.tcp.expiresAt;
    if (slot.udp !== null && slot.udp.expiresAt < earliest) earliest = slot.udp.expiresAt;
    if (slot.both !== null && slot.both.expiresAt < earliest) earliest = slot.both.expiresAt;
    this.roundEarliest = earliest;
  }

  *values(): IterableIterator<PeerEntry> {
    for (const slot of this.slots.values()) {
      if (slot.tcp) yield slot.tcp;
      if (slot.udp) yield slot.udp;
      if (slot.both) yield slot.both;
    }
  }
}

function live(entry: PeerEntry | null, now: number): PeerEntry | null {
  return entry !== null && entry.expiresAt > now ? entry : null;
}
