import { REDIS_KEYS } from '@p2pwall/common';
import type { Redis } from 'ioredis';
import { boundedRead } from './bounded-read.js';
import { IncidentCounts, type IncidentCount } from './incident-labels.js';

/**
 * Open incidents (last seen within incidents.quietSeconds, as the API's `open`) by site and
 * protocol, from Redis: what every replica sees alike. One script call per scrape walks the index
 * of every incident, newest first, at most `max` of them, and answers only the counts: a read of
 * thousands of incidents is one small reply, not thousands (README "The brain's telemetry").
 */
export interface ActiveIncidentsOptions {
  quietMs: number;
  /** Incidents read per scrape at most (the newest); more open ones are not counted. */
  max: number;
  timeoutMs: number;
  now?: () => number;
}

const COUNT_SCRIPT = `
local ids = redis.call('ZRANGE', KEYS[1], '+inf', '(' .. ARGV[1], 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(ARGV[2]))
local counts, order = {}, {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[3] .. id, 'site', 'protocol')
  -- gone since the index was written (evicted, expired): not open any more
  if f[1] and f[2] then
    local key = f[1] .. '\\n' .. f[2]
    if counts[key] == nil then
      counts[key] = 0
      order[#order + 1] = key
    end
    counts[key] = counts[key] + 1
  end
end
local out = {}
for _, key in ipairs(order) do
  out[#out + 1] = key
  out[#out + 1] = counts[key]
end
return out`;

interface CountCommand {
  p2pwallActiveIncidents(index: string, since: string, max: number, prefix: string): Promise<(string | number)[]>;
}

/** The open incidents' counts by site and protocol; undefined when Redis cannot be read now. */
export function readActiveIncidents(redis: Redis, options: ActiveIncidentsOptions): Promise<IncidentCount[] | undefined> {
  if (!('p2pwallActiveIncidents' in redis)) redis.defineCommand('p2pwallActiveIncidents', { numberOfKeys: 1, lua: COUNT_SCRIPT });
  return boundedRead(redis, options.timeoutMs, async () => {
    const since = Math.round((options.now?.() ?? Date.now()) - options.quietMs);
    const reply = await (redis as unknown as CountCommand).p2pwallActiveIncidents(REDIS_KEYS.incidentIndex('all'), String(since), options.max, REDIS_KEYS.incident(''));
    const counts: IncidentCount[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const [site = '', protocol = ''] = String(reply[i]).split('\n');
      counts.push({ labels: { site, protocol }, count: Number(reply[i + 1]) });
    }
    return counts;
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
  update(read: readonly IncidentCount[] | undefined): IncidentCount[] | undefined {
    if (!read) return undefined;
    this.counts.zero();
    for (const { labels, count } of read) this.counts.add(labels, count);
    return this.counts.entries();
  }
}
