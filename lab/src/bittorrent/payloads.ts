/**
 * BitTorrent payloads, byte-exact to the BEPs summarised in
 * /work/shared/protocols/families.md §1 (BEP 3/4/5/7/10/11/14/15/23/29/32/42 and MSE/PE), for
 * detector tests, engine tests, synthetic captures and the bench. Binary messages come back as
 * bytes; text heads (HTTP tracker request, LSD) as latin1 text (packets.ts accepts either as a
 * payload). Multi-byte integers are big-endian (network order), as BitTorrent uses throughout.
 */
import { parseAddress } from '@p2pwall/common';
import { seededRandom } from '../synthetic/random.js';

/** A 20-byte info_hash used by default (SHA-1 of nothing in particular), as 40 hex digits. */
export const EXAMPLE_INFO_HASH = 'ed4f1085e885f98f9a69b70ee89eb988b8fd9115';
/** An Azureus-style peer_id: `-TR4060-` (Transmission 4.0.6) and 12 more characters. */
export const EXAMPLE_PEER_ID = '-TR4060-k8hj0wgej6ch';
/** A DHT node id (20 bytes). */
export const EXAMPLE_NODE_ID = 'abcdefghij0123456789';
/** BEP 15's connect magic, `00 00 04 17 27 10 19 80`. */
export const UDP_TRACKER_MAGIC = [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80] as const;
/** BEP 14's multicast groups and port. */
export const LSD_IPV4_GROUP = '239.192.152.143';
export const LSD_IPV6_GROUP = 'ff15::efc0:988f';
export const LSD_PORT = 6771;

/** An `ip:port` as BitTorrent names peers; IPv4 or IPv6 by the address text. */
export interface Endpoint {
  ip: string;
  port: number;
}

/** A DHT contact: a node id (20 bytes; defaults to a fixed one) and where it listens. */
export interface Contact extends Endpoint {
  id?: string | Uint8Array;
}

function uint32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function uint16(value: number): number[] {
  return [(value >>> 8) & 0xff, value & 0xff];
}

/** A 64-bit big-endian integer from a number (exact up to 2^53) or a bigint. */
function uint64(value: number | bigint): number[] {
  let big = BigInt(value);
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    out.unshift(Number(big & 0xffn));
    big >>= 8n;
  }
  return out;
}

function latin1(text: string): number[] {
  return [...Buffer.from(text, 'latin1')];
}

/** Text (latin1, 1 byte a character) or 40/64 hex digits for a hash, or bytes, as bytes. */
function binary(value: string | Uint8Array, length?: number): number[] {
  let out: number[];
  if (typeof value !== 'string') out = [...value];
  else if (length !== undefined && value.length === length * 2 && /^[0-9a-fA-F]+$/.test(value)) out = [...Buffer.from(value, 'hex')];
  else out = latin1(value);
  if (length !== undefined && out.length !== length) throw new Error(`expected ${length} bytes, got ${out.length}`);
  return out;
}

function address(text: string): number[] {
  const parsed = parseAddress(text);
  if (!parsed) throw new Error(`not an address: ${text}`);
  return [...parsed];
}

/** Compact peer info: 4-byte IPv4 (or 16-byte IPv6) then the port, network order (BEP 23/7). */
export function compactPeer(peer: Endpoint): Uint8Array {
  return Uint8Array.from([...address(peer.ip), ...uint16(peer.port)]);
}

/** Compact peers one after another (the `peers`, `values` entry, `added` strings). */
export function compactPeers(peers: readonly Endpoint[]): Uint8Array {
  return Uint8Array.from(peers.flatMap((peer) => [...compactPeer(peer)]));
}

/** Compact node info: 20-byte id then compact peer info (26 bytes IPv4, 38 bytes IPv6; BEP 5/32). */
export function compactNodes(nodes: readonly Contact[]): Uint8Array {
  return Uint8Array.from(nodes.flatMap((node) => [...binary(node.id ?? EXAMPLE_NODE_ID, 20), ...compactPeer(node)]));
}

// ---- bencode ----------------------------------------------------------------------------------

/** A bencodable value: integers, byte strings (text is latin1), lists and dictionaries. */
export type Bencodable = number | bigint | string | Uint8Array | readonly Bencodable[] | { readonly [key: string]: Bencodable | undefined };

/**
 * Bencode (BEP 3). Dictionary keys are written sorted by their raw bytes, as the spec demands
 * and as every real client does; keys whose value is undefined are left out.
 */
export function bencode(value: Bencodable): Uint8Array {
  const out: number[] = [];
  write(value, out);
  return Uint8Array.from(out);
}

function write(value: Bencodable, out: number[]): void {
  if (typeof value === 'number' || typeof value === 'bigint') {
    out.push(...latin1(`i${value}e`));
  } else if (typeof value === 'string' || value instanceof Uint8Array) {
    const bytes = typeof value === 'string' ? latin1(value) : [...value];
    out.push(...latin1(`${bytes.length}:`), ...bytes);
  } else if (Array.isArray(value)) {
    out.push(0x6c);
    for (const item of value as readonly Bencodable[]) write(item, out);
    out.push(0x65);
  } else {
    out.push(0x64);
    const dict = value as { readonly [key: string]: Bencodable | undefined };
    const keys = Object.keys(dict)
      .filter((key) => dict[key] !== undefined)
      .sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
    for (const key of keys) {
      write(key, out);
      write(dict[key]!, out);
    }
    out.push(0x65);
  }
}

function concat(...parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- peer wire (BEP 3, 4, 10, 11) ----------------------------------------------------------------

export interface HandshakeOptions {
  /** 20 bytes, or 40 hex digits. */
  infoHash?: string | Uint8Array;
  /** 20 bytes (text is latin1). */
  peerId?: string | Uint8Array;
  /** The 8 reserved bytes; default: extension protocol (BEP 10) and DHT (BEP 5) and Fast (BEP 6). */
  reserved?: readonly number[];
}

/** The reserved bytes libtorrent and Transmission send: byte 5 0x10 (BEP 10), byte 7 0x05 (DHT, Fast). */
export const DEFAULT_RESERVED = [0, 0, 0, 0, 0, 0x10, 0, 0x05] as const;

/** The 68-byte handshake: `0x13 BitTorrent protocol`, reserved (8), info_hash (20), peer_id (20). */
export function handshake(options: HandshakeOptions = {}): Uint8Array {
  const reserved = options.reserved ?? DEFAULT_RESERVED;
  if (reserved.length !== 8) throw new Error('reserved must be 8 bytes');
  return concat([0x13], latin1('BitTorrent protocol'), reserved, binary(options.infoHash ?? EXAMPLE_INFO_HASH, 20), binary(options.peerId ?? EXAMPLE_PEER_ID, 20));
}

/** A peer-wire message: 4-byte length, 1-byte id, body. */
export function peerMessage(id: number, body: Uint8Array | readonly number[] = []): Uint8Array {
  return concat(uint32(body.length + 1), [id], body);
}

export const keepAlive = (): Uint8Array => Uint8Array.from([0, 0, 0, 0]);
export const interested = (): Uint8Array => peerMessage(2);
export const haveAll = (): Uint8Array => peerMessage(0x0e);
export const have = (index: number): Uint8Array => peerMessage(4, uint32(index));
export const bitfield = (bits: Uint8Array | readonly number[]): Uint8Array => peerMessage(5, bits);
/** The 17-byte request: index, begin, length (16 KiB by default). */
export const request = (index: number, begin = 0, length = 0x4000): Uint8Array => peerMessage(6, [...uint32(index), ...uint32(begin), ...uint32(length)]);
/** PORT: the sender's DHT port (BEP 5). */
export const portMessage = (port: number): Uint8Array => peerMessage(9, uint16(port));

export interface ExtensionHandshakeOptions {
  /** Extension names to the ids the sender gives them; default ut_metadata 2, ut_pex 1. */
  m?: Readonly<Record<string, number>>;
  /** The sender's TCP listen port. */
  p?: number;
  /** Client name and version. */
  v?: string;
  /** The receiver's address as the sender sees it (4 or 16 bytes). */
  yourip?: string;
  reqq?: number;
  metadataSize?: number;
}

/** BEP 10 extension handshake: message 20 (0x14), extended id 0, bencoded dict. */
export function extensionHandshake(options: ExtensionHandshakeOptions = {}): Uint8Array {
  const dict: Record<string, Bencodable | undefined> = {
    m: options.m ?? { ut_metadata: 2, ut_pex: 1 },
    p: options.p ?? 51413,
    v: options.v ?? 'Transmission 4.0.6',
    reqq: options.reqq ?? 512,
    metadata_size: options.metadataSize,
    yourip: options.yourip === undefined ? undefined : Uint8Array.from(address(options.yourip)),
  };
  return peerMessage(0x14, concat([0], bencode(dict)));
}

export interface PexOptions {
  /** The ut_pex id the receiver gave in its extension handshake (default 1). */
  extendedId?: number;
  added?: readonly Endpoint[];
  added6?: readonly Endpoint[];
  dropped?: readonly Endpoint[];
  /** One flag byte per added peer (0x01 prefers encryption, 0x04 uTP, 0x10 reachable). */
  addedFlags?: readonly number[];
}

/** BEP 11 PEX message: message 20, the receiver's ut_pex id, dict with added/added.f/added6/dropped. */
export function pexMessage(options: PexOptions = {}): Uint8Array {
  const added = options.added ?? [];
  const added6 = options.added6 ?? [];
  const dict: Record<string, Bencodable | undefined> = {
    added: compactPeers(added),
    'added.f': Uint8Array.from(options.addedFlags ?? added.map(() => 0x10)),
    added6: added6.length > 0 ? compactPeers(added6) : undefined,
    'added6.f': added6.length > 0 ? Uint8Array.from(added6.map(() => 0x10)) : undefined,
    dropped: compactPeers(options.dropped ?? []),
  };
  return peerMessage(0x14, concat([options.extendedId ?? 1], bencode(dict)));
}

// ---- uTP (BEP 29) ---------------------------------------------------------------------------------

export const UtpType = { data: 0, fin: 1, state: 2, reset: 3, syn: 4 } as const;
export type UtpType = (typeof UtpType)[keyof typeof UtpType];

export interface UtpOptions {
  type?: UtpType;
  version?: number;
  connectionId?: number;
  timestamp?: number;
  timestampDifference?: number;
  windowSize?: number;
  seq?: number;
  ack?: number;
  /** Extensions in chain order: type (1 selective ack, 2 close reason) and data (sack: 4+ bytes). */
  extensions?: readonly { type: number; data: Uint8Array | readonly number[] }[];
  payload?: Uint8Array;
}

/**
 * A uTP packet: 20-byte header (type<<4 | version, first extension, connection id, timestamp,
 * timestamp difference, window, seq, ack), then the extension chain, then the payload. Default:
 * a SYN as libtorrent sends it (no extension, no payload, timestamp difference 0, seq 1).
 */
export function utpPacket(options: UtpOptions = {}): Uint8Array {
  const type = options.type ?? UtpType.syn;
  const extensions = options.extensions ?? [];
  const chain: number[] = [];
  extensions.forEach((extension, i) => {
    const next = extensions[i + 1]?.type ?? 0;
    chain.push(next, extension.data.length, ...extension.data);
  });
  return concat(
    [(type << 4) | (options.version ?? 1), extensions[0]?.type ?? 0],
    uint16(options.connectionId ?? 0x5a3c),
    uint32(options.timestamp ?? 0x1c2d3e4f),
    uint32(options.timestampDifference ?? (type === UtpType.syn ? 0 : 0x00012345)),
    uint32(options.windowSize ?? 0x100000),
    uint16(options.seq ?? 1),
    uint16(options.ack ?? 0),
    chain,
    options.payload ?? [],
  );
}

/**
 * A uTP exchange's first packets as both ends send them: the initiator's SYN (id = recv id),
 * the responder's STATE (id = the SYN's, ack = the SYN's seq), the initiator's first DATA
 * (id + 1) carrying `payload` (default: a BitTorrent handshake).
 */
export function utpOpening(options: { connectionId?: number; payload?: Uint8Array } = {}): { syn: Uint8Array; state: Uint8Array; data: Uint8Array } {
  const id = options.connectionId ?? 0x5a3c;
  return {
    syn: utpPacket({ type: UtpType.syn, connectionId: id, seq: 0x1234, ack: 0 }),
    state: utpPacket({ type: UtpType.state, connectionId: id, seq: 0x7777, ack: 0x1234 }),
    data: utpPacket({ type: UtpType.data, connectionId: (id + 1) & 0xffff, seq: 0x1235, ack: 0x7777, payload: options.payload ?? handshake() }),
  };
}

// ---- Mainline DHT (BEP 5, 32, 42) ---------------------------------------------------------------

export type DhtMethod = 'ping' | 'find_node' | 'get_peers' | 'announce_peer';

export interface DhtQueryOptions {
  method?: DhtMethod;
  /** The querying node's id (20 bytes). */
  id?: string | Uint8Array;
  /** find_node's target (20 bytes). */
  target?: string | Uint8Array;
  /** get_peers/announce_peer's info_hash (20 bytes or 40 hex). */
  infoHash?: string | Uint8Array;
  port?: number;
  token?: string | Uint8Array;
  /** Transaction id (default `aa`). */
  transactionId?: string | Uint8Array;
  /** Client version (`1:v4:LT..`), left out when undefined. */
  version?: string | Uint8Array;
  /** BEP 32 `want` list, e.g. ['n4', 'n6']. */
  want?: readonly string[];
}

/** A KRPC query: `d1:ad2:id20:…e1:q<method>1:t<txid>1:y1:qe` (keys sorted, so it begins `d1:ad2:id20:`). */
export function dhtQuery(options: DhtQueryOptions = {}): Uint8Array {
  const method = options.method ?? 'get_peers';
  const args: Record<string, Bencodable | undefined> = { id: Uint8Array.from(binary(options.id ?? EXAMPLE_NODE_ID, 20)) };
  if (method === 'find_node') args.target = Uint8Array.from(binary(options.target ?? 'mnopqrstuvwxyz123456', 20));
  if (method === 'get_peers' || method === 'announce_peer') args.info_hash = Uint8Array.from(binary(options.infoHash ?? EXAMPLE_INFO_HASH, 20));
  if (method === 'announce_peer') {
    args.port = options.port ?? 6881;
    args.token = options.token ?? 'aoeusnth';
  }
  if (options.want) args.want = options.want;
  return bencode({
    a: args,
    q: method,
    t: options.transactionId ?? 'aa',
    v: options.version,
    y: 'q',
  });
}

export interface DhtReplyOptions {
  /** The answering node's id. */
  id?: string | Uint8Array;
  /** BEP 42: the querier's address as the answering node sees it; puts `2:ip` first. */
  ip?: Endpoint;
  nodes?: readonly Contact[];
  nodes6?: readonly Contact[];
  /** get_peers' peers: one compact string each. */
  values?: readonly Endpoint[];
  token?: string | Uint8Array;
  transactionId?: string | Uint8Array;
  version?: string | Uint8Array;
}

/** A KRPC response: `d[2:ip6:…]1:rd2:id20:…[5:nodes…][6:nodes6…][5:token…][6:valuesl…e]e1:t…1:y1:re`. */
export function dhtReply(options: DhtReplyOptions = {}): Uint8Array {
  const r: Record<string, Bencodable | undefined> = {
    id: Uint8Array.from(binary(options.id ?? 'ZYXWVUTSRQ9876543210', 20)),
    nodes: options.nodes ? compactNodes(options.nodes) : undefined,
    nodes6: options.nodes6 ? compactNodes(options.nodes6) : undefined,
    token: options.token ?? (options.values ? 'tok3n' : undefined),
    values: options.values ? options.values.map(compactPeer) : undefined,
  };
  return bencode({
    ip: options.ip ? compactPeer(options.ip) : undefined,
    r,
    t: options.transactionId ?? 'aa',
    v: options.version,
    y: 'r',
  });
}

/** A KRPC error: `d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee`. */
export function dhtError(code = 201, message = 'A Generic Error Ocurred', transactionId = 'aa'): Uint8Array {
  return bencode({ e: [code, message], t: transactionId, y: 'e' });
}

// ---- HTTP tracker (BEP 3, 23, 7) ----------------------------------------------------------------

/** %-escapes every byte that is not unreserved, as clients escape info_hash and peer_id. */
export function percentEscape(bytes: Uint8Array | readonly number[]): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9.\-_~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface AnnounceRequestOptions {
  /** Path before the query (private trackers: `/<passkey>/announce`). */
  path?: string;
  infoHash?: string | Uint8Array;
  peerId?: string | Uint8Array;
  port?: number;
  event?: 'started' | 'completed' | 'stopped';
  numwant?: number;
  host?: string;
  userAgent?: string;
}

/** `GET /announce?info_hash=…&peer_id=…&port=…&uploaded=0&downloaded=0&left=…&event=…&compact=1 HTTP/1.1`. */
export function announceRequest(options: AnnounceRequestOptions = {}): string {
  const query = [
    `info_hash=${percentEscape(binary(options.infoHash ?? EXAMPLE_INFO_HASH, 20))}`,
    `peer_id=${percentEscape(binary(options.peerId ?? EXAMPLE_PEER_ID, 20))}`,
    `port=${options.port ?? 51413}`,
    'uploaded=0',
    'downloaded=0',
    'left=16777216',
    'numwant=' + String(options.numwant ?? 80),
    'key=1a2b3c4d',
    'compact=1',
    'supportcrypto=1',
    `event=${options.event ?? 'started'}`,
  ].join('&');
  return (
    `GET ${options.path ?? '/announce'}?${query} HTTP/1.1\r\n` +
    `Host: ${options.host ?? 'tracker.example.net:6969'}\r\n` +
    `User-Agent: ${options.userAgent ?? 'Transmission/4.0.6'}\r\n` +
    'Accept: */*\r\nAccept-Encoding: deflate, gzip\r\n\r\n'
  );
}

export interface AnnounceResponseOptions {
  peers?: readonly Endpoint[];
  peers6?: readonly Endpoint[];
  /** The original dictionary form (`peers` a list of `{ip, peer id, port}`) instead of compact. */
  dictionaryPeers?: boolean;
  interval?: number;
  /** HTTP head before the body; false: the bencoded body alone. */
  head?: boolean;
  /** Content-Type of the head. */
  contentType?: string;
}

/** The tracker's bencoded answer: `d8:completei…e10:incompletei…e8:intervali…e5:peers<6N>:…[6:peers6…]e`. */
export function announceBody(options: AnnounceResponseOptions = {}): Uint8Array {
  const peers = options.peers ?? [];
  const dictionaryPeers = options.dictionaryPeers === true;
  return bencode({
    complete: 3,
    incomplete: 5,
    interval: options.interval ?? 1800,
    'min interval': 900,
    peers: dictionaryPeers ? peers.map((peer, i) => ({ ip: peer.ip, 'peer id': `-lt0D60-peer${String(i).padStart(8, '0')}`, port: peer.port })) : compactPeers(peers),
    peers6: options.peers6 ? compactPeers(options.peers6) : undefined,
  });
}

/** The HTTP response with the bencoded body (`head: false` for the body alone). */
export function announceResponse(options: AnnounceResponseOptions = {}): Uint8Array {
  const body = announceBody(options);
  if (options.head === false) return body;
  const head = `HTTP/1.1 200 OK\r\nContent-Type: ${options.contentType ?? 'text/plain'}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return concat(latin1(head), body);
}

// ---- UDP tracker (BEP 15) -----------------------------------------------------------------------

export const UdpTrackerAction = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;

/** Connect request (16 bytes): magic, action 0, transaction id. */
export function udpTrackerConnect(transactionId = 0x1a2b3c4d): Uint8Array {
  return Uint8Array.from([...UDP_TRACKER_MAGIC, ...uint32(UdpTrackerAction.connect), ...uint32(transactionId)]);
}

/** Connect response (16 bytes): action 0, transaction id, connection id. */
export function udpTrackerConnectResponse(transactionId = 0x1a2b3c4d, connectionId: bigint = 0x0102030405060708n): Uint8Array {
  return Uint8Array.from([...uint32(UdpTrackerAction.connect), ...uint32(transactionId), ...uint64(connectionId)]);
}

export interface UdpAnnounceOptions {
  connectionId?: bigint;
  transactionId?: number;
  infoHash?: string | Uint8Array;
  peerId?: string | Uint8Array;
  /** 0 none, 1 completed, 2 started, 3 stopped. */
  event?: number;
  numWant?: number;
  port?: number;
  /** BEP 41 options after the 98 bytes (e.g. `02 0a /announce?x`). */
  options?: Uint8Array;
}

/** Announce request (98 bytes + BEP 41 options). */
export function udpTrackerAnnounce(options: UdpAnnounceOptions = {}): Uint8Array {
  return concat(
    uint64(options.connectionId ?? 0x0102030405060708n),
    uint32(UdpTrackerAction.announce),
    uint32(options.transactionId ?? 0x2b3c4d5e),
    binary(options.infoHash ?? EXAMPLE_INFO_HASH, 20),
    binary(options.peerId ?? EXAMPLE_PEER_ID, 20),
    uint64(0),
    uint64(16777216),
    uint64(0),
    uint32(options.event ?? 2),
    uint32(0),
    uint32(0x5eed1234),
    uint32((options.numWant ?? -1) >>> 0),
    uint16(options.port ?? 51413),
    options.options ?? [],
  );
}

export interface UdpAnnounceResponseOptions {
  transactionId?: number;
  interval?: number;
  leechers?: number;
  seeders?: number;
  /** IPv4 peers (6 bytes each) or, all IPv6, 18 bytes each: the tracker answers in its flow's family. */
  peers?: readonly Endpoint[];
}

/** Announce response (20 + 6N bytes, or 20 + 18N over IPv6). */
export function udpTrackerAnnounceResponse(options: UdpAnnounceResponseOptions = {}): Uint8Array {
  return concat(
    uint32(UdpTrackerAction.announce),
    uint32(options.transactionId ?? 0x2b3c4d5e),
    uint32(options.interval ?? 1800),
    uint32(options.leechers ?? 5),
    uint32(options.seeders ?? 3),
    compactPeers(options.peers ?? []),
  );
}

// ---- Local Service Discovery (BEP 14) ------------------------------------------------------------

export interface LsdOptions {
  port?: number;
  /** One or more info hashes (40 hex each); BEP 14 allows the header to repeat. */
  infoHashes?: readonly string[];
  ipv6?: boolean;
  cookie?: string;
}

/** `BT-SEARCH * HTTP/1.1` with Host (the group), Port, Infohash lines, optional cookie, blank line. */
export function lsdSearch(options: LsdOptions = {}): string {
  const host = options.ipv6 ? `[${LSD_IPV6_GROUP}]:${LSD_PORT}` : `${LSD_IPV4_GROUP}:${LSD_PORT}`;
  const hashes = options.infoHashes ?? [EXAMPLE_INFO_HASH.toUpperCase()];
  return (
    `BT-SEARCH * HTTP/1.1\r\nHost: ${host}\r\nPort: ${options.port ?? 61197}\r\n` +
    hashes.map((hash) => `Infohash: ${hash}\r\n`).join('') +
    (options.cookie === undefined ? '' : `cookie: ${options.cookie}\r\n`) +
    '\r\n\r\n'
  );
}

// ---- MSE / PE ------------------------------------------------------------------------------------

/**
 * An MSE/PE first payload: 96 bytes standing for the DH public key Ya, then `padLength` (0–512)
 * pad bytes, all pseudo-random from `seed`: what a real one looks like on the wire (high entropy,
 * no fixed byte anywhere). Real DH values are not needed: nothing on the wire can check them.
 */
export function mseFirstPayload(options: { padLength?: number; seed?: number } = {}): Uint8Array {
  const padLength = options.padLength ?? 0;
  if (!(Number.isInteger(padLength) && padLength >= 0 && padLength <= 512)) throw new Error('MSE padding is 0-512 bytes');
  return randomBytes(96 + padLength, options.seed ?? 0x5eed);
}

/** `length` pseudo-random bytes from a seed (encrypted streams, MSE payloads). */
export function randomBytes(length: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}
