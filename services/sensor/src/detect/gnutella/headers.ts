/**
 * The header lines after a Gnutella start line (start-line.ts), and what they say:
 *
 * - In a handshake or its answer (200 and 503 alike, families.md §3.1): `X-Try-Ultrapeers` and
 *   `X-Try` (`ip:port,ip:port,…`) and G2's `X-Try-Hubs` (`ip:port YYYY-MM-DDThh:mmZ,…`) name
 *   other servents; `Listen-IP`, `X-My-Address` and `Node` name the sender's own address, learned
 *   only from an answer from outside (in the inside host's own handshake they name the
 *   organisation's public address). `Remote-IP` is the receiver as seen, never learned.
 * - In a download request: whether a header only Gnutella clients send is there — `X-Gnutella-*`,
 *   `X-Alt`, `X-NAlt`, `X-Features`, `X-Queue`, `X-Node`, `X-FW-Node-Info`. A page in a browser
 *   can make it send the request line (a link, an image), never these headers (custom headers to
 *   another origin need that origin's consent first), so they are what makes a download
 *   identifying. `X-Queue` alone is also Shareaza's BitTorrent/HTTP; on these request lines it
 *   means Gnutella all the same.
 *
 * Everything is read on bytes; a string is made only for an address that parsed.
 */
import type { Evidence, NamedPeer } from '../module.js';
import { HeaderLines, ascii, headerValueStart, parseIpv4Endpoint, printable, startsWithCaseless, trimEnd } from '../http-headers.js';
import { GnutellaRule, GnutellaVia, MAX_PEERS, evidence } from './rules.js';
import { StartKind, couldStartGnutella, startKind } from './start-line.js';

const X_TRY_ULTRAPEERS = ascii('x-try-ultrapeers');
const X_TRY = ascii('x-try');
const X_TRY_HUBS = ascii('x-try-hubs');
const OWN_ADDRESS_HEADERS = [ascii('listen-ip'), ascii('x-my-address'), ascii('node')];
const USER_AGENT = ascii('user-agent');
/** Header-name prefixes (with their colon where the name is whole) only Gnutella clients send. */
const GNUTELLA_ONLY_HEADERS = [ascii('x-gnutella-'), ascii('x-alt:'), ascii('x-nalt:'), ascii('x-features:'), ascii('x-queue:'), ascii('x-node:'), ascii('x-fw-node-info:')];

/** One direction's head while it spans segments. */
export class HeadScan {
  kind: StartKind = StartKind.none;
  /** The direction's rule was reported. */
  fired = false;
  /** A Gnutella-only header was seen (downloads). */
  gnutellaHeader = false;
  /** Peers named so far in this direction, against MAX_PEERS.handshake. */
  peersNamed = 0;
}

/** What one packet of a head completed. Reused for every packet; holds no bytes of its own. */
export class HeadFindings {
  abandoned = false;
  fromInside = false;
  peers: NamedPeer[] | null = null;
  private buf: Uint8Array | null = null;
  private agentStart = 0;
  private agentEnd = 0;

  reset(fromInside: boolean): void {
    this.abandoned = false;
    this.fromInside = fromInside;
    this.peers = null;
    this.buf = null;
  }

  noteAgent(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf;
    this.agentStart = start;
    this.agentEnd = end;
  }

  /**
   * The evidence for this packet: the direction's rule the first time it is known, later only
   * when the packet names peers. A download is identifying once a Gnutella-only header shows,
   * supporting when its block ended (`headEnded`) without one.
   */
  toEvidence(scan: HeadScan, headEnded: boolean): Evidence | null {
    const rule = ruleOf(scan, headEnded);
    if (rule === null) return null;
    if (scan.fired) return this.peers === null ? null : evidence(rule, { peers: this.peers });
    scan.fired = true;
    const detail = this.buf === null ? undefined : printable(this.buf, this.agentStart, this.agentEnd);
    return evidence(rule, { detail, peers: this.peers });
  }
}

function ruleOf(scan: HeadScan, headEnded: boolean): GnutellaRule | null {
  switch (scan.kind) {
    case StartKind.connect:
      return GnutellaRule.handshake;
    case StartKind.reply:
      return GnutellaRule.handshakeReply;
    case StartKind.giv:
      return GnutellaRule.giv;
    case StartKind.download:
      if (scan.gnutellaHeader) return GnutellaRule.download;
      return headEnded ? GnutellaRule.downloadRequest : null;
    default:
      return null;
  }
}

/** Examines every complete line the walker has, in order, until the block ends. */
export function examineHead(lines: HeaderLines, scan: HeadScan, findings: HeadFindings): void {
  // While the start line is incomplete, each new segment must keep it a possible start.
  if (lines.nextIndex === 0 && !couldStartGnutella(lines.buf, lines.resumeAt, lines.limit)) {
    findings.abandoned = true;
    return;
  }
  while (lines.next()) {
    if (lines.index === 0) {
      scan.kind = startKind(lines.buf, lines.lineStart, lines.lineEnd);
      if (scan.kind === StartKind.none) {
        findings.abandoned = true;
        return;
      }
    } else if (scan.kind === StartKind.download) {
      if (!scan.gnutellaHeader) scan.gnutellaHeader = isGnutellaOnlyHeader(lines);
      examineAgent(lines, findings);
    } else {
      examineHandshakeHeader(lines, scan, findings);
    }
  }
}

function isGnutellaOnlyHeader(lines: HeaderLines): boolean {
  const { buf, lineStart, lineEnd } = lines;
  const first = buf[lineStart];
  if (first !== 0x58 && first !== 0x78 /* X, x */) return false;
  for (const name of GNUTELLA_ONLY_HEADERS) if (startsWithCaseless(buf, lineStart, lineEnd, name)) return true;
  return false;
}

function examineAgent(lines: HeaderLines, findings: HeadFindings): void {
  const value = headerValueStart(lines.buf, lines.lineStart, lines.lineEnd, USER_AGENT);
  if (value >= 0) findings.noteAgent(lines.buf, value, trimEnd(lines.buf, value, lines.lineEnd));
}

function examineHandshakeHeader(lines: HeaderLines, scan: HeadScan, findings: HeadFindings): void {
  const { buf, lineStart, lineEnd } = lines;
  const first = buf[lineStart]! | 0x20;
  if (first === 0x78 /* x */) {
    let value = headerValueStart(buf, lineStart, lineEnd, X_TRY_ULTRAPEERS);
    if (value < 0) value = headerValueStart(buf, lineStart, lineEnd, X_TRY);
    if (value >= 0) return appendList(buf, value, lineEnd, GnutellaVia.xTry, scan, findings);
    value = headerValueStart(buf, lineStart, lineEnd, X_TRY_HUBS);
    if (value >= 0) return appendList(buf, value, lineEnd, GnutellaVia.xTryHubs, scan, findings);
  }
  if (first === 0x75 /* u */) return examineAgent(lines, findings);
  if (findings.fromInside) return;
  for (const name of OWN_ADDRESS_HEADERS) {
    const value = headerValueStart(buf, lineStart, lineEnd, name);
    if (value >= 0) return appendList(buf, value, lineEnd, GnutellaVia.listenIp, scan, findings, 1);
  }
}

/**
 * Appends the `ip:port` entries of a comma-separated list in buf[start, end); anything after a
 * space in an entry (X-Try-Hubs' timestamp) is ignored, an entry that is not an IPv4 endpoint is
 * skipped. At most `max` entries of this list, and MAX_PEERS.handshake in the direction.
 */
function appendList(buf: Uint8Array, start: number, end: number, via: string, scan: HeadScan, findings: HeadFindings, max: number = MAX_PEERS.handshake): void {
  let taken = 0;
  let entry = start;
  while (entry < end && taken < max && scan.peersNamed < MAX_PEERS.handshake) {
    while (entry < end && (buf[entry] === 0x20 || buf[entry] === 0x09)) entry++;
    let comma = entry;
    while (comma < end && buf[comma] !== 0x2c /* , */) comma++;
    let endpointEnd = entry;
    while (endpointEnd < comma && buf[endpointEnd] !== 0x20) endpointEnd++;
    const peer = endpointEnd > entry ? parseIpv4Endpoint(buf, entry, endpointEnd, via) : null;
    if (peer !== null) {
      (findings.peers ??= []).push(peer);
      taken++;
      scan.peersNamed++;
    }
    entry = comma + 1;
  }
}
