import { formatAddress, parseAddress } from './address.js';

export const DEFAULT_INSIDE_NETWORKS: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  'fd00::/8',
];

export class CidrError extends Error {}

interface Ipv6Network {
  bytes: Uint8Array;
  prefix: number;
}

/**
 * A set of networks answering "is this address inside?" on the per-packet path: IPv4 as
 * (network, mask) integer pairs, IPv6 as prefix byte compares.
 */
export class CidrSet {
  private readonly v4Networks: Uint32Array;
  private readonly v4Masks: Uint32Array;
  private readonly v6: Ipv6Network[] = [];
  readonly text: readonly string[];

  constructor(cidrs: readonly string[]) {
    const networks: number[] = [];
    const masks: number[] = [];
    for (const cidr of cidrs) {
      const { bytes, prefix } = parseCidr(cidr);
      if (bytes.length === 4) {
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const value = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
        networks.push((value & mask) >>> 0);
        masks.push(mask);
      } else {
        this.v6.push({ bytes, prefix });
      }
    }
    this.v4Networks = Uint32Array.from(networks);
    this.v4Masks = Uint32Array.from(masks);
    this.text = [...cidrs];
  }

  /** `length` is 4 or 16: the address bytes start at `offset` in `buf`. */
  contains(buf: Uint8Array, offset: number, length: number): boolean {
    if (length === 4) {
      const value = ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
      for (let i = 0; i < this.v4Masks.length; i++) {
        if (((value & this.v4Masks[i]!) >>> 0) === this.v4Networks[i]) return true;
      }
      return false;
    }
    for (const network of this.v6) {
      if (prefixMatches(buf, offset, network)) return true;
    }
    return false;
  }

  containsBytes(bytes: Uint8Array): boolean {
    return this.contains(bytes, 0, bytes.length);
  }
}

function prefixMatches(buf: Uint8Array, offset: number, network: Ipv6Network): boolean {
  const fullBytes = network.prefix >> 3;
  for (let i = 0; i < fullBytes; i++) {
    if (buf[offset + i] !== network.bytes[i]) return false;
  }
  const remainingBits = network.prefix & 7;
  if (remainingBits === 0) return true;
  const mask = (0xff << (8 - remainingBits)) & 0xff;
  return (buf[offset + fullBytes]! & mask) === (network.bytes[fullBytes]! & mask);
}

/**
 * A network that must say its prefix length: `192.168.1.0` alone reads as a single host (/32),
 * which for an inside network is almost always a slip for /24, so it is refused with both readings.
 */
export function parseNetwork(cidr: string): { bytes: Uint8Array; prefix: number } {
  const parsed = parseCidr(cidr);
  if (!cidr.includes('/')) {
    throw new CidrError(`"${cidr}" has no prefix length: write the network with one, e.g. ${cidr}/${parsed.bytes.length === 4 ? 24 : 64} (a single host is ${cidr}/${parsed.bytes.length * 8})`);
  }
  return parsed;
}

export function parseCidr(cidr: string): { bytes: Uint8Array; prefix: number } {
  const slash = cidr.indexOf('/');
  const addressText = slash >= 0 ? cidr.slice(0, slash) : cidr;
  const bytes = parseAddress(addressText);
  if (!bytes) throw new CidrError(`"${cidr}" is not an IPv4 or IPv6 network (expected for example 192.168.0.0/16 or fd00::/8)`);
  const maxPrefix = bytes.length * 8;
  const prefixText = slash >= 0 ? cidr.slice(slash + 1) : String(maxPrefix);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= maxPrefix)) {
    throw new CidrError(`"${cidr}" has an invalid prefix length (0 to ${maxPrefix})`);
  }
  return { bytes, prefix };
}

// ---------------------------------------------------------------------------------------------
// Networks as decisions name them (the brain writes them, sensors read them: one definition)

/** An outside network a decision is about: its first address (host bits zero) and prefix length. */
export interface Network {
  bytes: Uint8Array;
  prefix: number;
}

/** `bytes` with every bit past `prefix` cleared (a copy). */
export function networkAddress(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7)) & 0xff;
  return out;
}

/** `198.51.100.0/24`, `2001:db8::/32`: how ids, views, the CLI and ipset write a network. */
export function networkText(bytes: Uint8Array, prefix: number): string {
  return `${formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16)}/${prefix}`;
}

/**
 * An operator's network: the prefix length must be written, and the host bits must be zero —
 * `198.51.100.7/24` is refused naming `198.51.100.0/24`, since the operator may have meant the
 * single address as well as the network, and blocking 256 addresses by a slip is not undone quietly.
 * A port (`198.51.100.0/24:1214`) is refused by name: a network block holds for every port.
 */
export function parseOutsideNetwork(text: string): Network {
  if (/\/\d+:\d+$/.test(text.trim())) throw new CidrError(`"${text.trim()}": a network block holds for every port; a port cannot go with a network (block ip:port endpoints one by one)`);
  const { bytes, prefix } = parseNetwork(text.trim());
  const network = networkAddress(bytes, prefix);
  if (!network.every((byte, i) => byte === bytes[i])) {
    throw new CidrError(`"${text}" has host bits set: did you mean ${networkText(network, prefix)}? (a single address is blocked without a prefix length)`);
  }
  return { bytes: network, prefix };
}

/** An operator's network (parseOutsideNetwork) as networkText writes it: `2001:DB8::/32` → `2001:db8::/32`. */
export function outsideNetworkText(text: string): string {
  const { bytes, prefix } = parseOutsideNetwork(text);
  return networkText(bytes, prefix);
}

/** Whether two networks (of either family) share any address: same family, and one holds the other's first address. */
export function networksOverlap(a: Network, b: Network): boolean {
  if (a.bytes.length !== b.bytes.length) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  return networkAddress(a.bytes, shorter).every((byte, i) => byte === networkAddress(b.bytes, shorter)[i]);
}
