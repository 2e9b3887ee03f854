/**
 * Gnutella's name (one module for Gnutella 0.4/0.6 and Gnutella2), its rule ids, what each
 * source of peers may name, and how its evidence is shaped. Why each rule identifies or only
 * supports: README.md, "Gnutella".
 */
import { ruleId, type Transport } from '@p2pwall/common';
import type { Evidence, NamedPeer } from '../module.js';

export const GNUTELLA = 'gnutella';

const rule = (name: string): string => ruleId(GNUTELLA, name);

/** Every rule this module reports. */
export const GnutellaRule = {
  /** `GNUTELLA CONNECT/0.6` (or `/0.4`) opening a TCP stream. */
  handshake: rule('handshake'),
  /** `GNUTELLA/0.6 <3 digits>` (200, 503, …) or 0.4's `GNUTELLA OK` opening a TCP stream: the answer. */
  handshakeReply: rule('handshake-reply'),
  /** One Gnutella message in one datagram: the 23-byte header, its length = datagram − 23, a known type, sane TTL/hops. */
  udpMessage: rule('udp-message'),
  /** gtk-gnutella's Mojito DHT datagram: type 0x44, version 0.0, a printable vendor code at 24. */
  mojito: rule('mojito'),
  /** Gnutella2's `GND` UDP header (flags, part ≤ count), and the G2 packet after it (or its zlib header). */
  g2Udp: rule('g2-udp'),
  /** `GIV <index>:<32 hex GUID>/`: a firewalled servent answering a push. */
  giv: rule('giv'),
  /** A Gnutella download (`/uri-res/N2R?`, `/get/<n>/`, `/gnutella/…`) with a Gnutella-only header. */
  download: rule('download'),
  /** Supporting: the same request line without any Gnutella-only header. */
  downloadRequest: rule('download-request'),
} as const;
export type GnutellaRule = (typeof GnutellaRule)[keyof typeof GnutellaRule];

/** How a named peer was learned: the header or message that named it. */
export const GnutellaVia = {
  /** `X-Try-Ultrapeers:` and 0.6's `X-Try:` lists. */
  xTry: rule('x-try'),
  /** G2's `X-Try-Hubs:` list (`ip:port YYYY-MM-DDThh:mmZ`). */
  xTryHubs: rule('x-try-hubs'),
  /** `Listen-IP:`, `X-My-Address:`, `Node:` in an answer from outside: the answering servent's own address. */
  listenIp: rule('listen-ip'),
  /** A pong's address (port LE, IPv4 in network order). */
  pong: rule('pong'),
  /** A pong's GGEP `IPP` list (6 bytes an entry). */
  ggepIpp: rule('ggep-ipp'),
  /** A query hit's address. */
  queryHit: rule('query-hit'),
  /** A G2 `/KHL` known-hub list (`/NH`, `/CH` children). */
  g2Khl: rule('g2-khl'),
} as const;

/**
 * Peers taken from one message at most (the engine's per-flow and per-host caps come on top).
 * Handshakes carry 1–15 entries a list (median 6 on the shared capture) and at most two lists;
 * a pong's IPP holds ~10–25 entries (24 on the capture); a /KHL about 20 hubs.
 */
export const MAX_PEERS = {
  handshake: 40,
  pong: 32,
  khl: 32,
} as const;

/**
 * A Gnutella or G2 servent listens on one port for TCP (handshakes, downloads) and UDP (pings,
 * GUESS queries, G2 UDP) alike — the shared capture's client uses 28681 for both, and its UDP
 * peers answer from the ports its TCP connections went to — so what it learns is blocked for both.
 */
export const SERVENT_TRANSPORT: Transport = 'both';

export function evidence(rule: GnutellaRule, options: { detail?: string; peers?: readonly NamedPeer[] | null } = {}): Evidence {
  const out: { -readonly [K in keyof Evidence]: Evidence[K] } = { rule, supporting: rule === GnutellaRule.downloadRequest, transport: SERVENT_TRANSPORT };
  if (options.detail !== undefined) out.detail = options.detail;
  if (options.peers && options.peers.length > 0) out.peers = options.peers;
  return out;
}

/** Evidence made once: reporting it allocates nothing. */
export function constantEvidence(rule: GnutellaRule, detail?: string): Evidence {
  return Object.freeze(evidence(rule, detail === undefined ? {} : { detail }));
}
