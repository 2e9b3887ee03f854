/**
 * Compact peer and node lists (BEP 5/7/23/32): 6 or 18 bytes a peer (address, port), 26 or 38
 * a node (20-byte id first). What they name becomes NamedPeers; the engine's guards (reserved,
 * inside, protected, allowlisted, ports below 1024, caps) decide what is learned.
 */
import { formatAddress } from '@p2pwall/common';
import type { NamedPeer } from '../module.js';
import { namedPeer, type PeerListSource } from '../named-peers.js';

export const COMPACT_PEER_V4 = 6;
export const COMPACT_PEER_V6 = 18;
export const NODE_ID_LENGTH = 20;

/**
 * Appends to `out` the entries of buf[start, end), each `entrySize` bytes with the address at
 * `addressAt` in it (0 for peers, 20 for nodes); stops at `source.max` entries in `out`. A list
 * whose length is not a whole number of entries is refused whole: it is not what a client sends.
 * Port 0 is never a listening peer.
 */
export function appendCompact(buf: Uint8Array, start: number, end: number, entrySize: number, addressAt: number, source: PeerListSource, out: NamedPeer[]): void {
  const length = end - start;
  if (length <= 0 || length % entrySize !== 0) return;
  const addressLength = entrySize - addressAt === COMPACT_PEER_V4 ? 4 : 16;
  for (let entry = start; entry < end && out.length < source.max; entry += entrySize) {
    const at = entry + addressAt;
    const port = (buf[at + addressLength]! << 8) | buf[at + addressLength + 1]!;
    if (port === 0) continue;
    out.push(namedPeer(formatAddress(buf, at, addressLength), port, source));
  }
}
