/**
 * The first line of a TCP stream that Gnutella opens in clear text (families.md §3.1, §3.3):
 *
 * - `GNUTELLA CONNECT/0.6` (or `/0.4`): a servent opening a connection;
 * - `GNUTELLA/0.6 <3 digits> <reason>` or 0.4's `GNUTELLA OK`: the answer, 200 and 503 alike;
 * - `GIV <index>:<32 hex GUID>/<name>`: a firewalled servent answering a push;
 * - `GET <target> HTTP/1.x` whose target is `/uri-res/N2R?urn:…`, `/get/<digits>/…` or
 *   `/gnutella/…` (THEX trees, metadata, push proxies): a download.
 *
 * Only the first line of a stream counts: a web page, mail or chat that mentions any of these
 * strings carries them in a body or a later line, where they are never looked at. A browser
 * cannot be made to send any of the first three (its request line starts with a method, then
 * `/`); the download line it can (a link or an image on a web page), which is why a download
 * needs a header only Gnutella clients send before it identifies (headers.ts).
 */
import { ascii, couldStartWith, isDigit, isHexDigit, startsWith, startsWithCaseless } from '../http-headers.js';

export const StartKind = {
  none: 0,
  connect: 1,
  reply: 2,
  giv: 3,
  download: 4,
} as const;
export type StartKind = (typeof StartKind)[keyof typeof StartKind];

const GNUTELLA_CONNECT = ascii('GNUTELLA CONNECT/0.');
const GNUTELLA_REPLY = ascii('GNUTELLA/0.6 ');
const GNUTELLA_OK = ascii('GNUTELLA OK');
const GIV = ascii('GIV ');
const GET_URI_RES = ascii('GET /uri-res/N2R?');
const GET_INDEX = ascii('GET /get/');
const GET_GNUTELLA = ascii('GET /gnutella/');
const URN = ascii('urn:');
const HTTP_1 = ascii(' HTTP/1.');
/** Every literal a Gnutella stream can start with, for the first-segment test. */
const STARTS = [GNUTELLA_CONNECT, GNUTELLA_REPLY, GNUTELLA_OK, GIV, GET_URI_RES, GET_INDEX, GET_GNUTELLA];
const GUID_HEX_DIGITS = 32;

/**
 * Whether the bytes so far can still begin one of the lines above: the test every TCP stream's
 * first segment meets, a byte compare or a few (an ordinary `GET /index.html` fails at its
 * sixth byte), with nothing allocated.
 */
export function couldStartGnutella(buf: Uint8Array, p: number, end: number): boolean {
  if (buf[p] !== 0x47 /* G */) return false;
  for (const literal of STARTS) if (couldStartWith(buf, p, end, literal)) return true;
  return false;
}

/** What the complete first line buf[start, end) (without its line ending) opens. */
export function startKind(buf: Uint8Array, start: number, end: number): StartKind {
  if (startsWith(buf, start, end, GNUTELLA_CONNECT)) return end - start === GNUTELLA_CONNECT.length + 1 && isDigit(buf[end - 1]) ? StartKind.connect : StartKind.none;
  if (startsWith(buf, start, end, GNUTELLA_REPLY)) return isStatus(buf, start + GNUTELLA_REPLY.length, end) ? StartKind.reply : StartKind.none;
  if (startsWith(buf, start, end, GNUTELLA_OK)) return end - start === GNUTELLA_OK.length ? StartKind.reply : StartKind.none;
  if (startsWith(buf, start, end, GIV)) return isGivLine(buf, start + GIV.length, end) ? StartKind.giv : StartKind.none;
  return isDownloadLine(buf, start, end) ? StartKind.download : StartKind.none;
}

/** Three digits, then the end of the line or a space and a reason. */
function isStatus(buf: Uint8Array, at: number, end: number): boolean {
  if (end - at < 3 || !isDigit(buf[at]) || !isDigit(buf[at + 1]) || !isDigit(buf[at + 2])) return false;
  return end - at === 3 || buf[at + 3] === 0x20;
}

/** `<digits>:<32 hex digits>/`: the file index and the servent GUID of the push it answers. */
function isGivLine(buf: Uint8Array, at: number, end: number): boolean {
  let i = at;
  while (i < end && isDigit(buf[i])) i++;
  if (i === at || i - at > 10 || buf[i] !== 0x3a /* : */) return false;
  const guid = i + 1;
  if (end - guid < GUID_HEX_DIGITS + 1) return false;
  for (let h = guid; h < guid + GUID_HEX_DIGITS; h++) if (!isHexDigit(buf[h]!)) return false;
  return buf[guid + GUID_HEX_DIGITS] === 0x2f /* / */;
}

/** `GET <target> HTTP/1.x`, the target one of the download paths; nothing else on the line. */
function isDownloadLine(buf: Uint8Array, start: number, end: number): boolean {
  let target: number;
  if (startsWith(buf, start, end, GET_URI_RES)) {
    target = start + GET_URI_RES.length;
    if (!startsWithCaseless(buf, target, end, URN)) return false;
  } else if (startsWith(buf, start, end, GET_INDEX)) {
    target = start + GET_INDEX.length;
    const digits = target;
    while (target < end && isDigit(buf[target])) target++;
    if (target === digits || buf[target] !== 0x2f /* / */) return false;
  } else if (startsWith(buf, start, end, GET_GNUTELLA)) {
    target = start + GET_GNUTELLA.length;
  } else {
    return false;
  }
  // Old servents send `/get/<n>/<name>` with the name's spaces unencoded: the target is
  // everything up to the ` HTTP/1.x` that must end the line, printable ASCII throughout.
  const suffix = end - (HTTP_1.length + 1);
  if (suffix < target || !startsWith(buf, suffix, end, HTTP_1) || !isDigit(buf[end - 1])) return false;
  for (let i = target; i < suffix; i++) if (buf[i]! < 0x20 || buf[i]! > 0x7e) return false;
  return true;
}
