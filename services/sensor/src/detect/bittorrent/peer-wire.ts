/**
 * The peer wire (BEP 3, 4, 10, 11) in clear: the handshake, and the length-prefixed messages
 * after it — the extension handshake, ut_pex peer lists, and the 17-byte block request (what is
 * left of a flow that began before the sensor saw it, or whose handshake was missed).
 */
import type { NamedPeer } from '../module.js';
import { ascii } from '../http-headers.js';
import { DictWalk, Span, readString } from './bencode.js';
import { COMPACT_PEER_V4, COMPACT_PEER_V6, appendCompact } from './compact.js';
import type { PeerListSource } from '../named-peers.js';
import { BitTorrentVia, MAX_PEERS, SWARM_TRANSPORT } from './rules.js';

export const PSTRLEN = 0x13;
const PROTOCOL = ascii('BitTorrent protocol');
/** pstrlen, protocol, reserved (8), info_hash (20, at 28), peer_id (20, at 48). */
export const HANDSHAKE_LENGTH = 68;
const PEER_ID_AT = 48;

const MESSAGE_REQUEST = 6;
const MESSAGE_EXTENDED = 20;
/** BEP 3: requests are for 16 KiB blocks (2^14). */
const BLOCK = 1 << 14;
/** Messages walked in one segment at most: a segment holding many is a piece's data, not control. */
const MAX_MESSAGES_PER_SEGMENT = 8;
/** An extended message's dictionary is small; a larger "message" is not one. */
const MAX_EXTENDED_LENGTH = 1 << 16;

const KEY_ADDED = ascii('added');
const KEY_ADDED6 = ascii('added6');
const KEY_M = ascii('m');

const PEX: PeerListSource = { via: BitTorrentVia.pex, transport: SWARM_TRANSPORT, max: MAX_PEERS.pex };

/**
 * Whether buf[p, end) begins with the handshake's first `end - p` bytes (all 68 when there are
 * that many); `from` skips bytes already checked in an earlier segment (the lone 0x13).
 */
export function handshakePrefix(buf: Uint8Array, p: number, end: number, from = 0): boolean {
  const available = Math.min(end - p, HANDSHAKE_LENGTH - from);
  for (let i = 0; i < available; i++) {
    const at = i + from;
    if (at === 0) {
      if (buf[p + i] !== PSTRLEN) return false;
    } else if (at <= PROTOCOL.length) {
      if (buf[p + i] !== PROTOCOL[at - 1]) return false;
    } else {
      break;
    }
  }
  return true;
}

/**
 * The peer_id's client prefix (`-TR4060-`, `M4-3-6--`, …) when printable, for operators; only
 * bytes before `end` are read (a handshake cut short names no client).
 */
export function peerIdClient(buf: Uint8Array, handshakeAt: number, end: number, from = 0): string | undefined {
  const at = handshakeAt + PEER_ID_AT - from;
  let text = '';
  for (let i = 0; i < 8 && at + i < end; i++) {
    const byte = buf[at + i]!;
    if (byte < 0x20 || byte > 0x7e) break;
    text += String.fromCharCode(byte);
  }
  return text.length >= 2 ? text : undefined;
}

/** What walkMessages found in one segment. */
export const wire = {
  /** A well-formed 17-byte block request. */
  request: false,
  /** A BEP 10 extension handshake (ext id 0, a dict with `m`). */
  extensionHandshake: false,
  /** A ut_pex message's peers (null when none). */
  pex: null as NamedPeer[] | null,
  /**
   * The segment is two or more whole messages and nothing else, each with its id's exact length,
   * one of them of a fixed length only BitTorrent uses (have, request, cancel, PORT, Fast):
   * what a client's control traffic looks like when the sensor missed the flow's start.
   */
  messagesOnly: false,
};

/**
 * Message length (id byte included) by id (BEP 3, 5, 6, 10): -1 for variable. Ids 0-3 are
 * choke, unchoke, interested, not interested; 4 have; 5 bitfield; 6 request; 7 piece; 8 cancel;
 * 9 port; 13-17 suggest, have all, have none, reject, allowed fast; 20 extended.
 */
const FIXED_LENGTH = [1, 1, 1, 1, 5, -1, 13, -1, 13, 3, 0, 0, 0, 5, 1, 1, 13, 5, 0, 0, -1];
/**
 * Ids whose exact lengths only BitTorrent gives them: have, request, cancel, PORT, and the Fast
 * extension's. Bitfield, piece and extended messages take any length, so other length-prefixed
 * protocols fit them (an SSH packet whose padding length is 5 or 7 reads as a bitfield or a
 * piece): they may be in the segment, but never make it BitTorrent's alone.
 */
const DISTINCTIVE = (1 << 4) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17);
const MIN_VARIABLE = [0, 0, 0, 0, 0, 2, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

const walk = new DictWalk();
const span = new Span();

/**
 * Walks whole length-prefixed messages in buf[p, end), as long as each is plausible (a known id
 * with its exact length): a segment that does not start at a message boundary stops at its first
 * implausible one. Fills `wire`. `collectPeers`: gather ut_pex peer lists.
 */
export function walkMessages(buf: Uint8Array, p: number, end: number, collectPeers: boolean): void {
  wire.request = false;
  wire.extensionHandshake = false;
  wire.pex = null;
  wire.messagesOnly = false;
  let at = p;
  let messages = 0;
  let distinctive = false;
  for (let count = 0; count < MAX_MESSAGES_PER_SEGMENT && end - at >= 4; count++) {
    const length = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
    if (length === 0) {
      at += 4; // keep-alive
      messages++;
      continue;
    }
    if (at + 4 >= end) return;
    const id = buf[at + 4]!;
    if (id > MESSAGE_EXTENDED) return;
    const fixed = FIXED_LENGTH[id]!;
    if (fixed === 0 || (fixed > 0 && length !== fixed) || (fixed < 0 && length < MIN_VARIABLE[id]!)) return;
    const body = at + 5;
    const messageEnd = at + 4 + length;
    if (messageEnd > end) return;
    if (id === MESSAGE_REQUEST) {
      wire.request ||= isBlockRequest(buf, body);
    } else if (id === MESSAGE_EXTENDED) {
      if (length > MAX_EXTENDED_LENGTH) return;
      extended(buf, body, messageEnd, collectPeers);
    }
    messages++;
    distinctive ||= ((DISTINCTIVE >>> id) & 1) === 1;
    at = messageEnd;
  }
  wire.messagesOnly = at === end && messages >= 2 && distinctive;
}

/** A block request: begin on a 16 KiB boundary, length at most 16 KiB (BEP 3 blocks; the last one may be shorter). */
function isBlockRequest(buf: Uint8Array, body: number): boolean {
  const begin = ((buf[body + 4]! << 24) | (buf[body + 5]! << 16) | (buf[body + 6]! << 8) | buf[body + 7]!) >>> 0;
  const length = ((buf[body + 8]! << 24) | (buf[body + 9]! << 16) | (buf[body + 10]! << 8) | buf[body + 11]!) >>> 0;
  return length > 0 && length <= BLOCK && begin % BLOCK === 0;
}

/** An extended message: ext id 0 is the handshake (a dict with `m`); others may be ut_pex. */
function extended(buf: Uint8Array, body: number, end: number, collectPeers: boolean): void {
  const extendedId = buf[body]!;
  if (!walk.open(buf, body + 1, end)) return;
  let hasM = false;
  let peers: NamedPeer[] | null = null;
  while (walk.next()) {
    if (extendedId === 0) {
      if (walk.keyIs(KEY_M)) hasM = buf[walk.valueAt] === 0x64; /* d */
      continue;
    }
    const v4 = walk.keyIs(KEY_ADDED);
    if (!v4 && !walk.keyIs(KEY_ADDED6)) continue;
    const after = readString(buf, walk.valueAt, end, span);
    if (after < 0) return;
    if (collectPeers) appendCompact(buf, span.start, span.end, v4 ? COMPACT_PEER_V4 : COMPACT_PEER_V6, 0, PEX, (peers ??= []));
    walk.consumed(after);
  }
  // Only a dictionary that ends exactly where the message ends is one.
  if (walk.status !== 0 || walk.resumeAt !== end) return;
  if (extendedId === 0) wire.extensionHandshake ||= hasM;
  else if (peers !== null && peers.length > 0) wire.pex = wire.pex === null ? peers : wire.pex.concat(peers);
}
