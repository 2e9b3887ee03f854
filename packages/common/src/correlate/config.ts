/** Thresholds and windows of the correlation rules (brain.yaml `correlation`, `expiry`, `allowlist`). */
export interface CorrelationConfig {
  /** Peer-cache fan-out: an outside endpoint reached with P2P evidence by this many distinct inside hosts (site/ip). */
  fanout: { minHosts: number; windowSeconds: number; highPortMin: number };
  /** Payload-free host rules over a sliding window of the endpoints a host reached. */
  host: {
    windowSeconds: number;
    /** Endpoints remembered per host and window (a bound on state, not a rule). */
    maxEntries: number;
    udpFanout: { minEndpoints: number; unansweredRatio: number; highPortMin: number };
    tcpUdpPairs: { minIps: number; excludePorts: number[] };
    blockedPeers: { minPeers: number };
  };
  /** How many hosts/sensors a decision lists as evidence (count always holds the full number). */
  evidenceMaxItems: number;
}

/** Inside hosts an endpoint's fan-out set holds at most (a bound on state; the rule needs fanout.minHosts). */
export const MAX_ENDPOINT_HOSTS = 100_000;

export interface ExpiryConfig {
  signature: { peerSeconds: number; hostSeconds: number };
  correlation: { peerSeconds: number; hostSeconds: number };
}

export interface AllowlistConfig {
  /** Inside hosts never locked: CIDR, or `site/CIDR` for one site only. */
  hosts: string[];
  /** Outside addresses never blocked: CIDR, `ip:port` or `[v6]:port`. */
  endpoints: string[];
}

export interface RulesConfig {
  correlation: CorrelationConfig;
  expiry: ExpiryConfig;
  allowlist: AllowlistConfig;
}

export const DEFAULT_RULES: RulesConfig = {
  correlation: {
    fanout: { minHosts: 2, windowSeconds: 3600, highPortMin: 1024 },
    host: {
      windowSeconds: 60,
      maxEntries: 4096,
      udpFanout: { minEndpoints: 50, unansweredRatio: 0.7, highPortMin: 1024 },
      tcpUdpPairs: { minIps: 5, excludePorts: [53, 123, 137, 138, 139, 443, 445] },
      blockedPeers: { minPeers: 3 },
    },
    evidenceMaxItems: 32,
  },
  expiry: {
    signature: { peerSeconds: 7 * 86_400, hostSeconds: 120 },
    correlation: { peerSeconds: 86_400, hostSeconds: 120 },
  },
  allowlist: { hosts: [], endpoints: [] },
};
