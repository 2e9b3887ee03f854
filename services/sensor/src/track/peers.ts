import type { Transport } from '@p2pwall/common';
import { addressKeyFromText, formatAddressKey } from '../decode/address.js';
import { BoundedMap } from './bounded-map.js';

/** An outside endpoint learned as a P2P peer. Port 0 stands for every port of the address. */
export interface PeerEntry {
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
 * A peer entry as the table holds it. A peer learned for `both` and the same endpoint learned for
 * one transport are two entries, each with its own expiry, as the kernel's set entries are. The
 * endpoint's first entry is its Map value and links the others (three transports at most), so a
 * lookup is one Map read per endpoint and a learned peer costs the table one object.
 */
interface HeldPeer extends PeerEntry {
  /** The endpoint's next entry (another transport), or null. */
  sibling: HeldPeer | null;
}

/** Endpoints looked at per prune call (about once a second). */
const PRUNE_BUDGET = 4096;

/** Buckets of the per-endpoint counting filter (PeerTable.endpointsByBucket): 2^18, 1 MiB. */
const BUCKET_BITS = 18;

const HASH_MULTIPLIER = 0x9e3779b1;

/**
 * An endpoint's bucket: the address key's UTF-16 units (2 for IPv4, 8 for IPv6) and the port,
 * mixed, the top BUCKET_BITS bits. Reads the key in place: no endpoint key is made to ask.
 */
function endpointBucket(addressKey: string, port: number): number {
  if (addressKey.length === 2) return ipv4EndpointBucket(addressKey.charCodeAt(0), addressKey.charCodeAt(1), port);
  return unitsBucket(addressKey, addressKey.length, port);
}

/** The bucket of the address in key's first `units` units, with the port. */
function unitsBucket(key: string, units: number, port: number): number {
  let hash = 0;
  for (let i = 0; i < units; i++) hash = Math.imul(hash ^ key.charCodeAt(i), HASH_MULTIPLIER);
  return Math.imul(hash ^ port, HASH_MULTIPLIER) >>> (32 - BUCKET_BITS);
}

/** endpointBucket of an IPv4 address key given as its two units. */
function ipv4EndpointBucket(high: number, low: number, port: number): number {
  return Math.imul(Math.imul(Math.imul(high, HASH_MULTIPLIER) ^ low, HASH_MULTIPLIER) ^ port, HASH_MULTIPLIER) >>> (32 - BUCKET_BITS);
}

/**
 * An endpoint's key in the table. IPv4 (nearly every peer) gets a number, address × 2^16 + port
 * (below 2^48, exact in a double): making it allocates no string, and a lookup hashes no
 * characters. IPv6 keeps its address key with the port as one more unit.
 */
type EndpointKey = number | string;

const PORTS = 0x1_0000;

function endpointKey(addressKey: string, port: number): EndpointKey {
  if (addressKey.length === 2) return (addressKey.charCodeAt(0) * PORTS + addressKey.charCodeAt(1)) * PORTS + port;
  return addressKey + String.fromCharCode(port);
}

/** The bucket of an endpoint given by its key (see endpointBucket). */
function bucketOfKey(key: EndpointKey): number {
  if (typeof key === 'string') return unitsBucket(key, key.length - 1, key.charCodeAt(key.length - 1));
  const address = Math.floor(key / PORTS);
  return ipv4EndpointBucket(Math.floor(address / PORTS), address % PORTS, key % PORTS);
}

/** Whether the endpoint key is one of the address key's endpoints (any port). */
function isEndpointOf(key: EndpointKey, addressKey: string): boolean {
  if (typeof key === 'string') return key.length === addressKey.length + 1 && key.startsWith(addressKey);
  return addressKey.length === 2 && Math.floor(key / PORTS) === addressKey.charCodeAt(0) * PORTS + addressKey.charCodeAt(1);
}

function entriesOf(head: HeldPeer): PeerEntry[] {
  const entries: PeerEntry[] = [];
  for (let entry: HeldPeer | null = head; entry !== null; entry = entry.sibling) entries.push(entry);
  return entries;
}

/** The endpoint's entry learned for exactly `transport`, or null. */
function entryFor(head: HeldPeer | undefined, transport: Transport): HeldPeer | null {
  for (let entry = head ?? null; entry !== null; entry = entry.sibling) if (entry.transport === transport) return entry;
  return null;
}

/** The endpoint's live entry covering a packet of `transport`: one learned for it, else one for both. */
function liveCovering(head: HeldPeer | undefined, transport: 'tcp' | 'udp', now: number): PeerEntry | null {
  let both: PeerEntry | null = null;
  for (let entry = head ?? null; entry !== null; entry = entry.sibling) {
    if (entry.expiresAt <= now) continue;
    if (entry.transport === transport) return entry;
    if (entry.transport === 'both') both = entry;
  }
  return both;
}

/** The chain from `head` without `entry` (which it holds): its new head, or null when it was alone. */
function unlink(head: HeldPeer, entry: HeldPeer): HeldPeer | null {
  if (entry === head) return head.sibling;
  let before = head;
  while (before.sibling !== entry) before = before.sibling!;
  before.sibling = entry.sibling;
  return head;
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
  private readonly endpoints: BoundedMap<EndpointKey, HeldPeer>;
  private entryCount = 0;
  /**
   * Endpoints held per bucket (a counting filter, by endpointBucket): a lookup of an endpoint
   * whose bucket holds none stops at one array read, and so does learning's test for an
   * endpoint not yet held (most named peers are new). Endpoints sharing a bucket only cost the
   * exact Map reads that decide anyway. Per endpoint rather than per address: a swarm's peers
   * crowd a few addresses on many ports, and flows to those addresses' other ports still stop here.
   */
  private readonly endpointsByBucket = new Uint32Array(1 << BUCKET_BITS);
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
    this.endpoints = new BoundedMap(maxPeers, (key, head) => {
      this.entryCount -= entriesOf(head).length;
      this.endpointGone(key);
      this.version++;
    });
  }

  /** Peer entries held (an endpoint learned for two transports counts twice). */
  get size(): number {
    return this.entryCount;
  }

  get evictions(): number {
    return this.endpoints.evictions;
  }

  /**
   * The entry covering a packet of `transport` to (address, port): the exact endpoint first, then
   * the whole address; for each, one learned for that transport, then one learned for both.
   */
  lookup(addressKey: string, port: number, transport: 'tcp' | 'udp', now: number): PeerEntry | null {
    // Most flows lead nowhere learned: a read of the filter for each endpoint asked about.
    const endpointsByBucket = this.endpointsByBucket;
    if (endpointsByBucket[endpointBucket(addressKey, port)] !== 0) {
      const hit = liveCovering(this.endpoints.get(endpointKey(addressKey, port)), transport, now);
      if (hit !== null) return hit;
    }
    if (port === 0 || endpointsByBucket[endpointBucket(addressKey, 0)] === 0) return null;
    return liveCovering(this.endpoints.get(endpointKey(addressKey, 0)), transport, now);
  }

  /** lookup() of an IPv4 address given as an unsigned 32-bit number: no key string is made. */
  lookupIpv4(address: number, port: number, transport: 'tcp' | 'udp', now: number): PeerEntry | null {
    const high = address >>> 16;
    const low = address & 0xffff;
    const endpointsByBucket = this.endpointsByBucket;
    if (endpointsByBucket[ipv4EndpointBucket(high, low, port)] !== 0) {
      const hit = liveCovering(this.endpoints.get((high * PORTS + low) * PORTS + port), transport, now);
      if (hit !== null) return hit;
    }
    if (port === 0 || endpointsByBucket[ipv4EndpointBucket(high, low, 0)] === 0) return null;
    return liveCovering(this.endpoints.get((high * PORTS + low) * PORTS), transport, now);
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
   * peer named in a reply costs no object but its entry, and a known one none at all. `expiresAt` undefined: now + the table's TTL.
   */
  learnPeer(addressKey: string, port: number, transport: Transport, protocol: string, via: string, learnedFrom: string | null, now: number, expiresAt?: number, ipText?: string): PeerEntry {
    const key = endpointKey(addressKey, port);
    const expiry = expiresAt ?? now + this.ttlMs;
    if (expiry < this.earliestExpiry) this.earliestExpiry = expiry;
    if (expiry < this.roundEarliest) this.roundEarliest = expiry;
    const bucket = endpointBucket(addressKey, port);
    // An empty bucket: the endpoint is new, and no Map read is needed to know it.
    const head = this.endpointsByBucket[bucket] === 0 ? undefined : this.endpoints.get(key);
    const existing = entryFor(head, transport);
    if (existing !== null && existing.expiresAt > now) {
      if (expiry <= existing.expiresAt) {
        this.lastChange = 'none';
        return existing;
      }
      existing.expiresAt = expiry;
      this.endpoints.refresh(key, head!);
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
    const entry: HeldPeer = {
      ip: ipText ?? formatAddressKey(addressKey),
      port,
      transport,
      protocol,
      via,
      learnedFrom,
      learnedAt: now,
      expiresAt: expiry,
      announcedExpiry: expiry,
      sibling: null,
    };
    if (existing === null) this.entryCount++;
    if (head === undefined) {
      this.endpointsByBucket[bucket] = this.endpointsByBucket[bucket]! + 1;
      // Not in the table (get said so): no delete first.
      this.endpoints.add(key, entry);
    } else {
      // The new entry goes first (an expired one of its transport out of the chain), and the
      // endpoint becomes the most recently learned.
      const rest = existing === null ? head : unlink(head, existing);
      entry.sibling = rest;
      this.endpoints.set(key, entry);
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
    const head = this.endpoints.get(key);
    const entry = entryFor(head, transport);
    if (entry === null) return false;
    this.entryCount--;
    const rest = unlink(head!, entry);
    entry.sibling = null;
    if (rest === null) {
      this.endpoints.delete(key);
      this.endpointGone(key);
    } else if (rest !== head) {
      this.endpoints.replace(key, rest);
    }
    this.version++;
    return true;
  }

  /**
   * Removes every transport of (address, port); with port 0, every entry of the address. An
   * operator's allow entry is rare, so a whole-address one may walk the table.
   */
  removeCovered(addressKey: string, port: number): PeerEntry[] {
    const keys: EndpointKey[] = [];
    if (port !== 0) keys.push(endpointKey(addressKey, port));
    else for (const [key] of this.endpoints.entries()) if (isEndpointOf(key, addressKey)) keys.push(key);
    const covered: PeerEntry[] = [];
    for (const key of keys) {
      const head = this.endpoints.get(key);
      if (head === undefined) continue;
      covered.push(...entriesOf(head));
      this.endpoints.delete(key);
      this.endpointGone(key);
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
    this.endpoints.sweep(budget, (head, key) => {
      let rest: HeldPeer | null = head;
      for (let entry: HeldPeer | null = head, next: HeldPeer | null; entry !== null; entry = next) {
        next = entry.sibling;
        if (entry.expiresAt > now) continue;
        expired.push(entry);
        rest = unlink(rest!, entry);
        entry.sibling = null;
      }
      if (rest === null) {
        this.endpointGone(key);
        return true;
      }
      if (rest !== head) this.endpoints.replace(key, rest);
      this.noteSurvivor(rest);
      return false;
    });
    if (this.endpoints.sweepWrapped) {
      this.earliestExpiry = this.roundEarliest;
      this.roundEarliest = Infinity;
    }
    this.entryCount -= expired.length;
    if (expired.length > 0) this.version++;
    return expired;
  }

  /** An endpoint (by its key) left the table: its bucket counts one endpoint fewer. */
  private endpointGone(key: EndpointKey): void {
    const bucket = bucketOfKey(key);
    this.endpointsByBucket[bucket] = this.endpointsByBucket[bucket]! - 1;
  }

  private noteSurvivor(head: HeldPeer): void {
    let earliest = this.roundEarliest;
    for (let entry: HeldPeer | null = head; entry !== null; entry = entry.sibling) if (entry.expiresAt < earliest) earliest = entry.expiresAt;
    this.roundEarliest = earliest;
  }

  *values(): IterableIterator<PeerEntry> {
    for (const head of this.endpoints.values()) for (let entry: HeldPeer | null = head; entry !== null; entry = entry.sibling) yield entry;
  }
}
