import { p2pwall } from '@p2pwall/proto';
import type { Redis } from 'ioredis';
import type { BlocklistWriter } from '../blocklist/writer.js';
import { endpointKey, formatIp } from '../correlate/address.js';
import type { RulesConfig } from '../correlate/config.js';
import { evaluateHost, type IsBlocked } from '../correlate/rules.js';
import type { Allowlist } from '../decide/allowlist.js';
import type { BrainDecision } from '../decide/decision.js';
import { hostDecision } from '../decide/make.js';
import { RecentHosts, type RecentHost } from './recent-hosts.js';
import { readWindows, type PeerTokens } from './state.js';

/**
 * The host rules' second look, on every sweep. A host rule such as corr.blocked-peers must not
 * depend on which batch was processed first (two replicas, or concurrent messages, see them in
 * any order): a host whose flows arrived before the peers it reached were blocked is caught here.
 * Only peers blocked since the last look (the writer names them: its own writes, and what its
 * sweep read from other replicas) can change a verdict, so only the windows holding one of them
 * are read back, filtered in Redis; with none new, nothing is read.
 */

/** Hosts whose windows the second look reads at most (the first seen longest ago are forgotten first). */
const MAX_RECENT_HOSTS = 100_000;
/** New peer blocks named to Redis at most; beyond this (a replica's first sweep reads the whole blocklist) every window is read. */
const MAX_TOKENS = 2000;

/** The peer a decision blocks, as flows and window members name it: `ip:port` (endpointKey), or the bare IP of a whole-address block. */
export function peerToken(decision: BrainDecision): string | undefined {
  const ip = formatIp(decision.ip);
  if (ip === undefined) return undefined;
  return decision.scope === p2pwall.v1.Scope.SCOPE_ENDPOINT ? endpointKey(ip, decision.port) : ip;
}

function peerTokens(decisions: readonly BrainDecision[]): PeerTokens {
  const endpoints: string[] = [];
  const ips: string[] = [];
  for (const decision of decisions) {
    const token = peerToken(decision);
    if (token !== undefined) (decision.scope === p2pwall.v1.Scope.SCOPE_ENDPOINT ? endpoints : ips).push(token);
  }
  return { endpoints, ips };
}

export class SecondLook {
  /** Hosts with a live window large enough for corr.blocked-peers. */
  private readonly hosts = new RecentHosts(MAX_RECENT_HOSTS);

  constructor(
    private readonly redis: Redis,
    private readonly writer: BlocklistWriter,
    private readonly rules: RulesConfig,
    private readonly allowlist: Allowlist,
  ) {}

  /** A host (`site/ip`) merged into by this replica, whose window may be looked at again until `until` (see RecentHosts.remember). */
  remember(host: string, sensor: string, until: number, describe: () => Omit<RecentHost, 'sensor' | 'until'>): void {
    this.hosts.remember(host, sensor, until, describe);
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
    const windows = await readWindows(this.redis, hosts.map((h) => h.key), nowMs - config.host.windowSeconds * 1000, config.host.blockedPeers.minPeers, tokens);
    const isBlocked: IsBlocked = (endpoint, ip) => this.writer.isPeerBlocked(endpoint, ip, nowMs);
    const out: BrainDecision[] = [];
    hosts.forEach((host, index) => {
      const window = windows[index];
      if (!window) return;
      const decision = hostDecision(host, evaluateHost(window, isBlocked, config), { rules: this.rules, allowlist: this.allowlist, nowMs, sensor: host.sensor });
      if (decision) out.push(decision);
    });
    return out;
  }
}
