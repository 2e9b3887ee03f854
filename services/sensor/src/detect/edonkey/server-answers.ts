/**
 * Peer lists an eDonkey server hands out, over TCP and UDP alike (families.md §2.3):
 *
 *   server list:   count(1) | count × (IPv4(4, network order) | TCP port(2, LE))
 *   found sources: file hash(16) | count(1) | count × (client ID(4) | TCP port(2, LE))
 *
 * A client ID of 2^24 or more (its last byte on the wire non-zero) is the client's IPv4 address
 * (a HighID); a smaller one is a LowID, a handle on the server, and no address. A list whose
 * length does not match its count is refused whole.
 */
import { formatAddress } from '@p2pwall/common';
import { namedPeer, type PeerListSource } from '../named-peers.js';
import type { NamedPeer } from '../module.js';
import { EdonkeyVia, MAX_PEERS } from './rules.js';
import { u16le } from './tcp-frame.js';

const ENTRY = 6;
export const HASH_LENGTH = 16;

const SERVERS: PeerListSource = { via: EdonkeyVia.serverList, transport: 'tcp', max: MAX_PEERS.serverList };
const SOURCES: PeerListSource = { via: EdonkeyVia.foundSources, transport: 'tcp', max: MAX_PEERS.foundSources };

/** Whether buf[at, end) is a count byte and exactly that many 6-byte entries. */
export function isCountedList(buf: Uint8Array, at: number, end: number): boolean {
  return end > at && end - at - 1 === buf[at]! * ENTRY;
}

/** Servers of a server list body at buf[at, end), or null when its length does not match. */
export function serverListPeers(buf: Uint8Array, at: number, end: number): NamedPeer[] | null {
  if (!isCountedList(buf, at, end)) return null;
  const out: NamedPeer[] = [];
  for (let entry = at + 1; entry < end && out.length < SERVERS.max; entry += ENTRY) {
    const port = u16le(buf, entry + 4);
    if (port !== 0) out.push(namedPeer(formatAddress(buf, entry, 4), port, SERVERS));
  }
  return out;
}

/** HighID sources of a found-sources body at buf[at, end), or null when its length does not match. */
export function foundSourcesPeers(buf: Uint8Array, at: number, end: number): NamedPeer[] | null {
  if (!isCountedList(buf, at + HASH_LENGTH, end)) return null;
  const out: NamedPeer[] = [];
  for (let entry = at + HASH_LENGTH + 1; entry < end && out.length < SOURCES.max; entry += ENTRY) {
    const port = u16le(buf, entry + 4);
    if (buf[entry + 3] !== 0 && port !== 0) out.push(namedPeer(formatAddress(buf, entry, 4), port, SOURCES));
  }
  return out;
}
