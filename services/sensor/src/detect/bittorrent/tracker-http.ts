/**
 * The HTTP tracker (BEP 3, 23, 7): the announce request identifies the client, the reply's
 * bencoded body names the swarm — compact `5:peers<6N>`, the dictionary form (a list of
 * `{ip, peer id, port}`), `peers6<18N>`.
 *
 * The request must carry both `info_hash=` and `peer_id=` as query parameters of a `GET` request
 * line the inside host sent: a web page that merely mentions info_hash, or a search for it, is
 * neither. A reply is read only on a flow whose request was an announce, so a bencoded file
 * (a .torrent) fetched over HTTP is never taken for a peer list.
 */
import type { ModuleBufferBudget } from '../buffer-budget.js';
import type { NamedPeer, PacketReader } from '../module.js';
import { ascii, startsWith } from '../http-headers.js';
import { DictWalk, INVALID, Span, TRUNCATED, integer, readInteger, readString } from './bencode.js';
import { COMPACT_PEER_V4, COMPACT_PEER_V6, appendCompact } from './compact.js';
import { namedPeer, type PeerListSource } from '../named-peers.js';
import { BitTorrentVia, MAX_PEERS, SWARM_TRANSPORT } from './rules.js';

const GET = ascii('GET /');
const HTTP_1 = ascii('HTTP/1.');
const INFO_HASH = ascii('info_hash=');
const PEER_ID = ascii('peer_id=');
const KEY_PEERS = ascii('peers');
const KEY_PEERS6 = ascii('peers6');
const KEY_IP = ascii('ip');
const KEY_PORT = ascii('port');
/** A request line longer than this is not looked at (a real announce is 200-400 bytes). */
const MAX_REQUEST_LINE = 2048;
/** A reply kept while it spans segments is at most this long: 200 peers of each family and a head. */
export const MAX_REPLY_BYTES = 8192;
const REPLY_START_CAPACITY = 1024;
/** What a kept reply costs beyond its bytes (its object), charged to the budget with them. */
const REPLY_OVERHEAD_BYTES = 96;

const TRACKER: PeerListSource = { via: BitTorrentVia.tracker, transport: SWARM_TRANSPORT, max: MAX_PEERS.tracker };

/** Whether buf[p, end) can still begin an announce request (checked on the first byte or so). */
export function couldStartAnnounce(buf: Uint8Array, p: number, end: number): boolean {
  return buf[p] === 0x47 /* G */ && end - p >= GET.length && startsWith(buf, p, end, GET);
}

/** `GET /<path>?…info_hash=…&…peer_id=… HTTP/1.x` in the first line of buf[p, end). */
export function isAnnounceRequest(buf: Uint8Array, p: number, end: number): boolean {
  if (!couldStartAnnounce(buf, p, end)) return false;
  const stop = Math.min(end, p + MAX_REQUEST_LINE);
  let query = -1;
  let infoHash = false;
  let peerId = false;
  for (let i = p + GET.length; i < stop; i++) {
    const byte = buf[i]!;
    if (byte === 0x0d || byte === 0x0a || byte === 0x20) break; // the end of the request target
    if (byte === 0x3f /* ? */ && query < 0) query = i;
    if (query < 0 || (byte !== 0x3f && byte !== 0x26) /* & */) continue;
    if (startsWith(buf, i + 1, stop, INFO_HASH)) infoHash = true;
    else if (startsWith(buf, i + 1, stop, PEER_ID)) peerId = true;
  }
  return infoHash && peerId;
}

export function couldStartReply(buf: Uint8Array, p: number, end: number): boolean {
  const count = Math.min(end - p, HTTP_1.length);
  for (let i = 0; i < count; i++) if (buf[p + i] !== HTTP_1[i]) return false;
  return true;
}

/** Where the body starts (after the blank line), -1 while the head is incomplete, INVALID for a non-200 reply. */
function bodyStart(buf: Uint8Array, p: number, end: number): number {
  if (end - p < 12 || !startsWith(buf, p, end, HTTP_1)) return end - p < 12 ? TRUNCATED : INVALID;
  // `HTTP/1.x 200`
  if (buf[p + 9] !== 0x32 || buf[p + 10] !== 0x30 || buf[p + 11] !== 0x30) return INVALID;
  for (let i = p + 12; i + 3 < end; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a && buf[i + 2] === 0x0d && buf[i + 3] === 0x0a) return i + 4;
  }
  return TRUNCATED;
}

/** The reply's peers, filled by readReply. */
export const reply = { peers: null as NamedPeer[] | null };

const walk = new DictWalk();
const inner = new DictWalk();
const span = new Span();

/**
 * Reads an HTTP tracker reply in buf[p, end): 0 when it is whole (its peers in `reply.peers`),
 * TRUNCATED when more bytes may complete it, INVALID when it is not a bencoded announce reply.
 */
export function readReply(buf: Uint8Array, p: number, end: number): number {
  reply.peers = null;
  const body = bodyStart(buf, p, end);
  if (body < 0) return body;
  if (body >= end) return TRUNCATED;
  if (!walk.open(buf, body, end)) return walk.status;
  const peers: NamedPeer[] = [];
  while (walk.next()) {
    const v4 = walk.keyIs(KEY_PEERS);
    if (!v4 && !walk.keyIs(KEY_PEERS6)) continue;
    const at = walk.valueAt;
    if (v4 && buf[at] === 0x6c /* l */) {
      const after = dictionaryPeers(buf, at, end, peers);
      if (after < 0) return after;
      walk.consumed(after);
      continue;
    }
    const after = readString(buf, at, end, span, MAX_REPLY_BYTES);
    if (after < 0) return after;
    appendCompact(buf, span.start, span.end, v4 ? COMPACT_PEER_V4 : COMPACT_PEER_V6, 0, TRACKER, peers);
    walk.consumed(after);
  }
  if (walk.status !== 0) return walk.status;
  reply.peers = peers;
  return 0;
}

/** `l d2:ip<text>7:peer id20:…4:porti…e e … e`: the original, non-compact form. */
function dictionaryPeers(buf: Uint8Array, at: number, end: number, out: NamedPeer[]): number {
  let i = at + 1;
  while (i < end && buf[i] !== 0x65 /* e */) {
    if (!inner.open(buf, i, end)) return inner.status;
    let ip: string | null = null;
    let port = 0;
    while (inner.next()) {
      if (inner.keyIs(KEY_IP)) {
        const after = readString(buf, inner.valueAt, end, span, 45);
        if (after < 0) return after;
        ip = addressText(buf, span.start, span.end);
        inner.consumed(after);
      } else if (inner.keyIs(KEY_PORT)) {
        const after = readInteger(buf, inner.valueAt, end);
        if (after < 0) return after;
        port = integer.value;
        inner.consumed(after);
      }
    }
    if (inner.status !== 0) return inner.status;
    i = inner.resumeAt;
    if (ip !== null && port >= 1 && port <= 65535 && out.length < TRACKER.max) out.push(namedPeer(ip, port, TRACKER));
  }
  return i < end ? i + 1 : TRUNCATED;
}

/** The text of an address literal (digits, hex, dots, colons); null for a host name or anything else. */
function addressText(buf: Uint8Array, start: number, end: number): string | null {
  if (end - start < 2) return null;
  let text = '';
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    const ok = (byte >= 0x30 && byte <= 0x3a) || byte === 0x2e || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46);
    if (!ok) return null;
    text += String.fromCharCode(byte);
  }
  return text;
}

/**
 * One tracker reply while it spans segments, in sequence order, paid from the module buffer
 * budget as it grows (at most MAX_REPLY_BYTES). Segments out of order are ignored: a rare missed
 * reply is better than buffering gaps.
 */
export class ReplyBuffer {
  bytes: Uint8Array;
  length = 0;
  private nextSeq: number;

  static start(segment: PacketReader, budget: ModuleBufferBudget): ReplyBuffer | null {
    const capacity = capacityFor(Math.min(segment.payloadLength, MAX_REPLY_BYTES), REPLY_START_CAPACITY);
    if (!budget.tryReserve(capacity + REPLY_OVERHEAD_BYTES)) return null;
    return new ReplyBuffer(segment, capacity);
  }

  private constructor(segment: PacketReader, capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.nextSeq = segment.tcpSeq;
    this.append(segment, null);
  }

  get heldBytes(): number {
    return this.bytes.length + REPLY_OVERHEAD_BYTES;
  }

  /** Appends the next segment in sequence; false when it is not next, or no room is left (then the reply is given up). */
  append(segment: PacketReader, budget: ModuleBufferBudget | null): boolean {
    if (segment.tcpSeq !== this.nextSeq) return false;
    const count = segment.payloadLength;
    if (this.length + count > MAX_REPLY_BYTES) return false;
    if (this.length + count > this.bytes.length) {
      const capacity = capacityFor(this.length + count, this.bytes.length * 2);
      if (budget === null || !budget.tryReserve(capacity - this.bytes.length)) return false;
      const grown = new Uint8Array(capacity);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(segment.buf.subarray(segment.payloadOffset, segment.payloadOffset + count), this.length);
    this.length += count;
    this.nextSeq = (this.nextSeq + count) >>> 0;
    return true;
  }
}

function capacityFor(needed: number, from: number): number {
  let capacity = from;
  while (capacity < needed) capacity *= 2;
  return Math.min(capacity, MAX_REPLY_BYTES);
}
