/**
 * FastTrack (Kazaa, KazaaLite, iMesh, Grokster): the UDP node ping/pong that ftwall was built
 * on, the clear-text HTTP of file transfers, and — as supporting evidence only — the shape of
 * the encrypted session handshake. Byte layouts: /work/shared/protocols/README.md §1.6 (from
 * giFT-FastTrack's PROTOCOL); what earlier tools matched: §2.
 *
 * Cost: this runs on the first packets of every flow the gateway queues, so a packet that
 * cannot match costs a few byte compares and allocates nothing. Strings and objects are made
 * only for a packet that matches.
 */
import { ruleId } from '@p2pwall/common';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/packet.js';
import type { DirectionDigest, Evidence, FlowDigest, FlowMemory, NamedPeer, PacketReader, ProtocolModule } from '../module.js';
import {
  HEADER_BLOCK_CAPACITY,
  HeaderLines,
  StreamHead,
  ascii,
  couldStartWith,
  headerValueStart,
  printable,
  startsWith,
  startsWithCaseless,
  trimEnd,
  walkFirstSegment,
} from '../http-headers.js';

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

/** Network names seen on FastTrack (giFT PROTOCOL); any other printable name is accepted too. */
export const KNOWN_NETWORK_NAMES: readonly string[] = ['KaZaA', 'fileshare', 'Grokster', 'MusicCity'];

// ---------------------------------------------------------------------------------------------
// UDP: node ping 0x27, pong 0x28, pong-2 0x29, id 0x2A.

const UDP_PING = 0x27;
const UDP_PONG = 0x28;
const UDP_PONG2 = 0x29;
const UDP_ID = 0x2a;
const MAX_NETWORK_NAME = 32;
const PING_NAME_OFFSET = 6;
const PONG_NAME_OFFSET = 11;
/** The longest datagram any UDP rule accepts: a pong with a 32-character name. */
const MAX_UDP_PAYLOAD = PONG_NAME_OFFSET + MAX_NETWORK_NAME + 1;

const knownNameBytes = KNOWN_NETWORK_NAMES.map((name) => ({ name, bytes: ascii(name) }));

/**
 * The network name in buf[start, end - 1) when buf[end - 1] is its NUL terminator and it is
 * 1–32 printable ASCII characters; otherwise null.
 */
function networkName(buf: Uint8Array, start: number, end: number): string | null {
  const nameEnd = end - 1;
  const length = nameEnd - start;
  if (length < 1 || length > MAX_NETWORK_NAME || buf[nameEnd] !== 0) return null;
  for (let i = start; i < nameEnd; i++) {
    const byte = buf[i]!;
    if (byte < 0x20 || byte > 0x7e) return null;
  }
  for (const known of knownNameBytes) {
    if (known.bytes.length === length && startsWith(buf, start, nameEnd, known.bytes)) return known.name;
  }
  return printable(buf, start, nameEnd, MAX_NETWORK_NAME);
}

/**
 * FastTrack nodes listen on one port for TCP and UDP alike (giFT PROTOCOL), so every peer it
 * learns is blocked for both.
 */
function evidence(rule: FastTrackRule, detail?: string, peers?: readonly NamedPeer[] | null): Evidence {
  if (detail === undefined && !peers) return { rule, supporting: false, transport: 'both' };
  if (!peers) return { rule, supporting: false, transport: 'both', detail };
  return { rule, supporting: false, transport: 'both', detail, peers };
}

/** Whether the UDP header's length agrees with the payload we hold: not cut by a snap length or a fragment. */
function wholeDatagram(packet: PacketReader): boolean {
  if (packet.isFragment) return false;
  const l4 = packet.l4Offset;
  const declared = ((packet.buf[l4 + 4]! << 8) | packet.buf[l4 + 5]!) - 8;
  return declared === packet.payloadLength;
}

/** `concluded`: this module already found FastTrack on the flow (pong-2 and id messages say little alone). */
function inspectUdp(packet: PacketReader, concluded: boolean): Evidence | null {
  const length = packet.payloadLength;
  if (length < 5 || length > MAX_UDP_PAYLOAD) return null;
  const buf = packet.buf;
  const p = packet.payloadOffset;
  switch (buf[p]) {
    case UDP_PING:
      return nodePing(buf, p, length, packet);
    case UDP_PONG:
      return nodePong(buf, p, length, packet);
    case UDP_PONG2:
      return concluded ? nodePong2(buf, p, length, packet) : null;
    case UDP_ID:
      // Five bytes (0x2A + a 4-byte ID) say little alone; only on a flow already seen as FastTrack.
      return length === 5 && concluded && wholeDatagram(packet) ? evidence(FastTrackRule.udpId) : null;
    default:
      return null;
  }
}

/** `27 | min. enc type (4) | 80 | name | 00`: 12 bytes for KaZaA. */
function nodePing(buf: Uint8Array, p: number, length: number, packet: PacketReader): Evidence | null {
  if (length < PING_NAME_OFFSET + 2 || buf[p + 5] !== 0x80 || buf[p + length - 1] !== 0) return null;
  if (!wholeDatagram(packet)) return null;
  const name = networkName(buf, p + PING_NAME_OFFSET, p + length);
  return name === null ? null : evidence(FastTrackRule.udpPing, name);
}

/** `28 | min. enc type (4) | 00 | counter | 2 unknown | load | unknown | name | 00`: 17 bytes for KaZaA. */
function nodePong(buf: Uint8Array, p: number, length: number, packet: PacketReader): Evidence | null {
  if (length < PONG_NAME_OFFSET + 2 || buf[p + 5] !== 0x00 || buf[p + length - 1] !== 0) return null;
  if (!wholeDatagram(packet)) return null;
  const name = networkName(buf, p + PONG_NAME_OFFSET, p + length);
  return name === null ? null : evidence(FastTrackRule.udpPong, name);
}

/**
 * `29 | min. enc type (4) | 01/02 | flag 00/01 | 00 00 | ID (4)`, and with flag 1
 * `| IPv4 (4) | port (2) | 2 unknown`: 13 or 21 bytes. The address names another node.
 */
function nodePong2(buf: Uint8Array, p: number, length: number, packet: PacketReader): Evidence | null {
  const kind = buf[p + 5];
  const flag = buf[p + 6];
  if ((kind !== 1 && kind !== 2) || buf[p + 7] !== 0 || buf[p + 8] !== 0) return null;
  if (!((flag === 0 && length === 13) || (flag === 1 && length === 21))) return null;
  if (!wholeDatagram(packet)) return null;
  if (flag === 0) return evidence(FastTrackRule.udpPong2);
  const port = (buf[p + 17]! << 8) | buf[p + 18]!;
  const ip = `${buf[p + 13]}.${buf[p + 14]}.${buf[p + 15]}.${buf[p + 16]}`;
  const named: NamedPeer[] | null = port === 0 ? null : [{ ip, port, transport: 'both', via: FastTrackVia.udpPong2Node }];
  return evidence(FastTrackRule.udpPong2, `${ip}:${port}`, named);
}

// ---------------------------------------------------------------------------------------------
// TCP: the clear-text head of a stream (transfers are plain HTTP; pushes start with GIVE).

/** TCP rules, strongest first: a packet that completes several reports the first. */
const TCP_RULES = [
  FastTrackRule.httpHashRequest,
  FastTrackRule.xKazaaHeader,
  FastTrackRule.kazaaUserAgent,
  FastTrackRule.httpFastTrackPath,
  FastTrackRule.givePush,
  FastTrackRule.peerEnablerUserAgent,
] as const;
const HASH_REQUEST = 0;
const X_KAZAA_HEADER = 1;
const KAZAA_USER_AGENT = 2;
const FASTTRACK_PATH = 3;
const GIVE_PUSH = 4;
const PEERENABLER_USER_AGENT = 5;

const GET = ascii('GET ');
const HEAD = ascii('HEAD ');
const GIVE = ascii('GIVE ');
const HTTP = ascii('HTTP/');
const HTTP_1 = ascii('HTTP/1.');
const HASH_PATH = ascii('/.hash=');
const HASH_HEX_LENGTH = 40;
const FASTTRACK_PATHS = ['/.download/', '/.supernode', '/.status', '/.network', '/.files'].map(ascii);
/** ` HTTP/1.x` at the end of a request line. */
const VERSION_SUFFIX_LENGTH = 9;
const MAX_PUSH_ID = 0xffffffff;

interface KazaaHeader {
  lowerName: Uint8Array;
  /** How operators see it (the detail of the evidence). */
  name: string;
  /** The peer-hint source when the value is an `a.b.c.d:port` endpoint. */
  hintVia: string | null;
}

function kazaaHeader(name: string, hintVia: string | null = null): KazaaHeader {
  return { lowerName: ascii(name.toLowerCase()), name, hintVia };
}

const KAZAA_HEADERS: readonly KazaaHeader[] = [
  kazaaHeader('X-Kazaa-Username'),
  kazaaHeader('X-Kazaa-Network'),
  kazaaHeader('X-Kazaa-IP', FastTrackVia.xKazaaIp),
  kazaaHeader('X-Kazaa-SupernodeIP', FastTrackVia.xKazaaSupernodeIp),
  kazaaHeader('X-Kazaa-XferId'),
  kazaaHeader('X-Kazaa-XferUid'),
  kazaaHeader('X-KazaaTag'),
];

const USER_AGENT_NAMES = [ascii('useragent'), ascii('user-agent')];
const KAZAA_CLIENT = ascii('kazaaclient');
const PEER_ENABLER = ascii('peerenabler/');

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

/** Whether a stream whose first bytes are buf[start, end) can still begin a header block FastTrack uses. */
function couldStartHead(buf: Uint8Array, start: number, end: number): boolean {
  const first = buf[start];
  if (first === 0x47 /* G */) return couldStartWith(buf, start, end, GET) || couldStartWith(buf, start, end, GIVE);
  if (first === 0x48 /* H */) return couldStartWith(buf, start, end, HEAD) || couldStartWith(buf, start, end, HTTP);
  return false;
}

/**
 * Reads 1 to `maxDigits` decimal digits at buf[start, end) into `parsed`; returns the offset
 * after them, or -1 when there is no digit or more than `maxDigits` in a row.
 */
function readDecimal(buf: Uint8Array, start: number, end: number, maxDigits: number, parsed: { value: number }): number {
  let i = start;
  let value = 0;
  while (i < end && isDigit(buf[i])) {
    if (i - start === maxDigits) return -1;
    value = value * 10 + buf[i]! - 0x30;
    i++;
  }
  if (i === start) return -1;
  parsed.value = value;
  return i;
}

const decimal = { value: 0 };

/** `a.b.c.d:port` (octets 0–255, port 1–65535, blanks around allowed) → a named peer; otherwise null. */
export function parseIpv4Endpoint(buf: Uint8Array, start: number, end: number, via: string): NamedPeer | null {
  end = trimEnd(buf, start, end);
  let i = start;
  const octets: number[] = [];
  for (let octet = 0; octet < 4; octet++) {
    i = readDecimal(buf, i, end, 3, decimal);
    if (i < 0 || decimal.value > 255 || i >= end) return null;
    if (buf[i] !== (octet < 3 ? 0x2e /* . */ : 0x3a) /* : */) return null;
    octets.push(decimal.value);
    i++;
  }
  i = readDecimal(buf, i, end, 5, decimal);
  if (i !== end || decimal.value < 1 || decimal.value > 65535) return null;
  return { ip: octets.join('.'), port: decimal.value, transport: 'both', via };
}

/**
 * What one packet of a stream head completed: the strongest new rule (with where its detail
 * lies), and every peer hint. Reused for each packet; holds no bytes of its own.
 */
class HeadFindings {
  /** Rules reported earlier in this direction (bit i: TCP_RULES[i]). */
  private alreadyFired = 0;
  /** Rules completed by this packet, new or not. */
  private completed = 0;
  /** The strongest new rule (index into TCP_RULES), -1 for none. */
  private best = -1;
  private detail: string | undefined = undefined;
  private detailBuf: Uint8Array | null = null;
  private detailStart = 0;
  private detailEnd = 0;
  private hints: NamedPeer[] | null = null;
  /** The header that gave the first hint (the detail when only hints are new). */
  private hintHeader: string | undefined = undefined;
  /** The stream's start line is not a request, status or GIVE line: stop looking. */
  abandoned = false;

  reset(alreadyFired: number): void {
    this.alreadyFired = alreadyFired;
    this.completed = 0;
    this.best = -1;
    this.detail = undefined;
    this.detailBuf = null;
    this.hints = null;
    this.hintHeader = undefined;
    this.abandoned = false;
  }

  /** Records rule `rule`; its detail is the constant `detail`, or the text buf[start, end) when needed. */
  found(rule: number, detail: string | undefined, buf: Uint8Array | null = null, start = 0, end = 0): void {
    this.completed |= 1 << rule;
    if ((this.alreadyFired & (1 << rule)) !== 0) return;
    if (this.best !== -1 && this.best <= rule) return;
    this.best = rule;
    this.detail = detail;
    this.detailBuf = buf;
    this.detailStart = start;
    this.detailEnd = end;
  }

  addHint(hint: NamedPeer, header: string): void {
    (this.hints ??= []).push(hint);
    this.hintHeader ??= header;
  }

  /** Rules to remember as reported in this direction once this packet's evidence is out. */
  get fired(): number {
    return this.alreadyFired | this.completed;
  }

  /**
   * The evidence for this packet, or null. A rule is reported once per direction; the one
   * exception is a later `X-Kazaa-IP`/`X-Kazaa-SupernodeIP` line whose address would otherwise
   * be lost: it is reported again as `x-kazaa-header`, carrying its hints.
   */
  toEvidence(): Evidence | null {
    if (this.best === -1) {
      return this.hints ? evidence(FastTrackRule.xKazaaHeader, this.hintHeader, this.hints) : null;
    }
    const detail = this.detailBuf ? printable(this.detailBuf, this.detailStart, this.detailEnd) : this.detail;
    return evidence(TCP_RULES[this.best]!, detail, this.hints);
  }
}

/** One direction's head while its header block spans segments. */
class DirectionScan {
  constructor(
    readonly head: StreamHead,
    public fired: number,
  ) {}
}

/** Per-flow state: only for flows whose head spans segments; done once neither direction is scanned. */
export class FastTrackFlowState {
  out: DirectionScan | null = null;
  in: DirectionScan | null = null;
}

type Memory = FlowMemory<FastTrackFlowState>;

export class FastTrackModule implements ProtocolModule<FastTrackFlowState> {
  readonly name = FASTTRACK;
  readonly transports = ['tcp', 'udp'] as const;
  readonly priority = 10;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(FastTrackRule), ...Object.values(FastTrackVia)];
  // Scratch reused on every packet (inspect is synchronous, so one set per module suffices).
  private readonly lines = new HeaderLines();
  private readonly findings = new HeadFindings();

  createState(): FastTrackFlowState {
    return new FastTrackFlowState();
  }

  isDone(state: FastTrackFlowState): boolean {
    return state.out === null && state.in === null;
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    if (packet.payloadLength <= 0) return null;
    if (packet.protocol === IPPROTO_UDP) return inspectUdp(packet, memory.concluded);
    if (packet.protocol !== IPPROTO_TCP) return null;
    return this.inspectHead(packet, flow, fromInside, memory) ?? encryptedHandshake(packet, flow, fromInside);
  }

  /** The clear-text head of this direction of the stream, if it is one FastTrack uses. */
  private inspectHead(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    const state = memory.state;
    const scan = state ? (fromInside ? state.out : state.in) : null;
    if (scan) return this.continueHead(scan, packet, fromInside, memory);
    const direction: DirectionDigest = fromInside ? flow.out : flow.in;
    // Only a direction's first payload can start a head; later ones without a scan are the rest
    // of a head already examined, or of a stream that never looked like one.
    if (direction.payloadPackets !== 1) return null;
    const start = packet.payloadOffset;
    if (!couldStartHead(packet.buf, start, start + packet.payloadLength)) return null;
    return this.startHead(packet, fromInside, memory);
  }

  private startHead(packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const lines = this.lines;
    const findings = this.findings;
    findings.reset(0);
    walkFirstSegment(lines, packet);
    this.examine(lines, findings);
    const unfinished = !findings.abandoned && !lines.blockEnded && packet.payloadLength < HEADER_BLOCK_CAPACITY;
    if (unfinished) {
      const state = memory.open();
      const scan = new DirectionScan(new StreamHead(packet, lines), findings.fired);
      if (fromInside) state.out = scan;
      else state.in = scan;
    }
    return findings.toEvidence();
  }

  private continueHead(scan: DirectionScan, packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const head = scan.head;
    if (!head.append(packet)) return null;
    const lines = this.lines;
    const findings = this.findings;
    findings.reset(scan.fired);
    head.walk(lines);
    this.examine(lines, findings);
    head.walked(lines);
    scan.fired = findings.fired;
    // A direction whose head is done frees its buffer now; the engine frees the state once both are.
    if ((findings.abandoned || head.finished) && memory.state) {
      if (fromInside) memory.state.out = null;
      else memory.state.in = null;
    }
    return findings.toEvidence();
  }

  /** Examines every complete line the walker has, in order, until the block ends. */
  private examine(lines: HeaderLines, findings: HeadFindings): void {
    // While the start line is incomplete, each new segment must keep it a possible start: a
    // stream whose first segment was just `G` is dropped as soon as `GX…` shows it is not one.
    if (lines.nextIndex === 0 && !couldStartHead(lines.buf, lines.resumeAt, lines.limit)) {
      findings.abandoned = true;
      return;
    }
    while (lines.next()) {
      if (lines.index === 0) {
        if (!examineStartLine(lines, findings)) {
          findings.abandoned = true;
          return;
        }
      } else {
        examineHeaderLine(lines, findings);
      }
    }
  }
}

/** Request (GET/HEAD), status (`HTTP/1.x nnn`) or push (`GIVE n`) line; false when it is none of these. */
function examineStartLine(lines: HeaderLines, findings: HeadFindings): boolean {
  const { buf, lineStart: start, lineEnd: end } = lines;
  if (startsWith(buf, start, end, GET)) return examineRequestLine(buf, start + GET.length, end, findings);
  if (startsWith(buf, start, end, HEAD)) return examineRequestLine(buf, start + HEAD.length, end, findings);
  if (startsWith(buf, start, end, HTTP)) return isStatusLine(buf, start, end);
  if (startsWith(buf, start, end, GIVE)) return examineGiveLine(lines, findings);
  return false;
}

/** `<target> HTTP/1.x` after the method: FastTrack's hash requests and special paths. */
function examineRequestLine(buf: Uint8Array, targetStart: number, end: number, findings: HeadFindings): boolean {
  let targetEnd = targetStart;
  while (targetEnd < end && buf[targetEnd]! > 0x20 && buf[targetEnd]! < 0x7f) targetEnd++;
  if (targetEnd === targetStart || end - targetEnd !== VERSION_SUFFIX_LENGTH || buf[targetEnd] !== 0x20) return false;
  if (!startsWith(buf, targetEnd + 1, end, HTTP_1) || !isDigit(buf[end - 1])) return false;
  if (isHashTarget(buf, targetStart, targetEnd)) {
    findings.found(HASH_REQUEST, undefined, buf, targetStart, targetEnd);
  } else if (isFastTrackPath(buf, targetStart, targetEnd)) {
    findings.found(FASTTRACK_PATH, undefined, buf, targetStart, targetEnd);
  }
  return true;
}

/** `/.hash=` and exactly 40 hex digits (the 20-byte FastTrack hash). */
function isHashTarget(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== HASH_PATH.length + HASH_HEX_LENGTH || !startsWith(buf, start, end, HASH_PATH)) return false;
  for (let i = start + HASH_PATH.length; i < end; i++) {
    if (!isHex(buf[i]!)) return false;
  }
  return true;
}

/** `/.download/…`, `/.supernode…`, `/.status…`, `/.network…`, `/.files…` */
function isFastTrackPath(buf: Uint8Array, start: number, end: number): boolean {
  for (const path of FASTTRACK_PATHS) {
    if (startsWith(buf, start, end, path)) return true;
  }
  return false;
}

/** `HTTP/1.x nnn …` */
function isStatusLine(buf: Uint8Array, start: number, end: number): boolean {
  const code = start + HTTP_1.length + 2;
  if (end - start < HTTP_1.length + 5 || !startsWith(buf, start, end, HTTP_1)) return false;
  if (!isDigit(buf[start + HTTP_1.length]) || buf[code - 1] !== 0x20) return false;
  if (!isDigit(buf[code]) || !isDigit(buf[code + 1]) || !isDigit(buf[code + 2])) return false;
  return code + 3 === end || buf[code + 3] === 0x20;
}

/** `GIVE <1–10 digits>\r\n`, the number a 32-bit push ID. What follows is the reversed HTTP exchange. */
function examineGiveLine(lines: HeaderLines, findings: HeadFindings): boolean {
  const { buf, lineEnd: end } = lines;
  const digits = lines.lineStart + GIVE.length;
  const count = end - digits;
  if (!lines.crlf || count < 1 || count > 10) return false;
  let value = 0;
  for (let i = digits; i < end; i++) {
    if (!isDigit(buf[i])) return false;
    value = value * 10 + buf[i]! - 0x30;
  }
  if (value > MAX_PUSH_ID) return false;
  findings.found(GIVE_PUSH, undefined, buf, digits, end);
  return true;
}

/** Header lines: only a line's start can name a header, so a name inside a value never counts. */
function examineHeaderLine(lines: HeaderLines, findings: HeadFindings): void {
  const first = lines.buf[lines.lineStart]! | 0x20;
  if (first === 0x78 /* x */) examineKazaaHeader(lines, findings);
  else if (first === 0x75 /* u */) examineUserAgent(lines, findings);
}

function examineKazaaHeader(lines: HeaderLines, findings: HeadFindings): void {
  const { buf, lineStart, lineEnd } = lines;
  for (const header of KAZAA_HEADERS) {
    const value = headerValueStart(buf, lineStart, lineEnd, header.lowerName);
    if (value < 0) continue;
    findings.found(X_KAZAA_HEADER, header.name);
    if (header.hintVia) {
      const hint = parseIpv4Endpoint(buf, value, lineEnd, header.hintVia);
      if (hint) findings.addHint(hint, header.name);
    }
    return;
  }
}

/** `UserAgent: KazaaClient …` (Kazaa's misspelling), `User-Agent: KazaaClient …`, `User-Agent: PeerEnabler/…`. */
function examineUserAgent(lines: HeaderLines, findings: HeadFindings): void {
  const { buf, lineStart, lineEnd } = lines;
  for (const name of USER_AGENT_NAMES) {
    const value = headerValueStart(buf, lineStart, lineEnd, name);
    if (value < 0) continue;
    if (startsWithCaseless(buf, value, lineEnd, KAZAA_CLIENT)) {
      findings.found(KAZAA_USER_AGENT, undefined, buf, value, lineEnd);
    } else if (startsWithCaseless(buf, value, lineEnd, PEER_ENABLER)) {
      findings.found(PEERENABLER_USER_AGENT, undefined, buf, value, lineEnd);
    }
    return;
  }
}

// ---------------------------------------------------------------------------------------------
// The encrypted session handshake: weak alone, so supporting evidence only.

const CLIENT_HELLO_LENGTH = 12;
const SERVER_HELLO_LENGTH = 8;

/**
 * Client → 12 bytes (rand, cipher seed, encryption type), server → 8 bytes (seed, type), on a
 * connection the inside host opened to a high port: fires on the 8-byte reply. 12/8 first
 * payloads alone are far too common to count, so this is supporting evidence: the engine counts
 * it only on a flow to an already learned peer.
 */
function encryptedHandshake(packet: PacketReader, flow: FlowDigest, fromInside: boolean): Evidence | null {
  if (fromInside || packet.payloadLength !== SERVER_HELLO_LENGTH) return null;
  if (!flow.initiatorInside || !flow.startedFresh || flow.outsidePort <= 1023) return null;
  if (flow.in.payloadPackets !== 1 || flow.out.firstPayloadLength !== CLIENT_HELLO_LENGTH) return null;
  return HANDSHAKE_EVIDENCE;
}

const HANDSHAKE_EVIDENCE: Evidence = { rule: FastTrackRule.encryptedHandshake, supporting: true, transport: 'both' };

export const fastTrack = new FastTrackModule();
