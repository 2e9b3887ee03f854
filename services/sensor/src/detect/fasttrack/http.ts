/**
 * The clear-text head of a FastTrack stream: transfers are plain HTTP (`GET /.hash=…`, `X-Kazaa-*`
 * headers, `UserAgent: KazaaClient`), pushes start with `GIVE <n>`. Works on the line walker of
 * ../http-headers.ts and allocates only for a line that matches.
 */
import type { Evidence, NamedPeer } from '../module.js';
import { HeaderLines, StreamHead, ascii, couldStartWith, headerValueStart, isDigit, isHexDigit, parseIpv4Endpoint, printable, startsWith, startsWithCaseless } from '../http-headers.js';
import { FastTrackRule, FastTrackVia, evidence } from './rules.js';


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

/** Whether a stream whose first bytes are buf[start, end) can still begin a header block FastTrack uses. */
export function couldStartHead(buf: Uint8Array, start: number, end: number): boolean {
  const first = buf[start];
  if (first === 0x47 /* G */) return couldStartWith(buf, start, end, GET) || couldStartWith(buf, start, end, GIVE);
  if (first === 0x48 /* H */) return couldStartWith(buf, start, end, HEAD) || couldStartWith(buf, start, end, HTTP);
  return false;
}

/**
 * What one packet of a stream head completed: the strongest new rule (with where its detail
 * lies), and every peer hint. Reused for each packet; holds no bytes of its own.
 */
export class HeadFindings {
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
export class DirectionScan {
  constructor(
    readonly head: StreamHead,
    public fired: number,
  ) {}
}


/** Examines every complete line the walker has, in order, until the block ends. */
export function examineHead(lines: HeaderLines, findings: HeadFindings): void {
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
    if (!isHexDigit(buf[i]!)) return false;
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
