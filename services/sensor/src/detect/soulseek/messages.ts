/**
 * Soulseek's messages (Nicotine+ `doc/SLSKPROTOCOL.md`; families.md §4). Every message is a
 * uint32 LE length, then (server and peer messages) a uint32 LE code or (peer init messages) a
 * uint8 code. Strings are a uint32 LE length and that many bytes; an IP is a uint32 LE, so its
 * octets come reversed on the wire. Every reader here checks that the fields fill the message
 * exactly, so random bytes and other length-prefixed protocols do not pass.
 */
import type { NamedPeer } from '../module.js';
import { SoulseekVia } from './rules.js';

export const ServerCode = {
  login: 1,
  setWaitPort: 2,
  getPeerAddress: 3,
  connectToPeer: 18,
} as const;

export const InitCode = { pierceFirewall: 0, peerInit: 1 } as const;

/** Longest user name, password and message believed; a server message longer than 4 MiB is not Soulseek's. */
const MAX_NAME = 64;
export const MAX_MESSAGE = 4 * 1024 * 1024;
const MD5_HEX = 32;
/** Client versions seen: Soulseek NS 157, SoulseekQt 157+, Nicotine+ 160, slskd/Soulseek.NET 170. */
const MIN_VERSION = 100;
const MAX_VERSION = 999;

export function u32le(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/** Server codes (the documented ones, obsolete included): a frame with another code is not Soulseek's. */
export function isServerCode(code: number): boolean {
  return (code >= 1 && code <= 160) || (code >= 1001 && code <= 1010);
}

/** A name: 1–MAX_NAME bytes of text (printable ASCII or UTF-8), no control bytes. */
function isName(buf: Uint8Array, at: number, length: number): boolean {
  if (length < 1 || length > MAX_NAME) return false;
  for (let i = at; i < at + length; i++) {
    const byte = buf[i]!;
    if (byte < 0x20 || byte === 0x7f) return false;
  }
  return true;
}

/** Offset after the string at `at` whose bytes are a name, or -1 (it must end by `end`). */
function nameEnd(buf: Uint8Array, at: number, end: number): number {
  if (end - at < 4) return -1;
  const length = u32le(buf, at);
  if (length > MAX_NAME || at + 4 + length > end || !isName(buf, at + 4, length)) return -1;
  return at + 4 + length;
}

function isLowerHex(buf: Uint8Array, at: number, length: number): boolean {
  for (let i = at; i < at + length; i++) {
    const byte = buf[i]!;
    if (!((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66))) return false;
  }
  return true;
}

/** Login at buf[at, end) (a whole message, length field first): user, password, version, MD5 hex, minor version. */
export function isLogin(buf: Uint8Array, at: number, end: number): boolean {
  if (end - at < 8 || u32le(buf, at + 4) !== ServerCode.login) return false;
  let p = nameEnd(buf, at + 8, end);
  if (p < 0) return false;
  p = nameEnd(buf, p, end);
  if (p < 0 || end - p < 4 + 4 + MD5_HEX + 4) return false;
  const version = u32le(buf, p);
  if (version < MIN_VERSION || version > MAX_VERSION) return false;
  if (u32le(buf, p + 4) !== MD5_HEX || !isLowerHex(buf, p + 8, MD5_HEX)) return false;
  return p + 8 + MD5_HEX + 4 === end;
}

/** PeerInit at buf[at, end): init code 1, user, type `P`/`F`/`D`, token (uint32). */
export function isPeerInit(buf: Uint8Array, at: number, end: number): boolean {
  if (end - at < 5 || buf[at + 4] !== InitCode.peerInit) return false;
  const p = nameEnd(buf, at + 5, end);
  if (p < 0 || end - p !== 4 + 1 + 4 || u32le(buf, p) !== 1) return false;
  return isConnectionType(buf[p + 4]!);
}

/** `P` (peer messages), `F` (file transfer), `D` (distributed network). */
function isConnectionType(type: number): boolean {
  return type === 0x50 || type === 0x46 || type === 0x44;
}

/** PierceFirewall: `05 00 00 00 00` and a token, nothing more. */
export function isPierceFirewall(buf: Uint8Array, at: number, end: number): boolean {
  return end - at === 9 && u32le(buf, at) === 5 && buf[at + 4] === InitCode.pierceFirewall;
}

function ipAt(buf: Uint8Array, at: number): string {
  return `${buf[at + 3]}.${buf[at + 2]}.${buf[at + 1]}.${buf[at]}`;
}

/**
 * What may follow the port of a GetPeerAddress answer, in bytes, as the layout grew: nothing;
 * a bool and a uint32 (obfuscation flag and port); a uint32 and a uint16 (SoulseekQt's `1` and
 * the obfuscated port, Nicotine+'s current documentation).
 */
const PEER_ADDRESS_TAILS = [8, 8 + 1 + 4, 8 + 4 + 2];
/**
 * What follows the type of a ConnectToPeer: IP, port, token (12), then privileged (13), then a
 * bool and a uint32 (18) or two uint32 (21) for obfuscation.
 */
const CONNECT_TO_PEER_TAILS = [12, 13, 13 + 1 + 4, 13 + 4 + 4];

/**
 * The peer a server answer at buf[at, frameEnd) names, or null: GetPeerAddress (user, IP, port,
 * obfuscation fields) and ConnectToPeer (user, type, IP, port, token, privileged, obfuscation
 * fields), each in one of the layouts clients have met. A port of 0 means the user is offline.
 */
export function answerPeer(buf: Uint8Array, at: number, frameEnd: number): NamedPeer | null {
  const code = u32le(buf, at + 4);
  let p = nameEnd(buf, at + 8, frameEnd);
  if (p < 0) return null;
  let via: string;
  if (code === ServerCode.getPeerAddress) {
    via = SoulseekVia.peerAddress;
    if (!PEER_ADDRESS_TAILS.includes(frameEnd - p)) return null;
  } else if (code === ServerCode.connectToPeer) {
    via = SoulseekVia.connectToPeer;
    // The connection type: a string of one byte, `P`, `F` or `D`.
    if (frameEnd - p < 5 || u32le(buf, p) !== 1 || !isConnectionType(buf[p + 4]!)) return null;
    p += 5;
    if (!CONNECT_TO_PEER_TAILS.includes(frameEnd - p)) return null;
  } else return null;
  const ip = ipAt(buf, p);
  const port = u32le(buf, p + 4);
  if (port < 1 || port > 65535 || u32le(buf, p) === 0) return null;
  return { ip, port, transport: 'tcp', via };
}
