import { isReservedAddress } from '@p2pwall/common';
import type { CidrSet } from '../decode/cidr.js';
import { formatAddressKey } from '../decode/address.js';
import type { NamedPeer } from '../detect/module.js';
import type { Flow } from './flow.js';
import type { InsideHost } from './hosts.js';

/**
 * What an outside endpoint must pass before the engine learns it as a peer, whatever a protocol
 * module says: a peer is blocked at every gateway for days, so an address that could only have
 * come from a mistake or an attacker's payload is refused here, once, for every protocol.
 */
export const PeerRefusal = {
  /** Unspecified, loopback, link-local, multicast, broadcast or reserved: never a peer on the internet. */
  reserved: 'reserved',
  /** One of the organisation's own networks. */
  inside: 'inside',
  /** Configured infrastructure (`protect:`): resolvers, proxies, servers. */
  protected: 'protected',
  /** An operator's allow entry covers it. */
  allowlisted: 'allowlisted',
  /** Named in a payload on a port below 1024, without a reason the module gives. */
  lowPort: 'low-port',
} as const;
export type PeerRefusal = (typeof PeerRefusal)[keyof typeof PeerRefusal];

/** One definition for the sensor and the brain (@p2pwall/common). */
export { isReservedAddress };

/** The address checks, without the port rule and the allow entries (see PeerGuard). */
export function addressRefusal(buf: Uint8Array, offset: number, length: number, inside: CidrSet, protect: CidrSet): PeerRefusal | null {
  if (isReservedAddress(buf, offset, length)) return PeerRefusal.reserved;
  if (inside.contains(buf, offset, length)) return PeerRefusal.inside;
  if (protect.contains(buf, offset, length)) return PeerRefusal.protected;
  return null;
}

/** Allow entries for outside endpoints (an operator's word through the shared blocklist), by `ip port`; port 0 covers the address. */
export class AllowedPeers {
  private readonly until = new Map<string, number>();

  get size(): number {
    return this.until.size;
  }

  allow(ip: string, port: number, untilMs: number): void {
    this.until.set(`${ip} ${port}`, untilMs);
  }

  disallow(ip: string, port: number): boolean {
    return this.until.delete(`${ip} ${port}`);
  }

  covers(ip: string, port: number, now: number): boolean {
    if (this.until.size === 0) return false;
    return this.live(`${ip} ${port}`, now) || (port !== 0 && this.live(`${ip} 0`, now));
  }

  private live(key: string, now: number): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(key);
    return false;
  }
}

const MINUTE_MS = 60_000;

/** Where admissions are counted (the engine's counters). */
export interface AdmissionCounters {
  peersRefusedReserved: number;
  peersRefusedInside: number;
  peersRefusedProtected: number;
  peersRefusedAllowlisted: number;
  peersRefusedLowPort: number;
  peersCappedFlow: number;
  peersCappedHost: number;
}

export interface AdmissionLimits {
  inside: CidrSet;
  protect: CidrSet;
  maxPeersPerFlow: number;
  maxPeersPerHostPerMinute: number;
}

/**
 * The guards every peer passes before it is learned, then the caps: per flow, and per inside host
 * per minute. Every refusal is counted by its reason.
 */
export class PeerAdmission {
  /** Outside endpoints an operator allowed (the shared blocklist's allow entries). */
  readonly allowed = new AllowedPeers();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly counters: AdmissionCounters,
  ) {}

  /**
   * Whether the peer at buf[offset, offset + length) (address key `key`) on `port` may be learned
   * from `flow`'s evidence; `named`: it was named in a payload rather than contacted.
   */
  admit(buf: Uint8Array, offset: number, length: 4 | 16, key: string, port: number, named: NamedPeer | null, flow: Flow, host: InsideHost, now: number): boolean {
    let refusal = addressRefusal(buf, offset, length, this.limits.inside, this.limits.protect);
    if (refusal === null && named !== null && named.port < 1024 && named.lowPortReason === undefined) refusal = PeerRefusal.lowPort;
    if (refusal === null && this.allowed.size > 0 && this.allowed.covers(formatAddressKey(key), port, now)) refusal = PeerRefusal.allowlisted;
    if (refusal !== null) {
      this.countRefusal(refusal);
      return false;
    }
    if (flow.peersLearned >= this.limits.maxPeersPerFlow) {
      this.counters.peersCappedFlow++;
      return false;
    }
    if (now - host.peerMinuteStart >= MINUTE_MS) {
      host.peerMinuteStart = now;
      host.peersThisMinute = 0;
    }
    if (host.peersThisMinute >= this.limits.maxPeersPerHostPerMinute) {
      this.counters.peersCappedHost++;
      return false;
    }
    return true;
  }

  /** Counts a peer admitted and learned anew against the caps (refreshes of known peers do not count). */
  learned(flow: Flow, host: InsideHost): void {
    flow.peersLearned++;
    host.peersThisMinute++;
  }

  private countRefusal(refusal: PeerRefusal): void {
    const counters = this.counters;
    if (refusal === PeerRefusal.reserved) counters.peersRefusedReserved++;
    else if (refusal === PeerRefusal.inside) counters.peersRefusedInside++;
    else if (refusal === PeerRefusal.protected) counters.peersRefusedProtected++;
    else if (refusal === PeerRefusal.allowlisted) counters.peersRefusedAllowlisted++;
    else counters.peersRefusedLowPort++;
  }
}
