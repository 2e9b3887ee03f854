/** FastTrack's name, its rule ids, and how its evidence is shaped. */
import { ruleId } from '@p2pwall/common';
import type { Evidence, NamedPeer } from '../module.js';

export const FASTTRACK = 'fasttrack';

const rule = (name: string): string => ruleId(FASTTRACK, name);

/** Every rule this module reports. */
export const FastTrackRule = {
  udpPing: rule('udp-ping'),
  udpPong: rule('udp-pong'),
  udpPong2: rule('udp-pong2'),
  udpId: rule('udp-id'),
  httpHashRequest: rule('http-hash-request'),
  httpFastTrackPath: rule('http-fasttrack-path'),
  xKazaaHeader: rule('x-kazaa-header'),
  kazaaUserAgent: rule('kazaa-useragent'),
  peerEnablerUserAgent: rule('peerenabler-useragent'),
  givePush: rule('give-push'),
  encryptedHandshake: rule('encrypted-handshake'),
} as const;
export type FastTrackRule = (typeof FastTrackRule)[keyof typeof FastTrackRule];

/** How a named peer was learned: the header or message that named it. */
export const FastTrackVia = {
  xKazaaIp: rule('x-kazaa-ip'),
  xKazaaSupernodeIp: rule('x-kazaa-supernodeip'),
  udpPong2Node: rule('udp-pong2-node'),
} as const;

/**
 * FastTrack nodes listen on one port for TCP and UDP alike (giFT PROTOCOL), so every peer it
 * learns is blocked for both.
 */
export function evidence(rule: FastTrackRule, detail?: string, peers?: readonly NamedPeer[] | null): Evidence {
  if (detail === undefined && !peers) return { rule, supporting: false, transport: 'both' };
  if (!peers) return { rule, supporting: false, transport: 'both', detail };
  return { rule, supporting: false, transport: 'both', detail, peers };
}

