import type { Redis } from 'ioredis';
import { MAX_ENDPOINT_HOSTS, type CorrelationConfig, type EndpointAggregate, type Mark, type TimedSet, windowEntries } from '@p2pwall/common/correlate';
import { Claim } from './dedup.js';
import { INGEST_SCRIPT, WINDOWS_SCRIPT } from './scripts.js';
import { ParsedWindow, type WindowMirrors, type WindowView } from './window-mirror.js';

/**
 * Correlation state in Redis, through the scripts of ingest/scripts.ts: one script call merges a
 * whole batch (and claims it among its sensor instance's batches), another reads host windows back for a second look.
 * Host windows hold a version in the reserved field "#" besides their members.
 */

export interface TimedSetUpdate {
  key: string;
  additions: readonly (readonly [string, Mark])[];
}

export interface BatchMerge {
  /**
   * The batch among its sensor instance's (ingest/dedup.ts): the merge happens only if this call
   * claims it. `key`: REDIS_KEYS.seenBatches; `window`: batches told apart; `ttlMs`: how long the
   * instance's record outlives its last batch.
   */
  seen: { key: string; sequence: number; window: number; ttlMs: number };
  endpoints: readonly TimedSetUpdate[];
  hosts: readonly TimedSetUpdate[];
  nowMs: number;
  config: CorrelationConfig;
}

export interface MergedEndpoint extends EndpointAggregate {
  /** Every member (site/ip), but only once the set reached fanout.minHosts; otherwise empty. */
  members: string[];
}

export interface MergedWindow {
  /** Members in the window after the merge. */
  count: number;
  /** The window after the merge, when a host rule may fire on it (windowsFrom); otherwise undefined. */
  window: WindowView | undefined;
  /** Merged against this replica's copy (only the members named were touched, none returned). */
  incremental: boolean;
}

export interface BatchMergeResult {
  endpoints: MergedEndpoint[];
  hosts: MergedWindow[];
}

/** Windows per script call when reading back: each call blocks Redis while it runs (≈ 1 ms), merges of other messages wait. */
const WINDOWS_PER_CALL = 250;

interface StateCommands {
  /** The keys as one array (ioredis flattens it): a batch's keys are never spread as arguments on the stack. */
  p2pwallIngestBatch(numKeys: number, keys: string[], payload: string): Promise<unknown>;
  p2pwallReadWindows(numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export function defineStateScripts(redis: Redis): void {
  if ('p2pwallIngestBatch' in redis) return;
  redis.defineCommand('p2pwallIngestBatch', { lua: INGEST_SCRIPT });
  redis.defineCommand('p2pwallReadWindows', { lua: WINDOWS_SCRIPT });
}

const commands = (redis: Redis) => redis as unknown as StateCommands;

/**
 * The smallest window correlate/udp-fanout or correlate/tcp-udp-pairs can fire on (udpFanout.minEndpoints
 * members; a TCP and a UDP member per IP for the pairs): smaller windows stay in Redis.
 */
export function windowsFrom(config: CorrelationConfig): number {
  return Math.max(1, Math.min(config.host.udpFanout.minEndpoints, 2 * config.host.tcpUdpPairs.minIps));
}

/** Why a batch was not merged: counted before, or too far below its instance's newest to tell (ingest/dedup.ts). */
export type NotMerged = 'duplicate' | 'beyond-window';

/**
 * Merges a batch's additions; NotMerged when it is not claimed (nothing was merged).
 * With `mirrors`, large host windows are merged against this replica's copies (window-mirror.ts).
 */
export async function mergeBatch(redis: Redis, merge: BatchMerge, mirrors?: WindowMirrors): Promise<BatchMergeResult | NotMerged> {
  const { config, nowMs } = merge;
  const fanoutMs = config.fanout.windowSeconds * 1000;
  const hostMs = config.host.windowSeconds * 1000;
  const hostCutoff = Math.round(nowMs - hostMs);
  const keys = [merge.seen.key, ...merge.endpoints.map((u) => u.key), ...merge.hosts.map((u) => u.key)];
  const predictions = merge.hosts.map(({ key, additions }) => mirrors?.predict(key, additions, hostCutoff, config.host.maxEntries));
  const payload = [
    [merge.seen.sequence, merge.seen.window, Math.max(1, Math.round(merge.seen.ttlMs))],
    Math.round(nowMs - fanoutMs),
    fanoutMs,
    MAX_ENDPOINT_HOSTS,
    config.fanout.minHosts,
    hostCutoff,
    hostMs,
    config.host.maxEntries,
    windowsFrom(config),
    // a window created now starts from a version no earlier lifetime of its key reached (≈ 1000 merges per ms)
    Math.round(nowMs) * 1000,
    merge.endpoints.map(({ additions }) => flatAdditions(additions)),
    merge.hosts.map(({ additions }, index) => {
      const request = predictions[index]?.request;
      return request ? [flatAdditions(additions), request.expected, request.live, request.expired] : [flatAdditions(additions)];
    }),
  ];
  // Only these are used once the reply is in: the additions are garbage while Redis works.
  const hostKeys = merge.hosts.map((u) => u.key);
  const endpointCount = merge.endpoints.length;
  let reply: unknown;
  try {
    reply = await commands(redis).p2pwallIngestBatch(keys.length, keys, JSON.stringify(payload));
  } catch (error) {
    // the merge may or may not have run: copies that assumed it are no longer known to be exact
    for (const key of hostKeys) mirrors?.forget(key);
    throw error;
  }
  if (!Array.isArray(reply) || reply[0] !== Claim.Claimed) {
    for (const key of hostKeys) mirrors?.forget(key);
    return Array.isArray(reply) && reply[0] === Claim.BeyondWindow ? 'beyond-window' : 'duplicate';
  }
  const values = reply as (number | string)[];
  let at = 1;
  const int = () => Number(values[at++]);
  const endpoints: MergedEndpoint[] = Array.from({ length: endpointCount }, () => {
    const count = int();
    const firstSeenMs = int();
    const lastSeenMs = int();
    const listed = int();
    const members = values.slice(at, at + listed).map(String);
    at += listed;
    return { count, firstSeenMs, lastSeenMs, members };
  });
  const minWindow = windowsFrom(config);
  const hosts: MergedWindow[] = hostKeys.map((key, index) => {
    const count = int();
    const version = String(values[at++]);
    const full = int() === 1;
    const listed = int();
    const window = listed > 0 ? parseTimedSet(values.slice(at, at + 2 * listed)) : undefined;
    at += 2 * listed;
    const prediction = predictions[index];
    if (!full) {
      if (prediction && prediction.count === count) return { count, window: prediction.window, incremental: true };
      mirrors?.forget(key); // cannot happen while the copy is exact; never trust it further
      return { count, window: undefined, incremental: true };
    }
    const large = window && count >= minWindow ? window : undefined;
    return { count, window: mirrors ? mirrors.reseed(key, version, large) : large && new ParsedWindow(windowEntries(large), config), incremental: false };
  });
  return { endpoints, hosts };
}

/** [member, "ts:flags", …]: the value as the hash stores it, so the script adds it as it is. */
function flatAdditions(additions: readonly (readonly [string, Mark])[]): string[] {
  const out: string[] = [];
  for (const [member, mark] of additions) out.push(member, `${Math.round(mark.ts)}:${mark.flags}`);
  return out;
}

/** Peers to look for in windows: outside endpoints as endpointText names them, and bare IPs (whole-address blocks). */
export interface PeerTokens {
  endpoints: readonly string[];
  ips: readonly string[];
}

/** readWindows' answer for a window whose copy (of the version given) is exact: Redis holds that version. */
export const COPY_IS_EXACT = 'copy-is-exact';

/**
 * Host windows as they are now (members last seen from `cutoffMs` on). A window with fewer than
 * `minMembers` members, or, when `tokens` are given, one holding none of them, comes back
 * undefined. With `copyVersions` (per key, the version a copy here holds), a window Redis holds
 * at that version is not read: it comes back COPY_IS_EXACT.
 */
export async function readWindows(redis: Redis, keys: readonly string[], cutoffMs: number, minMembers: number, tokens?: PeerTokens, copyVersions?: readonly (string | undefined)[]): Promise<(TimedSet | undefined | typeof COPY_IS_EXACT)[]> {
  const calls: Promise<unknown>[] = [];
  const filter = tokens ? [tokens.endpoints.length, ...tokens.endpoints, ...tokens.ips] : [];
  for (let i = 0; i < keys.length; i += WINDOWS_PER_CALL) {
    const chunk = keys.slice(i, i + WINDOWS_PER_CALL);
    const versions = chunk.map((_, j) => copyVersions?.[i + j] ?? '');
    calls.push(commands(redis).p2pwallReadWindows(chunk.length, ...chunk, Math.round(cutoffMs), minMembers, ...versions, ...filter));
  }
  const out: (TimedSet | undefined | typeof COPY_IS_EXACT)[] = [];
  for (const reply of await Promise.all(calls)) {
    const values = Array.isArray(reply) ? (reply as (number | string)[]) : [];
    for (let at = 0; at < values.length; ) {
      const n = Number(values[at++]);
      if (n <= 0) {
        out.push(n === -1 ? COPY_IS_EXACT : undefined);
        continue;
      }
      out.push(parseTimedSet(values.slice(at, at + 2 * n)));
      at += 2 * n;
    }
  }
  return out;
}

/** [member, "ts:flags", …] → TimedSet. */
export function parseTimedSet(reply: unknown): TimedSet {
  const set: TimedSet = new Map();
  if (!Array.isArray(reply)) return set;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const value = String(reply[i + 1]);
    const sep = value.indexOf(':');
    set.set(String(reply[i]), { ts: Number(value.slice(0, sep)), flags: Number(value.slice(sep + 1)) });
  }
  return set;
}
