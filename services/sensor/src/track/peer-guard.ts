import type { CidrSet } from '../decode/cidr.js';

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
