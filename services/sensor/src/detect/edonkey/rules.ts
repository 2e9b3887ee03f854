/**
 * eDonkey's name (one module for eDonkey 2000, eMule's extensions and Kad), its rule ids, what
 * each source of peers may name, and how its evidence is shaped. Why each rule identifies or only
 * supports: README.md, "eDonkey, eMule and Kad".
 */
import { ruleId, type Transport } from '@p2pwall/common';
import type { Evidence, NamedPeer } from '../module.js';

export const EDONKEY = 'edonkey';

const rule = (name: string): string => ruleId(EDONKEY, name);

/** Every rule this module reports. */
export const EdonkeyRule = {
  /** TCP Hello `E3 … 01` with its `10` hash length and 16-byte user hash, or the Hello answer `4C`. */
  hello: rule('hello'),
  /** TCP client→server login `E3 … 01` (user hash, client ID, port, tag count; no `10`). */
  serverLogin: rule('server-login'),
  /** Any other TCP eDonkey/eMule message: marker, a length that ends where the stream says, a known opcode. */
  tcpMessage: rule('tcp-message'),
  /** A Kad2 datagram whose structure checks: Hello (tags walked to the end), REQ (35 bytes), RES and BOOTSTRAP_RES (count × 25). */
  kad: rule('kad'),
  /** A zlib-packed Kad2 datagram `E5`: a Kad2 opcode that is packed in practice, then a zlib header. */
  kadPacked: rule('kad-packed'),
  /** An eDonkey server UDP answer whose count matches its length: server list `A1`, found sources `9B`. */
  udpServer: rule('udp-server'),
  /** Supporting: a datagram eDonkey or Kad sends whose only check is its fixed size (Kad PING `E4 60` is 2 bytes). */
  udpFixedSize: rule('udp-fixed-size'),
} as const;
export type EdonkeyRule = (typeof EdonkeyRule)[keyof typeof EdonkeyRule];

/** How a named peer was learned. */
export const EdonkeyVia = {
  /** A server list (`E3 … 32` over TCP, `E3 A1` over UDP): servers, learned for TCP. */
  serverList: rule('server-list'),
  /** Found sources (`E3 … 42` over TCP, `E3 9B` over UDP): HighID clients, learned for TCP. */
  foundSources: rule('found-sources'),
  /** A Kad contact (KADEMLIA2_RES, BOOTSTRAP_RES): its UDP port for UDP, its TCP port for TCP. */
  kadContact: rule('kad-contact'),
} as const;

/**
 * Entries taken from one message at most (the engine's per-flow and per-host caps come on top):
 * KADEMLIA2_RES holds at most 32 contacts (aMule sends up to 11, BOOTSTRAP_RES up to 20), each
 * learned twice (UDP and TCP); server lists and found sources are capped where a real answer fits.
 */
export const MAX_PEERS = {
  kadContacts: 32,
  serverList: 64,
  foundSources: 64,
} as const;

/**
 * A Kad contact is one node of a DHT routing table, stale within the hour: it is learned for 20
 * minutes unless seen again, like BitTorrent's DHT nodes.
 */
export const KAD_CONTACT_TTL_MS = 20 * 60_000;

export function evidence(rule: EdonkeyRule, transport: Transport, options: { detail?: string; peers?: readonly NamedPeer[] | null } = {}): Evidence {
  const out: { -readonly [K in keyof Evidence]: Evidence[K] } = { rule, supporting: rule === EdonkeyRule.udpFixedSize, transport };
  if (options.detail !== undefined) out.detail = options.detail;
  if (options.peers && options.peers.length > 0) out.peers = options.peers;
  return out;
}

/** Evidence made once: reporting it allocates nothing. */
export function constantEvidence(rule: EdonkeyRule, transport: Transport, detail?: string): Evidence {
  return Object.freeze(evidence(rule, transport, detail === undefined ? {} : { detail }));
}
