import { networksOverlap, parseCidr, type Network } from './cidr.js';

/**
 * Addresses no block may cover, one definition for the sensor (peers it learns) and the brain
 * (decisions it writes, whatever a sensor says). Pure checks over raw address bytes.
 */

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

/**
 * Networks only an organisation uses inside: RFC 1918 (10/8, 172.16/12, 192.168/16), shared
 * address space for carrier-grade NAT (100.64/10) and IPv6 unique-local addresses (fc00::/7).
 * The brain does not know each site's inside networks; no peer on the internet is in these.
 */
export function isPrivateAddress(buf: Uint8Array, offset: number, length: number): boolean {
  const a = buf[offset]!;
  if (length === 4) {
    const b = buf[offset + 1]!;
    return a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) || (a === 100 && (b & 0xc0) === 64);
  }
  return (a & 0xfe) === 0xfc;
}

/** Why an address can never be blocked as an outside peer, or undefined when it can be. */
export function unblockableAddressReason(address: Uint8Array): 'reserved' | 'inside' | undefined {
  if (address.length !== 4 && address.length !== 16) return 'reserved';
  if (isReservedAddress(address, 0, address.length)) return 'reserved';
  if (isPrivateAddress(address, 0, address.length)) return 'inside';
  return undefined;
}

/** The ranges isReservedAddress and isPrivateAddress test, as networks: what a network block may not overlap. */
const RESERVED_NETWORKS = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3', '::/96', '::ffff:0:0/96', 'fe80::/10', 'ff00::/8'];
const PRIVATE_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

const asNetworks = (texts: readonly string[]): Array<{ text: string; network: Network }> => texts.map((text) => ({ text, network: parseCidr(text) }));
const RESERVED = asNetworks(RESERVED_NETWORKS);
const PRIVATE = asNetworks(PRIVATE_NETWORKS);

/**
 * Why a network can never be blocked as outside peers, with the range it overlaps, or undefined
 * when it can be: the network counterpart of unblockableAddressReason (any address of it reserved
 * or inside is enough).
 */
export function unblockableNetworkReason(network: Network): { reason: 'reserved' | 'inside'; overlaps: string } | undefined {
  const reserved = RESERVED.find((range) => networksOverlap(range.network, network));
  if (reserved) return { reason: 'reserved', overlaps: reserved.text };
  const inside = PRIVATE.find((range) => networksOverlap(range.network, network));
  return inside && { reason: 'inside', overlaps: inside.text };
}
