/**
 * Soulseek's name, its rule ids, what each server answer may name, and how its evidence is
 * shaped. Why each rule identifies or only supports: README.md, "Soulseek".
 */
import { ruleId } from '@p2pwall/common';
import type { Evidence, NamedPeer } from '../module.js';

export const SOULSEEK = 'soulseek';

const rule = (name: string): string => ruleId(SOULSEEK, name);

/** Every rule this module reports. */
export const SoulseekRule = {
  /** Client → server Login (code 1): user, password, version, the 32-hex MD5, minor version, exactly filling its length. */
  login: rule('login'),
  /** Client → client PeerInit (init code 1): user, connection type `P`/`F`/`D`, token, exactly filling its length. */
  peerInit: rule('peer-init'),
  /** A server answer on the host's own login flow that names a peer (GetPeerAddress, ConnectToPeer). */
  serverAnswer: rule('server-answer'),
  /** Supporting: PierceFirewall (init code 0, a 4-byte token): 9 bytes with nothing else to check. */
  pierceFirewall: rule('pierce-firewall'),
  /** Supporting: another client → server message (a known code, a length that ends with the segment). */
  serverMessage: rule('server-message'),
} as const;
export type SoulseekRule = (typeof SoulseekRule)[keyof typeof SoulseekRule];

/** How a named peer was learned: the server answer that named it. */
export const SoulseekVia = {
  /** GetPeerAddress (code 3) answer: user, IP, port. */
  peerAddress: rule('peer-address'),
  /** ConnectToPeer (code 18) from the server: a peer asks this client to connect to it. */
  connectToPeer: rule('connect-to-peer'),
} as const;

/** Peers taken from one segment at most (the engine's caps come on top). */
export const MAX_PEERS_PER_SEGMENT = 32;

const SUPPORTING = new Set<string>([SoulseekRule.pierceFirewall, SoulseekRule.serverMessage]);

export function evidence(rule: SoulseekRule, options: { detail?: string; peers?: readonly NamedPeer[] | null } = {}): Evidence {
  const out: { -readonly [K in keyof Evidence]: Evidence[K] } = { rule, supporting: SUPPORTING.has(rule), transport: 'tcp' };
  if (options.detail !== undefined) out.detail = options.detail;
  if (options.peers && options.peers.length > 0) out.peers = options.peers;
  return out;
}

/** Evidence made once: reporting it allocates nothing. */
export function constantEvidence(rule: SoulseekRule, detail?: string): Evidence {
  return Object.freeze(evidence(rule, detail === undefined ? {} : { detail }));
}
