/**
 * FastTrack payloads, byte-exact to giFT-FastTrack's PROTOCOL notes (see
 * /work/shared/protocols/README.md §1.6), for detector tests, engine tests and synthetic
 * captures. Binary messages come back as bytes; HTTP heads as latin1 text (packets.ts accepts
 * either as a payload). Multi-byte integers are big-endian.
 */

/** Network names seen on FastTrack, with the node ping length each gives. */
export const NETWORKS = { KaZaA: 12, Grokster: 15, fileshare: 16, MusicCity: 16 } as const;
export type NetworkName = keyof typeof NETWORKS;

/** The minimum encryption type giFT puts in its node pings (`00 00 00 29`). */
export const GIFT_ENC_TYPE = 0x29;
/** The "rand" giFT sends at the start of a session handshake. */
export const GIFT_RAND = 0xfa00b62b;
/** The example hash from giFT's PROTOCOL (20 bytes as 40 hex digits). */
export const EXAMPLE_HASH = '8e0cda92da564448da5ec5070f3231907abac2a6';

function uint32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function uint16(value: number): number[] {
  return [(value >>> 8) & 0xff, value & 0xff];
}

function latin1(text: string): number[] {
  return [...Buffer.from(text, 'latin1')];
}

function ipv4(text: string): number[] {
  const octets = text.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new Error(`not IPv4: ${text}`);
  return octets;
}

export interface PingOptions {
  network?: string;
  /** Bytes 1–4, the minimum encryption type; giFT sends 0x29. */
  encType?: number;
}

/** UDP node ping, client → node: `27 | enc type (4) | 80 | name | 00` (12 bytes for KaZaA). */
export function nodePing(options: PingOptions = {}): Uint8Array {
  const { network = 'KaZaA', encType = GIFT_ENC_TYPE } = options;
  return Uint8Array.from([0x27, ...uint32(encType), 0x80, ...latin1(network), 0x00]);
}

export interface PongOptions {
  network?: string;
  encType?: number;
  /** Byte 6: goes up by one about every 30 minutes. */
  counter?: number;
  /** Bytes 7–8: unknown (out-degree or children?). */
  unknown?: number;
  /** Byte 9: load in percent. */
  load?: number;
  /** Byte 10: unknown. */
  unknown2?: number;
}

/**
 * UDP node pong, node → client:
 * `28 | enc type (4) | 00 | counter | unknown (2) | load | unknown | name | 00` (17 bytes for KaZaA).
 */
export function nodePong(options: PongOptions = {}): Uint8Array {
  const { network = 'KaZaA', encType = GIFT_ENC_TYPE, counter = 7, unknown = 0x0102, load = 42, unknown2 = 0 } = options;
  return Uint8Array.from([0x28, ...uint32(encType), 0x00, counter, ...uint16(unknown), load, unknown2, ...latin1(network), 0x00]);
}

export interface Pong2Options {
  encType?: number;
  /** Byte 5: 1 or 2. */
  kind?: number;
  /** Bytes 9–12. */
  id?: number;
  /** With a node, flag (byte 6) is 1 and the node follows: IPv4, port, 2 unknown bytes (21 bytes); else 13 bytes. */
  node?: { ip: string; port: number; unknown?: number };
}

/** UDP pong-2, node → client: `29 | enc type (4) | 01/02 | flag | 00 00 | ID (4) [| IPv4 | port | ??]`. */
export function nodePong2(options: Pong2Options = {}): Uint8Array {
  const { encType = GIFT_ENC_TYPE, kind = 1, id = 0x1234abcd, node } = options;
  const head = [0x29, ...uint32(encType), kind, node ? 1 : 0, 0x00, 0x00, ...uint32(id)];
  if (!node) return Uint8Array.from(head);
  return Uint8Array.from([...head, ...ipv4(node.ip), ...uint16(node.port), ...uint16(node.unknown ?? 0)]);
}

/** UDP 0x2A, client → node after a pong-2 with a node: `2A | ID (4)` (5 bytes). */
export function nodeId(id = 0x1234abcd): Uint8Array {
  return Uint8Array.from([0x2a, ...uint32(id)]);
}

/** Session handshake, client → supernode: rand (4), outgoing cipher seed (4), encryption type (4). */
export function sessionHello(options: { rand?: number; seed?: number; encType?: number } = {}): Uint8Array {
  const { rand = GIFT_RAND, seed = 0x0badf00d, encType = 0 } = options;
  return Uint8Array.from([...uint32(rand), ...uint32(seed), ...uint32(encType)]);
}

/** Session handshake, supernode → client: incoming cipher seed (4), encryption type (4). */
export function sessionHelloReply(options: { seed?: number; encType?: number } = {}): Uint8Array {
  const { seed = 0x13572468, encType = GIFT_ENC_TYPE } = options;
  return Uint8Array.from([...uint32(seed), ...uint32(encType)]);
}

function head(startLine: string, headers: readonly (readonly [string, string])[]): string {
  return `${startLine}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

export interface HashRequestOptions {
  hash?: string;
  method?: 'GET' | 'HEAD';
  /** Host header value (`ip:port` of the uploader). */
  host?: string;
  userAgent?: string;
  username?: string;
  network?: string;
  /** `ip:port` values for X-Kazaa-IP / X-Kazaa-SupernodeIP, left out when undefined. */
  kazaaIp?: string;
  supernodeIp?: string;
  range?: string;
  /** Further header lines after the Kazaa ones. */
  extraHeaders?: readonly (readonly [string, string])[];
}

/**
 * A Kazaa download request: `GET /.hash=<40 hex> HTTP/1.1` with the headers Kazaa sends
 * (`UserAgent` misspelt, X-Kazaa-*), ending with the blank line.
 */
export function hashRequest(options: HashRequestOptions = {}): string {
  const headers: (readonly [string, string])[] = [
    ['Host', options.host ?? '203.0.113.7:1214'],
    ['UserAgent', options.userAgent ?? 'KazaaClient Jan 18 2003 19:58:49'],
    ['X-Kazaa-Username', options.username ?? 'alice'],
    ['X-Kazaa-Network', options.network ?? 'KaZaA'],
  ];
  if (options.kazaaIp !== undefined) headers.push(['X-Kazaa-IP', options.kazaaIp]);
  if (options.supernodeIp !== undefined) headers.push(['X-Kazaa-SupernodeIP', options.supernodeIp]);
  headers.push(['Connection', 'close'], ['Range', options.range ?? 'bytes=0-']);
  headers.push(...(options.extraHeaders ?? []));
  return head(`${options.method ?? 'GET'} /.hash=${options.hash ?? EXAMPLE_HASH} HTTP/1.1`, headers);
}

export interface UploadReplyOptions {
  status?: string;
  username?: string;
  network?: string;
  /** The uploader's own `ip:port` (X-Kazaa-IP); left out when null. */
  kazaaIp?: string | null;
  /** Its supernode's `ip:port` (X-Kazaa-SupernodeIP); left out when null. */
  supernodeIp?: string | null;
  contentLength?: number;
  /** Body bytes after the head (never examined by detectors). */
  body?: string;
}

/** An upload reply as giFT-FastTrack sends it (fst_upload.c), head and optional body. */
export function uploadReply(options: UploadReplyOptions = {}): string {
  const length = options.contentLength ?? 1000;
  const headers: (readonly [string, string])[] = [
    ['Server', 'KazaaClient Jan 18 2003 19:58:49'],
    ['Connection', 'close'],
    ['Accept-Ranges', 'bytes'],
    ['X-Kazaa-Username', options.username ?? 'bob'],
    ['X-Kazaa-Network', options.network ?? 'KaZaA'],
  ];
  const kazaaIp = options.kazaaIp === undefined ? '203.0.113.7:1214' : options.kazaaIp;
  const supernodeIp = options.supernodeIp === undefined ? '198.51.100.20:2121' : options.supernodeIp;
  if (kazaaIp !== null) headers.push(['X-Kazaa-IP', kazaaIp]);
  if (supernodeIp !== null) headers.push(['X-Kazaa-SupernodeIP', supernodeIp]);
  headers.push(
    ['Content-Type', 'audio/mpeg'],
    ['Content-Range', `bytes 0-${length - 1}/${length}`],
    ['Content-Length', String(length)],
    ['X-KazaaTag', '3==jgzaktpWREjaXsUHDzIxkHq6wqY='],
  );
  return head(`HTTP/1.1 ${options.status ?? '206 Partial Content'}`, headers) + (options.body ?? '');
}

/** The push line a firewalled uploader sends after connecting back: `GIVE <push id>\r\n`. */
export function giveLine(pushId: number | string = 4253679545): string {
  return `GIVE ${pushId}\r\n`;
}
