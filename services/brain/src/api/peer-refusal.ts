import { networksOverlap, networkText, parseCidr, unblockableAddressReason, unblockableNetworkReason, type Network } from '@p2pwall/common';
import type { Target } from './target.js';

/**
 * Why a manual peer block (endpoint, address or network) must not be written (pure): the same
 * rules for a single address and for a network, so `--force` means the same for both.
 * - reserved ranges (loopback, multicast, ...): never, forced or not;
 * - inside ranges (private, and the brain's insideNetworks): only when forced, since the block
 *   cuts every site's hosts off from them; a host lock is the way to stop an inside host;
 * - a network wider than api.minNetworkPrefixLength: never (a typo of /8 for /28 would cut off
 *   millions of addresses; the limit is configuration, not a per-request choice).
 * Host locks are not peers: undefined.
 */

export interface PeerLimits {
  /** The brain's insideNetworks (CIDR texts, checked at start). */
  insideNetworks: readonly string[];
  /** The widest network block allowed, per family. */
  minNetworkPrefixLength: { ipv4: number; ipv6: number };
}

export type PeerRefusal = { status: 400 | 409; message: string };

const RESERVED_MEANING = 'reserved (loopback, link-local, multicast, broadcast or unspecified)';
const FORCE_HINT = 'To stop an inside host, lock it at its site (scope host with site); to block it as a peer anyway, send force: true (CLI: --force)';

function insideNetworkOverlapping(target: Network, insideNetworks: readonly string[]): string | undefined {
  return insideNetworks.find((cidr) => networksOverlap(parseCidr(cidr), target));
}

function networkRefusal(target: Target, force: boolean, limits: PeerLimits): PeerRefusal | undefined {
  const network: Network = { bytes: target.bytes, prefix: target.prefix };
  const text = networkText(network.bytes, network.prefix);
  const ipv4 = network.bytes.length === 4;
  const widest = ipv4 ? limits.minNetworkPrefixLength.ipv4 : limits.minNetworkPrefixLength.ipv6;
  if (network.prefix < widest) {
    return { status: 400, message: `${text} is wider than the brain allows for ${ipv4 ? 'IPv4' : 'IPv6'} network blocks (/${widest} at most: api.minNetworkPrefixLength.${ipv4 ? 'ipv4' : 'ipv6'}); block smaller networks` };
  }
  const unblockable = unblockableNetworkReason(network);
  if (unblockable?.reason === 'reserved') return { status: 409, message: `${text} overlaps ${unblockable.overlaps}, which is ${RESERVED_MEANING}: no peer is there` };
  const inside = unblockable?.overlaps ?? insideNetworkOverlapping(network, limits.insideNetworks);
  if (inside !== undefined && !force) {
    return { status: 409, message: `${text} overlaps the inside network ${inside}: a peer block of it cuts every site's hosts off from those addresses. ${FORCE_HINT}` };
  }
  return undefined;
}

export function peerTargetRefusal(target: Target, force: boolean, limits: PeerLimits): PeerRefusal | undefined {
  if (target.scope === 'host') return undefined;
  if (target.scope === 'network') return networkRefusal(target, force, limits);
  const reason = unblockableAddressReason(target.bytes);
  if (reason === 'reserved') return { status: 409, message: `${target.ip} is a reserved address (loopback, link-local, multicast, broadcast or unspecified): it is never a peer` };
  const insideNetwork = reason === 'inside' ? undefined : insideNetworkOverlapping({ bytes: target.bytes, prefix: target.bytes.length * 8 }, limits.insideNetworks);
  if (reason === 'inside' && !force) return { status: 409, message: `${target.ip} is an inside (private-range) address: a peer block of it cuts every site's hosts off from it. ${FORCE_HINT}` };
  if (insideNetwork !== undefined && !force) return { status: 409, message: `${target.ip} is in the inside network ${insideNetwork} (insideNetworks): a peer block of it cuts every site's hosts off from it. ${FORCE_HINT}` };
  return undefined;
}
