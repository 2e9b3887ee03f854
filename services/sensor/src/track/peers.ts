import type { Transport } from '@p2pwall/common';
import { addressKeyFromText, formatAddressKey } from '../decode/address.js';
import { BoundedMap } from './bounded-map.js';

/** An outside endpoint learned as a P2P peer. Port 0 stands for every port of the address. */
export interface PeerEntry {
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  /** The transport it is blocked for: what the protocol module said it speaks there. */
  readonly transport: Transport;
  protocol: string;
  /** How it was learned: the rule or header that named it (udp-ping, x-kazaa-ip, storefile, …). */
  via: string;
  /** The inside host whose traffic revealed it, when there is one. */
  learnedFrom: string | null;
  learnedAt: number;
  expiresAt: number;
  /** The expiry last written out (storefile, kernel set), so refreshes are announced sparingly. */
  announcedExpiry: number;
}

/** Peers looked at per prune call (about once a second). */
const PRUNE_BUDGET = 4096;

const TRANSPORT_CODE: Record<Transport, string> = { tcp: 't', udp: 'u', both: 'b' };

export function peerKey(addressKey: string, port: number, transport: Transport): string {
  return addressKey + String.fromCharCode(port) + TRANSPORT_CODE[transport];
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
 * Learned peers keyed by (address, port, transport), bounded. A peer learned for `both` and the
 * same endpoint learned for one transport are two entries: each keeps its own expiry, as the
 * kernel's set entries do. A Map keeps them in learning order and a
 * re-learned entry moves to the end, so the least recently learned peer is evicted first.
 * Expired peers are ignored by lookups at once and removed by a bounded sweep later.
 */
export class PeerTable {
  private readonly entries: BoundedMap<string, PeerEntry>;
  /** Bumped on every insertion or removal, so flows can cache "leads to a peer" answers. */
  version = 0;

  constructor(
    readonly maxPeers: number,
    readonly ttlMs: number,
  ) {
    this.entries = new BoundedMap(maxPeers, () => this.version++);
  }

  get size(): number {
    return this.entries.size;
  }

  get evictions(): number {
    return this.entries.evictions;
  }

  /**
   * The entry covering a packet of `transport` to (address, port): the exact endpoint first, then
   * the whole address; for each, one learned for that transport, then one learned for both.
   */
  lookup(addressKey: string, port: number, transport: 'tcp' | 'udp', now: number): PeerEntry | null {
    return (
      this.live(peerKey(addressKey, port, transport), now) ??
      this.live(peerKey(addressKey, port, 'both'), now) ??
      (port === 0 ? null : (this.live(peerKey(addressKey, 0, transport), now) ?? this.live(peerKey(addressKey, 0, 'both'), now)))
    );
  }

  private live(key: string, now: number): PeerEntry | null {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.expiresAt > now ? entry : null;
  }

  learn(addressKey: string, port: number, transport: Transport, details: PeerDetails & { now: number; expiresAt?: number }): LearnResult {
    const key = peerKey(addressKey, port, transport);
    const expiresAt = details.expiresAt ?? details.now + this.ttlMs;
    const existing = this.entries.get(key);
    if (existing && existing.expiresAt > details.now) {
      if (expiresAt <= existing.expiresAt) return { entry: existing, change: 'none' };
      existing.expiresAt = expiresAt;
      this.entries.refresh(key, existing);
      if (expiresAt - existing.announcedExpiry < this.ttlMs / 2) return { entry: existing, change: 'none' };
      existing.announcedExpiry = expiresAt;
      return { entry: existing, change: 'refreshed' };
    }
    const entry: PeerEntry = {
      key,
      ip: formatAddressKey(addressKey),
      port,
      transport,
      protocol: details.protocol,
      via: details.via,
      learnedFrom: details.learnedFrom,
      learnedAt: details.now,
      expiresAt,
      announcedExpiry: expiresAt,
    };
    this.entries.set(key, entry);
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
    const removed = this.entries.delete(peerKey(addressKey, port, transport));
    if (removed) this.version++;
    return removed;
  }

  /**
   * Removes every transport of (address, port); with port 0, every entry of the address. An
   * operator's allow entry is rare, so a whole-address one may walk the table.
   */
  removeCovered(addressKey: string, port: number): PeerEntry[] {
    const covered: PeerEntry[] = [];
    if (port !== 0) {
      for (const transport of ['tcp', 'udp', 'both'] as const) {
        const entry = this.entries.get(peerKey(addressKey, port, transport));
        if (entry) covered.push(entry);
      }
    } else {
      for (const entry of this.entries.values()) if (entry.key.startsWith(addressKey) && entry.key.length === addressKey.length + 2) covered.push(entry);
    }
    for (const entry of covered) this.entries.delete(entry.key);
    if (covered.length > 0) this.version++;
    return covered;
  }

  /**
   * Drops expired entries, looking at no more than `budget` of them: lookups already ignore
   * expired peers, so this only gives memory back, and must not stall the packet path on a
   * table of a million peers.
   */
  prune(now: number, budget = PRUNE_BUDGET): PeerEntry[] {
    const expired = this.entries.sweep(budget, (entry) => entry.expiresAt <= now);
    if (expired.length > 0) this.version++;
    return expired;
  }

  values(): IterableIterator<PeerEntry> {
    return this.entries.values();
  }
}
