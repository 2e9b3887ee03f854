/**
 * Inside hosts this replica merged into lately, whose windows may still hold members: the hosts
 * the sweep's second look (BatchProcessor.reevaluateHosts) reads back. Bounded: beyond `max`, the
 * host first seen longest ago is forgotten first (hosts whose windows ran out go at every look).
 */

export interface RecentHost {
  /** Its window's Redis key. */
  key: string;
  site: string;
  hostIp: string;
  hostBytes: Uint8Array;
  /** `site/gateway/queue` of the batch that touched it last (named as evidence). */
  sensor: string;
  /** Its window holds nothing newer than this: no need to look again after it. */
  until: number;
}

export class RecentHosts {
  private readonly hosts = new Map<string, RecentHost>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.hosts.size;
  }

  /**
   * `host` (site/ip) was merged into by a batch of `sensor`; its window may hold members until
   * `until`. Known hosts are updated in place; a new one is copied from `window` (this runs for
   * most hosts of every batch, so nothing is allocated for a known one).
   */
  remember(host: string, sensor: string, until: number, window: Omit<RecentHost, 'sensor' | 'until'>): void {
    const known = this.hosts.get(host);
    if (known) {
      // eviction goes by first sight, expiry by `until`
      known.sensor = sensor;
      known.until = Math.max(known.until, until);
      return;
    }
    // spelled out, not spread: a spread copy keeps `until` boxed, and every update above would allocate
    this.hosts.set(host, { key: window.key, site: window.site, hostIp: window.hostIp, hostBytes: window.hostBytes, sensor, until });
    if (this.hosts.size > this.max) this.hosts.delete(this.hosts.keys().next().value!);
  }

  /** Hosts whose window may still hold members at `nowMs`; the others are forgotten. */
  live(nowMs: number): RecentHost[] {
    const out: RecentHost[] = [];
    for (const [key, host] of this.hosts) {
      if (host.until > nowMs) out.push(host);
      else this.hosts.delete(key);
    }
    return out;
  }
}
