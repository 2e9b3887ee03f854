/**
 * Direct Connect's name (one module for NMDC and ADC), its rule ids, what each source of peers
 * may name, and how its evidence is shaped. Why each rule identifies: README.md, "Direct Connect".
 */
import { ruleId, type Transport } from '@p2pwall/common';
import type { Evidence, NamedPeer } from '../module.js';

export const DIRECT_CONNECT = 'direct-connect';

const rule = (name: string): string => ruleId(DIRECT_CONNECT, name);

/** Every rule this module reports. */
export const DirectConnectRule = {
  /** NMDC client → hub: `$Key …|` or `$ValidateNick <nick>|` (after an optional `$Supports …|`) opening the stream. */
  nmdcHubLogin: rule('nmdc-hub-login'),
  /** NMDC `$Lock <lock> Pk=<pk>|` opening a stream: a hub's first words, or a peer's after `$MyNick`. */
  nmdcLock: rule('nmdc-lock'),
  /** NMDC client ↔ client: `$MyNick <nick>|` opening the stream. */
  nmdcPeer: rule('nmdc-peer'),
  /** NMDC `$HubName …|` opening a stream (a hub that greets with its name). */
  nmdcHub: rule('nmdc-hub'),
  /** NMDC UDP search result `$SR <nick> …\x05…|`. */
  nmdcUdp: rule('nmdc-udp'),
  /** ADC client → hub: `HSUP AD…` opening the stream. */
  adcHubLogin: rule('adc-hub-login'),
  /** ADC hub → client: `ISUP AD…` opening the stream. */
  adcHub: rule('adc-hub'),
  /** ADC client ↔ client: `CSUP AD…` opening the stream. */
  adcPeer: rule('adc-peer'),
  /** ADC UDP: `URES`/`UINF`/`UPSR <CID> …` (a search result or info sent straight to a peer). */
  adcUdp: rule('adc-udp'),
} as const;
export type DirectConnectRule = (typeof DirectConnectRule)[keyof typeof DirectConnectRule];

/** How a named peer was learned: the command that named it. */
export const DirectConnectVia = {
  /** NMDC `$ConnectToMe <me> <ip>:<port>|` from the hub: the peer that waits for this client, TCP. */
  nmdcConnectToMe: rule('nmdc-connect-to-me'),
  /** NMDC active `$Search <ip>:<port> …|` relayed by the hub: the searcher waits for results there, UDP. */
  nmdcSearch: rule('nmdc-search'),
  /** ADC `DCTM <sid> <me> ADC/1.0 <port> <token>` from the hub: the peer at its INF's `I4`, TCP. */
  adcConnectToMe: rule('adc-ctm'),
  /** ADC `BINF <sid> … I4<ip> U4<port>` from the hub: another user's UDP port. */
  adcInf: rule('adc-inf'),
} as const;

/**
 * Peers taken from one segment at most (the engine's per-flow and per-host caps come on top): a
 * hub sends one INF per user on login, so a busy hub's first packets hold many.
 */
export const MAX_PEERS_PER_SEGMENT = 64;

/** Users whose INF address is remembered per hub flow (to place a later CTM). */
export const MAX_USERS = 256;

export function evidence(rule: DirectConnectRule, transport: Transport, options: { detail?: string; peers?: readonly NamedPeer[] | null } = {}): Evidence {
  const out: { -readonly [K in keyof Evidence]: Evidence[K] } = { rule, supporting: false, transport };
  if (options.detail !== undefined) out.detail = options.detail;
  if (options.peers && options.peers.length > 0) out.peers = options.peers;
  return out;
}

/** Evidence made once: reporting it allocates nothing. */
export function constantEvidence(rule: DirectConnectRule, transport: Transport, detail?: string): Evidence {
  return Object.freeze(evidence(rule, transport, detail === undefined ? {} : { detail }));
}
