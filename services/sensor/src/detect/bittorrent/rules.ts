/**
 * BitTorrent's name, its rule ids, how long what each source names stays learned, and how its
 * evidence is shaped. Why each limit is what it is: README.md, "BitTorrent".
 */
import { ruleId, type Transport } from '@p2pwall/common';
import type { Evidence, NamedPeer } from '../module.js';

export const BITTORRENT = 'bittorrent';

const rule = (name: string): string => ruleId(BITTORRENT, name);

/** Every rule this module reports. */
export const BitTorrentRule = {
  /** `0x13 BitTorrent protocol` + reserved + info_hash + peer_id (BEP 3), also split after its first byte. */
  handshake: rule('handshake'),
  /** A peer-wire request message (`00 00 00 0d 06`, 16 KiB block), as ipp2p catches BitComet mid-stream. */
  pieceRequest: rule('piece-request'),
  /** A segment of whole peer-wire messages only (e.g. PORT and an extended message): a flow picked up mid-stream. */
  peerMessages: rule('peer-messages'),
  /** BEP 10 extension handshake or ut_pex message. */
  extension: rule('extension'),
  /** uTP (BEP 29): a SYN answered by STATE and followed by the initiator, or a SYN the inside host answered. */
  utp: rule('utp'),
  /** uTP mid-stream: both ends' strict headers with connection ids one apart. */
  utpStream: rule('utp-stream'),
  dhtQuery: rule('dht-query'),
  dhtReply: rule('dht-reply'),
  trackerAnnounce: rule('tracker-announce'),
  trackerReply: rule('tracker-reply'),
  udpTrackerConnect: rule('udp-tracker-connect'),
  udpTrackerAnnounce: rule('udp-tracker-announce'),
  udpTrackerReply: rule('udp-tracker-reply'),
  /** BEP 14 `BT-SEARCH` to the LSD multicast group. */
  lsd: rule('lsd'),
  /** Supporting: a high-entropy first payload of 96-608 bytes (MSE/PE's Ya + PadA) to a learned peer. */
  mseOpening: rule('mse-opening'),
} as const;
export type BitTorrentRule = (typeof BitTorrentRule)[keyof typeof BitTorrentRule];

/** How a named peer was learned: the source that named it. */
export const BitTorrentVia = {
  dhtValues: rule('dht-values'),
  dhtNodes: rule('dht-nodes'),
  tracker: rule('tracker'),
  udpTracker: rule('udp-tracker'),
  pex: rule('pex'),
} as const;

const MINUTE_MS = 60_000;

/**
 * Lifetimes shorter than the engine's peer TTL, by source. DHT contacts are unauthenticated and
 * churn (BEP 5 nodes go "questionable" after 15 minutes), so they last 20 minutes unless named
 * or contacted again — the vel21ripn nDPI fork's 1200 s; a DHT node the host itself queried
 * lasts as long. Swarm members (tracker, PEX, DHT values, a peer-wire connection) keep the
 * engine's TTL.
 */
export const DHT_CONTACT_TTL_MS = 20 * MINUTE_MS;

/**
 * Peers learned from one reply at most, by source (the engine's per-flow and per-host caps come
 * on top). Trackers give ~50 and clients ask up to 200; a DHT reply carries K = 8 nodes per
 * family; `values` stay under ~100 in one datagram; PEX sends at most 50 after its first message.
 */
export const MAX_PEERS = {
  tracker: 200,
  udpTracker: 200,
  dhtNodes: 16,
  dhtValues: 100,
  pex: 100,
} as const;

/** A BitTorrent listen port speaks TCP and uTP alike: swarm members are blocked for both. */
export const SWARM_TRANSPORT: Transport = 'both';

export function evidence(rule: BitTorrentRule, transport: Transport, options: { detail?: string; peers?: readonly NamedPeer[] | null; outsideEndIsPeer?: boolean; ttlMs?: number } = {}): Evidence {
  const out: { -readonly [K in keyof Evidence]: Evidence[K] } = { rule, supporting: false, transport };
  if (options.detail !== undefined) out.detail = options.detail;
  if (options.peers && options.peers.length > 0) out.peers = options.peers;
  if (options.outsideEndIsPeer === false) out.outsideEndIsPeer = false;
  if (options.ttlMs !== undefined) out.ttlMs = options.ttlMs;
  return out;
}

/** Constant evidence, made once: reporting it allocates nothing. */
export function constantEvidence(rule: BitTorrentRule, transport: Transport, supporting = false): Evidence {
  return Object.freeze({ rule, supporting, transport });
}
