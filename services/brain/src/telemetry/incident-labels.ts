/** The labels of the incident series: the incident's site and protocol. */
export interface IncidentLabels {
  site: string;
  protocol: string;
}

/** How many incidents one (site, protocol) pair has. */
export interface IncidentCount {
  labels: IncidentLabels;
  count: number;
}

/**
 * Pairs of (site, protocol) the incident series keep before falling back. A site comes from an
 * authenticated subject (one per configured site), but a protocol is any well-formed name a sensor
 * sends (isProtocolName checks its form, not a list): past this many pairs, a new pair is reported
 * under protocol `other` of its site, so a misbehaving sensor cannot grow /metrics without bound.
 */
export const MAX_INCIDENT_LABEL_SETS = 512;

/** The protocol label that stands for every pair of a site past MAX_INCIDENT_LABEL_SETS. */
export const OVERFLOW_PROTOCOL = 'other';

const keyOf = (labels: IncidentLabels): string => `${labels.site}|${labels.protocol}`;

/**
 * Counts by (site, protocol), bounded: a pair not yet known once MAX_INCIDENT_LABEL_SETS are is
 * counted as (site, `other`); those fallbacks are one per site at most.
 */
export class IncidentCounts {
  private readonly counts = new Map<string, IncidentCount>();

  constructor(private readonly max = MAX_INCIDENT_LABEL_SETS) {}

  add(labels: IncidentLabels, n = 1): void {
    const known = this.counts.get(keyOf(labels));
    if (known) {
      known.count += n;
      return;
    }
    const admitted = this.counts.size < this.max ? labels : { site: labels.site, protocol: OVERFLOW_PROTOCOL };
    const entry = this.counts.get(keyOf(admitted)) ?? { labels: { ...admitted }, count: 0 };
    entry.count += n;
    this.counts.set(keyOf(admitted), entry);
  }

  /** Every pair counted, including those counted 0 (zeroed). */
  entries(): IncidentCount[] {
    return [...this.counts.values()].map(({ labels, count }) => ({ labels: { ...labels }, count }));
  }

  /** Sets every count to 0, keeping the pairs (a gauge then reports 0 for those gone). */
  zero(): void {
    for (const entry of this.counts.values()) entry.count = 0;
  }
}
