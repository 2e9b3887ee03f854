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

/**
 * Addresses that are never a peer: IPv4 0/8, 127/8, 169.254/16, 224/4 and 240/4 (with
 * 255.255.255.255); IPv6 ::, ::1, IPv4-mapped and -compatible (::/96, ::ffff:0:0/96: a payload
 * naming one hides an IPv4 address), fe80::/10 and ff00::/8. Documentation and benchmark ranges
 * are left alone: the lab's internet lives there.
 */
export function isReservedAddress(buf: Uint8Array, offset: number, length: number): boolean {
  if (length === 4) {
    const a = buf[offset]!;
    return a === 0 || a === 127 || a >= 224 || (a === 169 && buf[offset + 1] === 254);
  }
  const first = buf[offset]!;
  if (first === 0xff || (first === 0xfe && (buf[offset + 1]! & 0xc0) === 0x80)) return true;
  for (let i = 0; i < 10; i++) if (buf[offset + i] !== 0) return false;
  const mapped = buf[offset + 10] === 0xff && buf[offset + 11] === 0xff;
  return mapped || (buf[offset + 10] === 0 && buf[offset + 11] === 0);
}

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
