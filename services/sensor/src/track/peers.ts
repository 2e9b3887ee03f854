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

/** Buckets of the per-address counting filter (PeerTable.slotsByBucket): 256 KiB. */
const ADDRESS_BUCKETS = 1 << 16;

/**
 * An address key's bucket: its UTF-16 units (2 for IPv4, 8 for IPv6) mixed, the top 16 bits.
 * `units`: how many to read, so an endpoint key (the address key and its port) gives its address's
 * bucket without a substring.
 */
function addressBucket(key: string, units = key.length): number {
  let hash = 0;
  for (let i = 0; i < units; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x9e3779b1);
  return hash >>> 16;
}

function endpointKey(addressKey: string, port: number): string {
  // An IPv4 key in one call: no one-unit string for the port to concatenate.
  if (addressKey.length === 2) return String.fromCharCode(addressKey.charCodeAt(0), addressKey.charCodeAt(1), port);
  return addressKey + String.fromCharCode(port);
}

function entriesOf(slot: PeerSlot): PeerEntry[] {
  const entries: PeerEntry[] = [];
  if (slot.tcp) entries.push(slot.tcp);
  if (slot.udp) entries.push(slot.udp);
  if (slot.both) entries.push(slot.both);
  return entries;
}

/** The slot's entry for a transport, by a plain property read (a keyed read by name is slower). */
function slotEntry(slot: PeerSlot, transport: Transport): PeerEntry | null {
  return transport === 'tcp' ? slot.tcp : transport === 'udp' ? slot.udp : slot.both;
}

function setSlotEntry(slot: PeerSlot, transport: Transport, entry: PeerEntry | null): void {
  if (transport === 'tcp') slot.tcp = entry;
  else if (transport === 'udp') slot.udp = entry;
  else slot.both = entry;
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
  /**
   * Endpoints held per bucket of address keys (a counting filter, by addressBucket): a lookup for
   * an address whose bucket holds none stops at one array read, and learning an endpoint costs an
   * increment rather than two Map operations. Addresses sharing a bucket only cost a lookup the
   * exact reads that decide anyway.
   */
  private readonly slotsByBucket = new Uint32Array(ADDRESS_BUCKETS);
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
    this.slots = new BoundedMap(maxPeers, (key, slot) => {
      this.entryCount -= entriesOf(slot).length;
      this.slotGone(key);
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
    // Most flows lead nowhere learned: one read of the address, and no endpoint key made.
    if (this.slotsByBucket[addressBucket(addressKey)] === 0) return null;
    const exact = this.slots.get(endpointKey(addressKey, port));
    if (exact !== undefined) {
      const hit = live(transport === 'tcp' ? exact.tcp : exact.udp, now) ?? live(exact.both, now);
      if (hit !== null) return hit;
    }
    if (port === 0) return null;
    const whole = this.slots.get(endpointKey(addressKey, 0));
    return whole === undefined ? null : (live(transport === 'tcp' ? whole.tcp : whole.udp, now) ?? live(whole.both, now));
  }

  /**
   * `details.ipText`: the address as formatAddressKey would write it, when the caller has it
   * already (a named peer's canonical IPv4 text): spares turning the key back into text.
   */
  learn(addressKey: string, port: number, transport: Transport, details: PeerDetails & { now: number; expiresAt?: number | undefined; ipText?: string | undefined }): LearnResult {
    const entry = this.learnPeer(addressKey, port, transport, details.protocol, details.via, details.learnedFrom, details.now, details.expiresAt, details.ipText);
    return { entry, change: this.lastChange };
  }

  /** What the last learnPeer call did (new, refreshed or none). */
  lastChange: LearnResult['change'] = 'none';

  /**
   * learn() for the packet path: the details as arguments and the change in `lastChange`, so a
   * peer named in a reply costs no objects but its entry (and, when new, its slot), and a known
   * one none at all. `expiresAt` undefined: now + the table's TTL.
   */
  learnPeer(addressKey: string, port: number, transport: Transport, protocol: string, via: string, learnedFrom: string | null, now: number, expiresAt?: number, ipText?: string): PeerEntry {
    const key = endpointKey(addressKey, port);
    const expiry = expiresAt ?? now + this.ttlMs;
    if (expiry < this.earliestExpiry) this.earliestExpiry = expiry;
    if (expiry < this.roundEarliest) this.roundEarliest = expiry;
    let slot = this.slots.get(key);
    const existing = slot === undefined ? null : slotEntry(slot, transport);
    if (existing !== null && existing.expiresAt > now) {
      if (expiry <= existing.expiresAt) {
        this.lastChange = 'none';
        return existing;
      }
      existing.expiresAt = expiry;
      this.slots.refresh(key, slot!);
      // Announced again once the expiry moved by half the entry's own lifetime: a short-lived
      // entry (a DHT contact) would otherwise outlive its kernel copy, a long one churn events.
      if (expiry - existing.announcedExpiry < Math.min(this.ttlMs, expiry - now) / 2) {
        this.lastChange = 'none';
        return existing;
      }
      existing.announcedExpiry = expiry;
      this.lastChange = 'refreshed';
      return existing;
    }
    const entry: PeerEntry = {
      key,
      ip: ipText ?? formatAddressKey(addressKey),
      port,
      transport,
      protocol,
      via,
      learnedFrom,
      learnedAt: now,
      expiresAt: expiry,
      announcedExpiry: expiry,
    };
    if (existing === null) this.entryCount++;
    if (slot === undefined) {
      slot = { tcp: null, udp: null, both: null };
      setSlotEntry(slot, transport, entry);
      const bucket = addressBucket(addressKey);
      this.slotsByBucket[bucket] = this.slotsByBucket[bucket]! + 1;
      // Not in the table (get said so): no delete first.
      this.slots.add(key, slot);
    } else {
      setSlotEntry(slot, transport, entry);
      this.slots.set(key, slot);
    }
    this.version++;
    this.lastChange = 'new';
    return entry;
  }

  /** Loads a peer from text (storefile, shared blocklist). Returns null for an unusable address. */
  load(ip: string, port: number, transport: Transport, details: PeerDetails & { learnedAt: number; expiresAt: number }, now: number): PeerEntry | null {
    const addressKey = addressKeyFromText(ip);
    if (addressKey === null || !(port >= 0 && port <= 65535) || details.expiresAt <= now) return null;
    return this.learnPeer(addressKey, port, transport, details.protocol, details.via, details.learnedFrom, details.learnedAt, details.expiresAt);
  }

  remove(addressKey: string, port: number, transport: Transport): boolean {
    const key = endpointKey(addressKey, port);
    const slot = this.slots.get(key);
    if (slot === undefined || slotEntry(slot, transport) === null) return false;
    setSlotEntry(slot, transport, null);
    this.entryCount--;
    if (isEmpty(slot)) {
      this.slots.delete(key);
      this.slotGone(key);
    }
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
      this.slotGone(key);
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
    this.slots.sweep(budget, (slot, key) => {
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
      if (dead) this.slotGone(key);
      else this.noteSurvivor(slot);
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

  /** An endpoint's slot (by its key) left the table: its address's bucket counts one endpoint fewer. */
  private slotGone(key: string): void {
    const bucket = addressBucket(key, key.length - 1);
    this.slotsByBucket[bucket] = this.slotsByBucket[bucket]! - 1;
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
