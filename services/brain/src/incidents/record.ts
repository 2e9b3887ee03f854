import { REDIS_KEYS } from '@p2pwall/common';
import type { Redis } from 'ioredis';
import { UNKNOWN_PROTOCOL, type IncidentUpdate } from './evidence.js';

/**
 * Writes a batch's incident updates to Redis in one Lua script call (its argument: the updates as
 * a JSON array, decoded by Redis' cjson), atomic so that two brain replicas (or two batches in
 * flight) extending the same episode never open two incidents or lose a count. Per update the
 * script finds the host's open episode (K1, protocol → "id|last"), opens one when allowed,
 * merges counters, peers, decisions and samples, keeps the longest episode span so far (K2:
 * it bounds how far an `until` query must look), and keeps the sorted-set indexes (by last seen)
 * that let a query read only what it returns: every incident, by site, gateway, host, protocol,
 * peer ip. Rule counts are `r:<rule>` fields and gateways a comma list in the incident's hash.
 *
 * Counts (blocked attempts, bytes, flows) come from flow summaries, which carry each flow's totals
 * so far: the script keeps, per live flow of the incident (`<id>:live`, flowKey → "attempts
 * bytes"), what it already counted, adds only what a later summary adds, and forgets the flow
 * at its final summary (which alone counts it as a flow). While that hash holds flows, the
 * counts are provisional: they grow as those flows go on. The update's times are the host's
 * own activity unless A[13] says they are not (a decision only): then they move nothing. The
 * first identification (A[14] its time, A[15] its JSON) stays unless an earlier one comes.
 *
 * Besides the retention, the number of incidents is capped per site (ARGV[2]) and in all
 * (ARGV[3]): when a new incident passes a cap, the incidents of that index last seen longest ago
 * go, with their index entries (at most EVICT_PER_CALL a cap per new incident, so lowering a cap
 * never stalls Redis: the excess drains as new incidents come). A site flooded with incidents
 * pushes out its own, not other sites' beyond its cap. The reply starts with how many went.
 */

/** Incidents kept per site and in all unless brain.yaml says otherwise (about 3 KB of Redis each: bench/results/incidents.json). */
export const DEFAULT_MAX_INCIDENTS_PER_SITE = 100_000;
export const DEFAULT_MAX_INCIDENTS_TOTAL = 200_000;
/** Incidents one new incident may push out per cap. */
const EVICT_PER_CALL = 64;

const RECORD_SCRIPT = `
local max_per_site, max_total = tonumber(ARGV[2]), tonumber(ARGV[3])
local evicted = 0

-- the bare ip of a peer named ip, ip:port or [v6]:port (record.ts peerIp)
local function peer_ip(peer)
  if string.byte(peer, 1) == 91 then return string.match(peer, '^%[([^%]]*)%]') or peer end
  local colon = string.find(peer, ':', 1, true)
  if colon and not string.find(peer, ':', colon + 1, true) then return string.sub(peer, 1, colon - 1) end
  return peer
end

-- removes one incident, its lists and its entries in every index
local function evict(P, X, id)
  local key = P .. id
  local f = redis.call('HMGET', key, 'site', 'host', 'protocol', 'gateways')
  for _, peer in ipairs(redis.call('ZRANGE', key .. ':peers', 0, -1)) do
    redis.call('ZREM', X .. 'peer:' .. peer_ip(peer), id)
  end
  redis.call('ZREM', X .. 'all:', id)
  if f[1] then
    redis.call('ZREM', X .. 'site:' .. f[1], id)
    redis.call('ZREM', X .. 'host:' .. (f[2] or ''), id)
    redis.call('ZREM', X .. 'protocol:' .. (f[3] or ''), id)
    for gateway in string.gmatch(f[4] or '', '[^,]+') do redis.call('ZREM', X .. 'gateway:' .. gateway, id) end
    evicted = evicted + 1
  end
  redis.call('DEL', key, key .. ':peers', key .. ':decisions', key .. ':samples', key .. ':live')
end

local function cap(P, X, index, max)
  local over = redis.call('ZCARD', X .. index) - max
  if over <= 0 then return end
  for _, id in ipairs(redis.call('ZRANGE', X .. index, 0, math.min(over, ${EVICT_PER_CALL}) - 1)) do evict(P, X, id) end
end

local function record(U)
  local K1, K2 = U[1], U[2]
  local A = {}
  for j = 3, #U do A[j - 2] = U[j] end
  local P, X = A[1], A[2]
  local site, host, proto = A[3], A[4], A[5]
  local opens = A[6] == '1'
  local first, last = tonumber(A[7]), tonumber(A[8])
  local quiet, retention, now = tonumber(A[9]), tonumber(A[10]), tonumber(A[17])
  local activity = A[13] == '1'
  local anyOpen = proto == '${UNKNOWN_PROTOCOL}' or not opens

  local id, idProto, latest = nil, nil, -1
  local open = redis.call('HGETALL', K1)
  for i = 1, #open, 2 do
    local p, v = open[i], open[i + 1]
    local sep = string.find(v, '|', 1, true)
    if sep then
      local oid, olast = string.sub(v, 1, sep - 1), tonumber(string.sub(v, sep + 1)) or 0
      if olast + quiet >= first and redis.call('EXISTS', P .. oid) == 1 then
        if p == proto then
          id, idProto, latest = oid, p, math.huge
        elseif anyOpen and olast > latest then
          id, idProto, latest = oid, p, olast
        end
      end
    end
  end
  local created = id == nil
  if id == nil then
    if not opens then return '' end
    id, idProto = A[11], proto
    redis.call('HSET', P .. id, 'id', id, 'site', site, 'host', host, 'protocol', proto, 'first', string.format('%.0f', first), 'last', string.format('%.0f', last), 'attempts', 0, 'bytes', 0, 'flows', 0, 'peers', 0, 'decisions', 0, 'gateways', '')
  else
    local cur = redis.call('HMGET', P .. id, 'first', 'last')
    local f, l = tonumber(cur[1]) or first, tonumber(cur[2]) or last
    if activity and first < f then redis.call('HSET', P .. id, 'first', string.format('%.0f', first)) end
    if activity and last > l then redis.call('HSET', P .. id, 'last', string.format('%.0f', last)) else last = l end
  end
  local key = P .. id
  local i = 18
  -- flows: what each adds beyond what earlier summaries of it already counted
  local live = key .. ':live'
  local attempts, added_bytes, ended = 0, 0, 0
  local n = tonumber(A[i]); i = i + 1
  for _ = 1, n do
    local flow, fa, fb, final = A[i], tonumber(A[i + 1]) or 0, tonumber(A[i + 2]) or 0, A[i + 3] == '1'
    i = i + 4
    local pa, pb = 0, 0
    local prev = redis.call('HGET', live, flow)
    if prev then
      local sp = string.find(prev, ' ', 1, true)
      pa, pb = tonumber(string.sub(prev, 1, sp - 1)) or 0, tonumber(string.sub(prev, sp + 1)) or 0
    end
    if fa > pa then attempts = attempts + fa - pa end
    if fb > pb then added_bytes = added_bytes + fb - pb end
    if final then
      if prev then redis.call('HDEL', live, flow) end
      ended = ended + 1
    else
      redis.call('HSET', live, flow, string.format('%.0f %.0f', math.max(fa, pa), math.max(fb, pb)))
    end
  end
  redis.call('HINCRBY', key, 'attempts', attempts)
  -- saturating at 2^53 - 1 (HINCRBY would fail past 2^63 and lose the whole update)
  local bytes = (tonumber(redis.call('HGET', key, 'bytes')) or 0) + added_bytes
  if bytes > 9007199254740991 then bytes = 9007199254740991 end
  redis.call('HSET', key, 'bytes', string.format('%.0f', bytes))
  redis.call('HINCRBY', key, 'flows', ended)
  if A[14] ~= '' then
    local known = tonumber(redis.call('HGET', key, 'why_ms'))
    if known == nil or tonumber(A[14]) < known then redis.call('HSET', key, 'why_ms', A[14], 'why', A[15]) end
  end
  local gateway = A[12]
  local gateways = redis.call('HGET', key, 'gateways')
  if not gateways or gateways == '' then
    redis.call('HSET', key, 'gateways', gateway)
  elseif string.find(',' .. gateways .. ',', ',' .. gateway .. ',', 1, true) == nil then
    redis.call('HSET', key, 'gateways', gateways .. ',' .. gateway)
  end
  local span = last - (tonumber(redis.call('HGET', key, 'first')) or last)
  if span > (tonumber(redis.call('GET', K2)) or 0) then redis.call('SET', K2, string.format('%.0f', span)) end

  n = tonumber(A[i]); i = i + 1
  for _ = 1, n do
    redis.call('HINCRBY', key, 'r:' .. A[i], A[i + 1]); i = i + 2
  end
  n = tonumber(A[i]); i = i + 1
  local added = 0
  for _ = 1, n do
    added = added + redis.call('ZADD', key .. ':peers', 'NX', A[i + 2], A[i])
    local pk = X .. 'peer:' .. A[i + 1]
    redis.call('ZADD', pk, 'GT', last, id)
    redis.call('PEXPIRE', pk, retention)
    i = i + 3
  end
  if added > 0 then redis.call('HINCRBY', key, 'peers', added) end
  n = tonumber(A[i]); i = i + 1
  for _ = 1, n do
    redis.call('LPUSH', key .. ':samples', A[i]); i = i + 1
  end
  if n > 0 then redis.call('LTRIM', key .. ':samples', 0, tonumber(A[16]) - 1) end
  n = tonumber(A[i]); i = i + 1
  added = 0
  for _ = 1, n do
    added = added + redis.call('ZADD', key .. ':decisions', 'NX', A[i + 1], A[i]); i = i + 2
  end
  if added > 0 then redis.call('HINCRBY', key, 'decisions', added) end

  redis.call('HSET', K1, idProto, id .. '|' .. string.format('%.0f', last))
  redis.call('PEXPIRE', K1, quiet + 60000)
  for _, k in ipairs({ key, key .. ':peers', key .. ':decisions', key .. ':samples', live }) do
    redis.call('PEXPIRE', k, retention)
  end
  for _, index in ipairs({ 'all:', 'site:' .. site, 'host:' .. host, 'protocol:' .. idProto, 'gateway:' .. gateway }) do
    local ik = X .. index
    redis.call('ZADD', ik, 'GT', last, id)
    redis.call('ZREMRANGEBYSCORE', ik, '-inf', '(' .. string.format('%.0f', now - retention))
    redis.call('PEXPIRE', ik, retention)
  end
  if created then
    cap(P, X, 'site:' .. site, max_per_site)
    cap(P, X, 'all:', max_total)
  end
  return id
end
local all = cjson.decode(ARGV[1])
local out = {}
for u = 1, #all do out[u] = record(all[u]) end
table.insert(out, 1, evicted)
return out`;

export const INCIDENT_PREFIX = REDIS_KEYS.incident('');
/** `p2pwall:v1:incidents:by-`: REDIS_KEYS.incidentIndex without its kind and value. */
export const INDEX_PREFIX = REDIS_KEYS.incidentIndex('all').slice(0, -'all:'.length);

interface RecordCommand {
  p2pwallIncidentRecord(updates: string, maxPerSite: number, maxTotal: number): Promise<(string | number)[]>;
}

export function defineIncidentScripts(redis: Redis): void {
  if (!('p2pwallIncidentRecord' in redis)) redis.defineCommand('p2pwallIncidentRecord', { numberOfKeys: 0, lua: RECORD_SCRIPT });
}

export interface RecordOptions {
  quietMs: number;
  retentionMs: number;
  maxSamples: number;
  /** Incidents kept per site and in all (the ones last seen longest ago go). */
  maxPerSite: number;
  maxTotal: number;
  nowMs: number;
  newId: (update: IncidentUpdate) => string;
}

export interface RecordResult {
  /** Per update, its incident id ("" where it found no open episode to extend). */
  ids: string[];
  /** Incidents removed to stay within the caps. */
  evicted: number;
}

/** The bare ip of a peer named `ip`, `ip:port` or `[v6]:port`. */
export function peerIp(peer: string): string {
  if (peer.startsWith('[')) return peer.slice(1, peer.indexOf(']'));
  const colon = peer.indexOf(':');
  return colon >= 0 && peer.indexOf(':', colon + 1) < 0 ? peer.slice(0, colon) : peer;
}

/** A count as the script adds it: a whole number from 0 to 2^53 - 1. */
const boundedCount = (n: number): number => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.round(n)));

/** One update as the script reads it: its two keys, then its arguments, all as text. */
function scriptArguments(update: IncidentUpdate, options: RecordOptions): string[] {
  const args: (string | number)[] = [
    REDIS_KEYS.incidentOpen(update.site, update.hostIp),
    REDIS_KEYS.incidentMaxSpan,
    INCIDENT_PREFIX,
    INDEX_PREFIX,
    update.site,
    update.hostIp,
    update.protocol,
    update.opens ? '1' : '0',
    Math.round(update.firstSeenMs),
    Math.round(update.lastSeenMs),
    Math.round(options.quietMs),
    Math.max(1, Math.round(options.retentionMs)),
    options.newId(update),
    update.gateway,
    update.activity ? '1' : '0',
    update.identification ? Math.round(update.identification.seenMs) : '',
    update.identification ? JSON.stringify(update.identification) : '',
    Math.max(1, options.maxSamples),
    Math.round(options.nowMs),
  ];
  args.push(update.flows.size);
  for (const [key, totals] of update.flows) args.push(key, boundedCount(totals.attemptsBlocked), boundedCount(totals.bytes), totals.ended ? '1' : '0');
  args.push(update.rules.size);
  for (const [rule, count] of update.rules) args.push(rule, count);
  args.push(update.peers.size);
  for (const [peer, ts] of update.peers) args.push(peer, peerIp(peer), Math.round(ts));
  args.push(update.samples.length);
  for (const sample of update.samples) args.push(JSON.stringify(sample));
  args.push(update.decisions.size);
  for (const [id, ts] of update.decisions) args.push(id, Math.round(ts));
  return args.map(String);
}

/** Applies a batch's updates in one script call (defineIncidentScripts must have run on the connection). */
export async function recordUpdates(redis: Redis, updates: readonly IncidentUpdate[], options: RecordOptions): Promise<RecordResult> {
  if (updates.length === 0) return { ids: [], evicted: 0 };
  const payload = JSON.stringify(updates.map((update) => scriptArguments(update, options)));
  const [evicted, ...ids] = await (redis as unknown as RecordCommand).p2pwallIncidentRecord(payload, options.maxPerSite, options.maxTotal);
  return { ids: ids.map(String), evicted: Number(evicted) };
}
