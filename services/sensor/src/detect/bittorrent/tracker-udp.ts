/**
 * The UDP tracker (BEP 15). The client's connect request is 16 bytes that begin with the 64-bit
 * magic 0x41727101980 and action 0: strong alone. Its announce (98 bytes and BEP 41 options)
 * carries action 1 and a transaction id; the reply to it — action 1, the same transaction id,
 * then 6-byte (IPv4) or 18-byte (IPv6) peers — is read only on a flow where the inside host sent
 * that announce, and only when its transaction id is the one the host chose.
 */
import type { NamedPeer } from '../module.js';
import { COMPACT_PEER_V4, COMPACT_PEER_V6, appendCompact } from './compact.js';
import type { PeerListSource } from '../named-peers.js';
import { BitTorrentVia, MAX_PEERS, SWARM_TRANSPORT } from './rules.js';

const CONNECT_LENGTH = 16;
const ANNOUNCE_LENGTH = 98;
/** BEP 41 options after the announce: a URL path of up to 255 bytes in a few option records. */
const MAX_ANNOUNCE_LENGTH = ANNOUNCE_LENGTH + 300;
const REPLY_HEADER = 20;
const ACTION_CONNECT = 0;
const ACTION_ANNOUNCE = 1;

const UDP_TRACKER: PeerListSource = { via: BitTorrentVia.udpTracker, transport: SWARM_TRANSPORT, max: MAX_PEERS.udpTracker };

function uint32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

/** `00 00 04 17 27 10 19 80 | 00 00 00 00 | txid`: the connect request. */
export function isConnectRequest(buf: Uint8Array, p: number, length: number): boolean {
  return (
    length === CONNECT_LENGTH &&
    buf[p] === 0x00 &&
    buf[p + 1] === 0x00 &&
    buf[p + 2] === 0x04 &&
    buf[p + 3] === 0x17 &&
    buf[p + 4] === 0x27 &&
    buf[p + 5] === 0x10 &&
    buf[p + 6] === 0x19 &&
    buf[p + 7] === 0x80 &&
    uint32(buf, p + 8) === ACTION_CONNECT
  );
}

/**
 * The announce request's transaction id, or -1: 98+ bytes, action 1 at 8, an event 0-3 at 80, a
 * BEP 41 option chain (if any) that starts with a known option type.
 */
export function announceTransaction(buf: Uint8Array, p: number, length: number): number {
  if (length < ANNOUNCE_LENGTH || length > MAX_ANNOUNCE_LENGTH) return -1;
  if (uint32(buf, p + 8) !== ACTION_ANNOUNCE || uint32(buf, p + 80) > 3) return -1;
  if (length > ANNOUNCE_LENGTH && buf[p + ANNOUNCE_LENGTH]! > 2) return -1;
  return uint32(buf, p + 12);
}

/** Whether buf[p, p + length) is the connect reply to `transaction` (action 0, 16 bytes). */
export function isConnectReply(buf: Uint8Array, p: number, length: number, transaction: number): boolean {
  return length === CONNECT_LENGTH && uint32(buf, p) === ACTION_CONNECT && uint32(buf, p + 4) === transaction;
}

/**
 * The peers of the announce reply to `transaction` in buf[p, p + length), or null when it is
 * not one. `ipv6`: the flow's family, which is the peers' (BEP 15: a tracker answers in kind).
 */
export function announceReplyPeers(buf: Uint8Array, p: number, length: number, transaction: number, ipv6: boolean): NamedPeer[] | null {
  if (length < REPLY_HEADER || uint32(buf, p) !== ACTION_ANNOUNCE || uint32(buf, p + 4) !== transaction) return null;
  const entry = ipv6 ? COMPACT_PEER_V6 : COMPACT_PEER_V4;
  if ((length - REPLY_HEADER) % entry !== 0) return null;
  const peers: NamedPeer[] = [];
  appendCompact(buf, p + REPLY_HEADER, p + length, entry, 0, UDP_TRACKER, peers);
  return peers;
}

/** The connect request's transaction id (call after isConnectRequest). */
export function connectTransaction(buf: Uint8Array, p: number): number {
  return uint32(buf, p + 12);
}
