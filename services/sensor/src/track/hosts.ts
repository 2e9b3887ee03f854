import { BoundedMap } from './bounded-map.js';
import type { ClientEntry } from './clients.js';

/** An inside host the engine has seen traffic from or to. */
export interface InsideHost {
  readonly addressKey: string;
  packets: number;
  firstSeen: number;
  /** Set while the host is an identified client. */
  client: ClientEntry | null;
  /** Start of the minute its learned peers are counted in (ms), and how many so far. */
  peerMinuteStart: number;
  peersThisMinute: number;
}

/**
 * Inside hosts by address key, bounded. Flows keep a reference to their host, so the
 * per-packet work is a counter increment, not a lookup; the table itself is touched only when
 * a flow starts.
 */
export class HostTable {
  private readonly hosts: BoundedMap<string, InsideHost>;

  constructor(readonly maxHosts: number) {
    this.hosts = new BoundedMap(maxHosts);
  }

  get size(): number {
    return this.hosts.size;
  }

  get evictions(): number {
    return this.hosts.evictions;
  }

  get(addressKey: string): InsideHost | undefined {
    return this.hosts.get(addressKey);
  }

  /** The host record for a new flow, created if needed and marked most recently active. */
  forNewFlow(addressKey: string, now: number): InsideHost {
    const host = this.hosts.get(addressKey) ?? { addressKey, packets: 0, firstSeen: now, client: null, peerMinuteStart: now, peersThisMinute: 0 };
    this.hosts.set(addressKey, host);
    return host;
  }
}
