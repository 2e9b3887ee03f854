import { SEEN_BATCHES_LUA } from './dedup.js';

/**
 * The Lua of the correlation state (ingest/state.ts wraps it). Timed sets are hashes, member →
 * "ts:flags"; merging prunes members older than the cutoff and adds with the max of times and the
 * OR of flags up to a member bound: the Redis twin of correlate/window.ts mergeTimedSet. Each
 * script runs atomically, so two replicas (or two messages in flight) never lose or double-count
 * a member. The scripts answer with counts, and with members only where a rule may fire: Redis
 * is single-threaded and its Lua slow at string work; Node parses members far faster.
 */

/** Batched HSET/HDEL/HMGET: one redis.call per chunk instead of per member (unpack stays far below Lua's stack limit). */
const CHUNKED = `
local function chunked(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end`;

/**
 * One summary batch, atomically: claim it among its sensor instance's batches (ingest/dedup.ts),
 * then merge every endpoint set and host window it touches, and answer with what the rules need
 * rather than every set.
 *
 * Host windows carry a version in the reserved field "#" (no member is named so: members hold a
 * "|"), bumped by every merge. A replica that mirrors a window (ingest/window-mirror.ts) sends the
 * version it expects, the members it saw expire and the live count: when the version matches,
 * the window is exactly the mirror, and the merge touches only those members (no full read, no
 * reply of members). Otherwise (another replica or message merged in between, the key expired, no
 * mirror) the merge reads the whole window, and returns it when a rule may fire on it or the
 * caller's mirror must be reseeded.
 *
 * KEYS[1]: the sensor instance's seen batches; KEYS[2 .. 1+E]: endpoint sets; the rest: host windows.
 * ARGV[1]: JSON (one argument, decoded by Redis' C cjson: far cheaper for both sides than
 * thousands of arguments) [[batch sequence, dedup window, dedup ttl ms],
 *   endpoint cutoff ms, ttl ms, max members, members returned from this count up,
 *   host cutoff ms, ttl ms, max members, members returned from this count up,
 *   version of a window created now,
 *   [per endpoint set: [member, "ts:flags", …]],
 *   [per host window: [[member, "ts:flags", …]] or, mirrored, [[…], expected version, live count, [expired members]]]].
 * "ts:flags" in decimal, as the hashes store it.
 * Reply: { Claim } when the batch is not claimed (a duplicate, or beyond the window: nothing merged); else 1, then
 *        per endpoint set: count, first ts, last ts, k, then k members (k = count from the threshold up, else 0);
 *        per host window: count, version, mode (0 incremental, 1 full), k, then k (member, "ts:flags")
 *        (k: the count when full and from the threshold up or expected, else 0).
 */
export const INGEST_SCRIPT = `${CHUNKED}${SEEN_BATCHES_LUA}
local p = cjson.decode(ARGV[1])
local claim = claim_batch(KEYS[1], p[1][1], p[1][2], p[1][3])
if claim ~= 1 then return { claim } end

local function ts_of(v)
  local sep = string.find(v, ':', 1, true)
  return sep and tonumber(string.sub(v, 1, sep - 1)) or nil
end

-- Reads the whole set: member → "ts:flags" of live members, their count, the stale ones, and
-- the version field (host windows).
local function read_all(key, cutoff)
  local all = redis.call('HGETALL', key)
  local vals, n, gone, version = {}, 0, {}, false
  for i = 1, #all, 2 do
    local m = all[i]
    if m == '#' then
      version = all[i + 1]
    else
      local ts = ts_of(all[i + 1])
      if ts == nil or ts < cutoff then
        gone[#gone + 1] = m
      else
        vals[m] = all[i + 1]
        n = n + 1
      end
    end
  end
  return vals, n, gone, version
end

-- Adds (member, "ts:flags") pairs into vals (max of times, OR of flags, at most max members);
-- returns the new count and the HSET list of what changed.
local function add(vals, n, adds, cutoff, max)
  local set = {}
  for i = 1, #adds, 2 do
    local m, av = adds[i], adds[i + 1]
    local asep = string.find(av, ':', 1, true)
    local ts = tonumber(string.sub(av, 1, asep - 1))
    if ts >= cutoff then
      local v = vals[m]
      if v then
        local sep = string.find(v, ':', 1, true)
        local ets, efl = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1)) or 0
        local nfl = bit.bor(efl, tonumber(string.sub(av, asep + 1)))
        if ts > ets or nfl ~= efl then
          local nv = (ts > ets and string.sub(av, 1, asep - 1) or string.sub(v, 1, sep - 1)) .. ':' .. nfl
          vals[m] = nv
          set[#set + 1] = m
          set[#set + 1] = nv
        end
      elseif n < max then
        vals[m] = av
        n = n + 1
        set[#set + 1] = m
        set[#set + 1] = av
      end
    end
  end
  return n, set
end

local function store(key, n, gone, set, ttl)
  if #gone > 0 then chunked('HDEL', key, gone) end
  if n == 0 then
    redis.call('DEL', key)
    return
  end
  if #set > 0 then chunked('HSET', key, set) end
  redis.call('PEXPIRE', key, ttl)
end

local out = { 1 }
local ecut, ettl, emax, emin = p[2], p[3], p[4], p[5]
local endpoints = p[11]
for e = 1, #endpoints do
  local key = KEYS[1 + e]
  local vals, n, gone = read_all(key, ecut)
  local n2, set = add(vals, n, endpoints[e], ecut, emax)
  store(key, n2, gone, set, ettl)
  local lo, hi
  for _, v in pairs(vals) do
    local ts = ts_of(v)
    if not lo or ts < lo then lo = ts end
    if not hi or ts > hi then hi = ts end
  end
  out[#out + 1] = n2
  out[#out + 1] = lo or 0
  out[#out + 1] = hi or 0
  if n2 >= emin then
    out[#out + 1] = n2
    for m in pairs(vals) do out[#out + 1] = m end
  else
    out[#out + 1] = 0
  end
end

local hcut, httl, hmax, hmin, created = p[6], p[7], p[8], p[9], p[10]
local hosts = p[12]
for h = 1, #hosts do
  local key = KEYS[1 + #endpoints + h]
  local adds, expected, live, expired = hosts[h][1], hosts[h][2], hosts[h][3], hosts[h][4]
  local version = expected and redis.call('HGET', key, '#')
  local vals, n, gone
  local incremental = expected and version == expected
  if incremental then
    -- the window is what the caller mirrors: touch only the members it names
    if #expired > 0 then chunked('HDEL', key, expired) end
    vals, n, gone = {}, live, {}
    local names = {}
    for i = 1, #adds, 2 do names[#names + 1] = adds[i] end
    for i = 1, #names, 1000 do
      local got = redis.call('HMGET', key, unpack(names, i, math.min(i + 999, #names)))
      for j = 1, #got do
        if got[j] then vals[names[i + j - 1]] = got[j] end
      end
    end
  else
    vals, n, gone, version = read_all(key, hcut)
  end
  local n2, set = add(vals, n, adds, hcut, hmax)
  local next_version = version and string.format('%.0f', tonumber(version) + 1) or string.format('%.0f', created)
  set[#set + 1] = '#'
  set[#set + 1] = next_version
  store(key, n2, gone, set, httl)
  out[#out + 1] = n2
  out[#out + 1] = next_version
  if incremental then
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    if n2 >= hmin or expected then
      out[#out + 1] = n2
      for m, v in pairs(vals) do
        out[#out + 1] = m
        out[#out + 1] = v
      end
    else
      out[#out + 1] = 0
    end
  end
end
return out`;

/**
 * Host windows read back for the host rules' second look (no writes).
 *
 * KEYS: host windows. ARGV: 1 cutoff ms, 2 minimum members, then per key the version the
 * caller's copy of it holds ('' for none: see ingest/window-mirror.ts), then optionally the
 * number of endpoint tokens E, E outside endpoints (`ip:port` / `[v6]:port`), then bare IPs
 * (whole-address blocks). A window whose version is the one given is not read: the caller's copy
 * is exact. With tokens, only windows holding a member whose endpoint or IP is one of them are
 * returned: with a few endpoints only, each window is asked for those members (TCP and UDP)
 * alone; otherwise its members are tested one by one (addresses are cut out only when IPs were
 * given).
 * Reply per key: -1 when the copy is exact; else n, then n (member, "ts:flags") of its live
 * members; n = 0 for a window left out (too small, no token, gone).
 */
export const WINDOWS_SCRIPT = `
local cutoff, min = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = 2 + #KEYS
local ne = tonumber(ARGV[base + 1]) or 0
local endpoints, ips, any_ip = {}, {}, false
for i = base + 2, base + 1 + ne do endpoints[ARGV[i]] = true end
for i = base + 2 + ne, #ARGV do
  ips[ARGV[i]] = true
  any_ip = true
end
local filtered = ARGV[base + 1] ~= nil
local function ip_of(ep)
  if string.byte(ep, 1) == 91 then return string.match(ep, '^%[([^%]]*)%]') end
  return string.match(ep, '^([^:]*)')
end
-- A few endpoints and no bare IPs: ask each window for those members only (members are
-- 'protocol|endpoint', and windows hold TCP (6) and UDP (17) members only).
local probe = nil
if filtered and not any_ip and ne <= 16 then
  probe = {}
  for i = base + 2, base + 1 + ne do
    probe[#probe + 1] = '6|' .. ARGV[i]
    probe[#probe + 1] = '17|' .. ARGV[i]
  end
end
local out = {}
-- Appends the window at key to out: n, then its live members, or 0.
local function read_window(key)
  local all
  local hit = not filtered
  if probe then
    if #probe > 0 then
      local got = redis.call('HMGET', key, unpack(probe))
      for j = 1, #got do
        if got[j] then
          hit = true
          break
        end
      end
    end
    all = hit and redis.call('HGETALL', key) or {}
  else
    all = redis.call('HGETALL', key)
  end
  if not hit then
    for i = 1, #all, 2 do
      local bar = string.find(all[i], '|', 1, true)
      if bar then
        local ep = string.sub(all[i], bar + 1)
        if endpoints[ep] or (any_ip and ips[ip_of(ep)]) then
          hit = true
          break
        end
      end
    end
  end
  local live = {}
  if hit then
    for i = 1, #all, 2 do
      local v = all[i + 1]
      local sep = string.find(v, ':', 1, true)
      local ts = sep and tonumber(string.sub(v, 1, sep - 1)) or nil
      if ts ~= nil and ts >= cutoff then
        live[#live + 1] = all[i]
        live[#live + 1] = v
      end
    end
  end
  if #live >= 2 * min then
    out[#out + 1] = #live / 2
    for i = 1, #live do out[#out + 1] = live[i] end
  else
    out[#out + 1] = 0
  end
end
for k = 1, #KEYS do
  local copy = ARGV[2 + k]
  if copy ~= '' and redis.call('HGET', KEYS[k], '#') == copy then
    out[#out + 1] = -1
  else
    read_window(KEYS[k])
  end
end
return out`;
