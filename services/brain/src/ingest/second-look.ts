import type { Redis } from 'ioredis';
import type { BlocklistWriter } from '../blocklist/writer.js';
import { blockedPeer } from '@p2pwall/common';
import { entriesAggregates, entriesBlockedTally, evaluateHost, type Finding, hostFindings, type IsBlocked, type RulesConfig, type WindowEntry } from '@p2pwall/common/correlate';
import type { Allowlist } from '../decide/allowlist.js';
import type { BrainDecision } from '../decide/decision.js';
import { hostDecision } from '../decide/make.js';
import { RecentHosts, type RecentHost } from './recent-hosts.js';
import { COPY_IS_EXACT, readWindows, type PeerTokens } from './state.js';
import type { WindowMirrors } from './window-mirror.js';

/**
 * The host rules' second look, on every sweep. A host rule such as correlate/blocked-peers must not
 * depend on which batch was processed first (two replicas, or concurrent messages, see them in
 * any order): a host whose flows arrived before the peers it reached were blocked is caught here.
 * Only peers blocked since the last look (the writer names them: its own writes, and what its
 * sweep read from other replicas) can change a verdict, so only the windows holding one of them
 * are read back, filtered in Redis; with none new, nothing is read. A window this replica holds
 * an exact copy of (Redis holds the copy's version) is not read but looked at in memory.
 */

/** Hosts whose windows the second look reads at most (the first seen longest ago are forgotten first). */
const MAX_RECENT_HOSTS = 100_000;
/** New peer blocks named to Redis at most; beyond this (a replica's first sweep reads the whole blocklist) every window is read. */
const MAX_TOKENS = 2000;

/**
 * The peers the blocks name, as window members name them (whatever the transport blocked: the
 * windows are filtered by these, and the rules then ask which flows each block covers).
 */
function peerTokens(decisions: readonly BrainDecision[]): PeerTokens {
  const endpoints: string[] = [];
  const ips: string[] = [];
  for (const decision of decisions) {
    const peer = blockedPeer(decision.id);
    if (peer) (peer.whole ? ips : endpoints).push(peer.token);
  }
  return { endpoints, ips };
}

/** Whether a window member is one of the peers named (the script's test: its endpoint, or its IP when bare IPs were named). */
function tokenTest(tokens: PeerTokens): (entry: WindowEntry) => boolean {
  const endpoints = new Set(tokens.endpoints);
  const ips = new Set(tokens.ips);
  return (entry) => endpoints.has(entry.endpoint) || ips.has(entry.ip);
}

export class SecondLook {
  /** Hosts with a live window large enough for correlate/blocked-peers. */
  private readonly hosts = new RecentHosts(MAX_RECENT_HOSTS);

  constructor(
    private readonly redis: Redis,
    private readonly writer: BlocklistWriter,
    private readonly rules: RulesConfig,
    private readonly allowlist: Allowlist,
    /** This replica's window copies: a window Redis holds as copied here is read from the copy. */
    private readonly mirrors: WindowMirrors,
  ) {}

  /** A host (`site/ip`) merged into by this replica, whose window may be looked at again until `until` (see RecentHosts.remember). */
  remember(host: string, sensor: string, until: number, window: Omit<RecentHost, 'sensor' | 'until'>): void {
    this.hosts.remember(host, sensor, until, window);
  }

  /** Host decisions the rules give now for the remembered hosts whose windows hold a newly blocked peer. */
  async decisions(nowMs: number): Promise<BrainDecision[]> {
    const fresh = this.writer.takeNewPeerBlocks();
    if (fresh.length === 0) return [];
    const hosts = this.hosts.live(nowMs);
    if (hosts.length === 0) return [];
    const tokens = fresh.length > MAX_TOKENS ? undefined : peerTokens(fresh);
    if (tokens && tokens.endpoints.length + tokens.ips.length === 0) return [];
    const config = this.rules.correlation;
    const cutoffMs = nowMs - config.host.windowSeconds * 1000;
    const keys = hosts.map((h) => h.key);
    const windows = await readWindows(this.redis, keys, cutoffMs, config.host.blockedPeers.minPeers, tokens, keys.map((key) => this.mirrors.version(key)));
    const isBlocked: IsBlocked = (endpoint, ip, transport) => this.writer.isPeerBlocked(endpoint, ip, transport, nowMs);
    const holdsToken = tokens && tokenTest(tokens);
    const out: BrainDecision[] = [];
    hosts.forEach((host, index) => {
      const window = windows[index];
      const findings = window === COPY_IS_EXACT ? this.fromCopy(host.key, cutoffMs, holdsToken, isBlocked) : window && evaluateHost(window, isBlocked, config);
      if (!findings) return;
      const decision = hostDecision(host, findings, { rules: this.rules, allowlist: this.allowlist, nowMs, sensor: host.sensor });
      if (decision) out.push(decision);
    });
    return out;
  }

  /** The host rules on this replica's exact copy of a window: what the script's read would have given, without reading it. */
  private fromCopy(key: string, cutoffMs: number, holdsToken: ((entry: WindowEntry) => boolean) | undefined, isBlocked: IsBlocked): Finding[] | undefined {
    const config = this.rules.correlation;
    const live = this.mirrors.live(key, cutoffMs);
    if (!live || live.count < config.host.blockedPeers.minPeers) return undefined;
    if (holdsToken && !live.entries.some(holdsToken)) return undefined;
    return hostFindings(entriesAggregates(live.entries, config), entriesBlockedTally(live.entries, isBlocked), config);
  }
}
