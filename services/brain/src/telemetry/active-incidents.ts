import { REDIS_KEYS } from '@p2pwall/common';
import type { Redis } from 'ioredis';
import { boundedRead } from './bounded-read.js';
import { IncidentCounts, type IncidentLabels } from './incident-labels.js';

/**
 * Open incidents (last seen within incidents.quietSeconds, as the API's `open`) by site and
 * protocol, from Redis: what every replica sees alike. One read per scrape, newest first through
 * the index of every incident, at most `max` of them (README "The brain's telemetry").
 */
export interface ActiveIncidentsOptions {
  quietMs: number;
  /** Incidents read per scrape at most (the newest); more open ones are not counted. */
  max: number;
  timeoutMs: number;
  now?: () => number;
}

/** The site and protocol of each open incident, newest first; undefined when Redis cannot be read now. */
export function readActiveIncidents(redis: Redis, options: ActiveIncidentsOptions): Promise<IncidentLabels[] | undefined> {
  return boundedRead(redis, options.timeoutMs, async () => {
    const since = (options.now?.() ?? Date.now()) - options.quietMs;
    const ids = await redis.zrange(REDIS_KEYS.incidentIndex('all'), '+inf', `(${since}`, 'BYSCORE', 'REV', 'LIMIT', 0, options.max);
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hmget(REDIS_KEYS.incident(id), 'site', 'protocol');
    const labels: IncidentLabels[] = [];
    for (const [error, value] of (await pipeline.exec()) ?? []) {
      const [site, protocol] = (value ?? []) as (string | null)[];
      // gone since the index was read (evicted, expired): not open any more
      if (!error && site && protocol) labels.push({ site, protocol });
    }
    return labels;
  });
}

/**
 * The gauge's values across scrapes. The metrics SDK reports a series that a scrape did not
 * observe as it last was, so a pair whose incidents all closed must be observed as 0: the
 * counts keep every pair seen (bounded) and are zeroed before each read is tallied.
 */
export class ActiveIncidents {
  private readonly counts = new IncidentCounts();

  /** The counts after a read; undefined (the last values stand) when there was no read. */
  update(read: readonly IncidentLabels[] | undefined): { labels: IncidentLabels; count: number }[] | undefined {
    if (!read) return undefined;
    this.counts.zero();
    for (const labels of read) this.counts.add(labels);
    return this.counts.entries();
  }
}
