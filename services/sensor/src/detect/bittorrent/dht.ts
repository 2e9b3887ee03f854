/**
 * Mainline DHT (BEP 5, BEP 32, BEP 42): KRPC messages, one bencoded dictionary per datagram.
 * Keys are sorted, so a query begins `d1:ad`, a reply `d1:rd` or, with BEP 42's `ip` first,
 * `d2:ip`, an error `d1:eli`. A datagram counts only when it is one whole dictionary that ends
 * where the datagram ends, with `t` and a `y` that fits its body (a query names a known method
 * and a 20-byte id; a reply carries a 20-byte id): a bencoded blob of another protocol, or a
 * fragment of one, is not a KRPC message.
 */
import type { NamedPeer, PacketReader } from '../module.js';
import { ascii } from '../http-headers.js';
import { DictWalk, INVALID, Span, readString, skipValue } from './bencode.js';
import { COMPACT_PEER_V4, COMPACT_PEER_V6, NODE_ID_LENGTH, appendCompact } from './compact.js';
import type { PeerListSource } from '../named-peers.js';
import { BitTorrentVia, DHT_CONTACT_TTL_MS, MAX_PEERS, SWARM_TRANSPORT } from './rules.js';

const KEY_A = ascii('a');
const KEY_E = ascii('e');
const KEY_Q = ascii('q');
const KEY_R = ascii('r');
const KEY_T = ascii('t');
const KEY_Y = ascii('y');
const KEY_ID = ascii('id');
const KEY_NODES = ascii('nodes');
const KEY_NODES6 = ascii('nodes6');
const KEY_VALUES = ascii('values');

/** Methods of BEP 5, 44 (get/put) and 51 (sample_infohashes). */
const METHODS = ['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put', 'sample_infohashes'].map(ascii);

const NODES: PeerListSource = { via: BitTorrentVia.dhtNodes, transport: 'udp', max: MAX_PEERS.dhtNodes, ttlMs: DHT_CONTACT_TTL_MS };
const VALUES: PeerListSource = { via: BitTorrentVia.dhtValues, transport: SWARM_TRANSPORT, max: MAX_PEERS.dhtValues };

/** The smallest KRPC message: `d1:rd2:id20:<20>e1:t0:1:y1:re` is 41 bytes; a ping query 56. */
const MIN_KRPC = 40;

export const KrpcKind = { none: 0, query: 1, reply: 2, error: 3 } as const;
export type KrpcKind = (typeof KrpcKind)[keyof typeof KrpcKind];

/** Whether a datagram's first bytes can begin a KRPC dictionary (`d1:a`, `d1:e`, `d1:r`, `d2:ip`). */
export function couldBeKrpc(buf: Uint8Array, p: number, length: number): boolean {
  if (length < MIN_KRPC || buf[p] !== 0x64 /* d */) return false;
  if (buf[p + 1] === 0x31 /* 1 */ && buf[p + 2] === 0x3a) {
    const key = buf[p + 3];
    return key === 0x61 /* a */ || key === 0x65 /* e */ || key === 0x72 /* r */;
  }
  return buf[p + 1] === 0x32 /* 2 */ && buf[p + 2] === 0x3a && buf[p + 3] === 0x69 /* i */ && buf[p + 4] === 0x70; /* p */
}

/** Reads one KRPC datagram; scratch objects are reused for every packet. */
export class KrpcReader {
  kind: KrpcKind = KrpcKind.none;
  /**
   * The message's transaction id (`t`) as a number: its bytes (at most 4) big-endian, plus its
   * length times 2^32 so that `aa` and `\0aa` differ; -1 for a longer id.
   */
  transaction = -1;
  /** Peers a reply named (only when asked to collect them). */
  peers: NamedPeer[] | null = null;
  private readonly top = new DictWalk();
  private readonly inner = new DictWalk();
  private readonly span = new Span();
  /** Where the `r` dictionary starts, or -1. */
  private replyAt = -1;

  /** Reads buf[p, p + length); `collectPeers`: gather a reply's nodes and values. */
  read(packet: PacketReader, collectPeers: boolean): KrpcKind {
    this.kind = KrpcKind.none;
    this.transaction = -1;
    this.peers = null;
    this.replyAt = -1;
    const buf = packet.buf;
    const p = packet.payloadOffset;
    const end = p + packet.payloadLength;
    const top = this.top;
    const span = this.span;
    let y = 0;
    let method = false;
    let queryArgs = false;
    let error = false;
    let transaction = false;
    top.open(buf, p, end);
    while (top.next()) {
      if (top.keyIs(KEY_Y)) {
        const after = readString(buf, top.valueAt, end, span, 1);
        if (after < 0 || span.length !== 1) return KrpcKind.none;
        y = buf[span.start]!;
        top.consumed(after);
      } else if (top.keyIs(KEY_T)) {
        const after = readString(buf, top.valueAt, end, span, 64);
        if (after < 0) return KrpcKind.none;
        transaction = true;
        this.transaction = transactionNumber(buf, span);
        top.consumed(after);
      } else if (top.keyIs(KEY_Q)) {
        const after = readString(buf, top.valueAt, end, span, 32);
        if (after < 0) return KrpcKind.none;
        method = isKnownMethod(buf, span);
        top.consumed(after);
      } else if (top.keyIs(KEY_A)) {
        queryArgs = this.hasNodeId(buf, top.valueAt, end);
      } else if (top.keyIs(KEY_R)) {
        if (buf[top.valueAt] !== 0x64 /* d */) return KrpcKind.none;
        this.replyAt = top.valueAt;
      } else if (top.keyIs(KEY_E)) {
        error = buf[top.valueAt] === 0x6c; /* l */
      }
    }
    // One whole dictionary, ending where the datagram ends.
    if (top.status !== 0 || top.resumeAt !== end || !transaction) return KrpcKind.none;
    if (y === 0x71 /* q */ && method && queryArgs) this.kind = KrpcKind.query;
    else if (y === 0x72 /* r */ && this.replyAt >= 0 && this.hasNodeId(buf, this.replyAt, end)) this.kind = KrpcKind.reply;
    else if (y === 0x65 /* e */ && error) this.kind = KrpcKind.error;
    if (this.kind === KrpcKind.reply && collectPeers) this.collect(buf, this.replyAt, end);
    return this.kind;
  }

  /** Whether the dictionary at buf[at] has `id` of 20 bytes. */
  private hasNodeId(buf: Uint8Array, at: number, end: number): boolean {
    const walk = this.inner;
    if (!walk.open(buf, at, end)) return false;
    while (walk.next()) {
      if (!walk.keyIs(KEY_ID)) continue;
      const after = readString(buf, walk.valueAt, end, this.span, NODE_ID_LENGTH);
      return after >= 0 && this.span.length === NODE_ID_LENGTH;
    }
    return false;
  }

  /** A reply's `nodes` (26N), `nodes6` (38N) and `values` (a list of 6- or 18-byte strings). */
  private collect(buf: Uint8Array, at: number, end: number): void {
    const walk = this.inner;
    const span = this.span;
    const peers: NamedPeer[] = [];
    const nodes: NamedPeer[] = [];
    walk.open(buf, at, end);
    while (walk.next()) {
      if (walk.keyIs(KEY_NODES) || walk.keyIs(KEY_NODES6)) {
        const entry = walk.key.length === 5 ? NODE_ID_LENGTH + COMPACT_PEER_V4 : NODE_ID_LENGTH + COMPACT_PEER_V6;
        const after = readString(buf, walk.valueAt, end, span);
        if (after < 0) return;
        appendCompact(buf, span.start, span.end, entry, NODE_ID_LENGTH, NODES, nodes);
        walk.consumed(after);
      } else if (walk.keyIs(KEY_VALUES)) {
        const after = this.collectValues(buf, walk.valueAt, end, peers);
        if (after < 0) return;
        walk.consumed(after);
      }
    }
    for (const node of nodes) peers.push(node);
    this.peers = peers;
  }

  /** `l6:<peer>6:<peer>…e` (or 18-byte strings); returns the offset after the list. */
  private collectValues(buf: Uint8Array, at: number, end: number, out: NamedPeer[]): number {
    if (buf[at] !== 0x6c /* l */) return skipValue(buf, at, end);
    const span = this.span;
    let i = at + 1;
    while (i < end && buf[i] !== 0x65 /* e */) {
      i = readString(buf, i, end, span, COMPACT_PEER_V6);
      if (i < 0) return INVALID;
      if (span.length === COMPACT_PEER_V4 || span.length === COMPACT_PEER_V6) appendCompact(buf, span.start, span.end, span.length, 0, VALUES, out);
    }
    return i < end ? i + 1 : INVALID;
  }
}

function transactionNumber(buf: Uint8Array, span: Span): number {
  const length = span.length;
  if (length > 4) return -1;
  let value = 0;
  for (let i = span.start; i < span.end; i++) value = value * 256 + buf[i]!;
  return length * 2 ** 32 + value;
}

function isKnownMethod(buf: Uint8Array, span: Span): boolean {
  const length = span.length;
  for (const method of METHODS) {
    if (method.length !== length) continue;
    let same = true;
    for (let i = 0; i < length && same; i++) same = buf[span.start + i] === method[i];
    if (same) return true;
  }
  return false;
}
