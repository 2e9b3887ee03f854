import { addressKey, formatAddressKey } from '../decode/address.js';
import type { ClientEntry } from './clients.js';

/** An inside host the engine has seen traffic from or to. */
export interface InsideHost {
  readonly addressKey: string;
  /** The address as text, made once per host rather than once per flow event. */
  readonly addressText: string;
  packets: number;
  firstSeen: number;
  /** Set while the host is an identified client. */
  client: ClientEntry | null;
  /** Start of the minute its learned peers are counted in (ms), and how many so far. */
  peerMinuteStart: number;
  peersThisMinute: number;
}

/** A host record with the table's LRU links (owned by HostTable). */
interface HostRecord extends InsideHost {
  newer: HostRecord | null;
  older: HostRecord | null;
}

/**
 * Inside hosts by address key, bounded: the least recently active host (the one whose last new
 * flow is oldest) goes first. Flows keep a reference to their host, so the per-packet work is a
 * counter increment, not a lookup; the table itself is touched only when a flow starts. Marking
 * a host active moves it in an intrusive list, not in the Map (a delete and a set per new flow
 * churned the Map's table into rehashing), and a new flow from the most recent host, the
 * common case of one host opening many flows, is recognised from the packet's bytes without
 * building its key.
 */
export class HostTable {
  private readonly hosts = new Map<string, HostRecord>();
  private oldest: HostRecord | null = null;
  private newest: HostRecord | null = null;
  evictions = 0;

  constructor(readonly maxHosts: number) {
    if (!(maxHosts >= 1)) throw new RangeError('a bounded table needs room for at least one entry');
  }

  get size(): number {
    return this.hosts.size;
  }

  get(addressKey: string): InsideHost | undefined {
    return this.hosts.get(addressKey);
  }

  /**
   * The host record for a new flow from or to the inside address at buf[offset, offset + length),
   * created if needed and marked most recently active.
   */
  forNewFlow(buf: Uint8Array, offset: number, length: 4 | 16, now: number): InsideHost {
    const newest = this.newest;
    if (newest !== null && sameAddress(newest.addressKey, buf, offset, length)) return newest;
    const key = addressKey(buf, offset, length);
    let host = this.hosts.get(key);
    if (host !== undefined) {
      this.unlink(host);
    } else {
      if (this.hosts.size >= this.maxHosts) this.evictOldest();
      host = { addressKey: key, addressText: formatAddressKey(key), packets: 0, firstSeen: now, client: null, peerMinuteStart: now, peersThisMinute: 0, newer: null, older: null };
      this.hosts.set(key, host);
    }
    this.append(host);
    return host;
  }

  private evictOldest(): void {
    const oldest = this.oldest;
    if (oldest === null) return;
    this.unlink(oldest);
    this.hosts.delete(oldest.addressKey);
    this.evictions++;
  }

  private append(host: HostRecord): void {
    host.older = this.newest;
    host.newer = null;
    if (this.newest !== null) this.newest.newer = host;
    else this.oldest = host;
    this.newest = host;
  }

  private unlink(host: HostRecord): void {
    if (host.older !== null) host.older.newer = host.newer;
    else this.oldest = host.newer;
    if (host.newer !== null) host.newer.older = host.older;
    else this.newest = host.older;
    host.older = null;
    host.newer = null;
  }
}

/** Whether the address key names the address at buf[offset, offset + length) (decode/address.ts's layout). */
function sameAddress(key: string, buf: Uint8Array, offset: number, length: 4 | 16): boolean {
  if (key.length * 2 !== length) return false;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) !== ((buf[offset + 2 * i]! << 8) | buf[offset + 2 * i + 1]!)) return false;
  }
  return true;
}
