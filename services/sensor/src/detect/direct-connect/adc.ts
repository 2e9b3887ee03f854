/**
 * ADC commands (ADC 1.0; families.md §4): a type letter, three upper-case letters, space-separated
 * arguments, `\n`. Every session opens with SUP: `HSUP ADBASE …` client → hub, `ISUP ADBASE …`
 * hub → client, `CSUP ADBASE …` between clients. The hub then says the client's session id
 * (`ISID <sid>`), broadcasts every user's INF (`BINF <sid> … I4<ip> U4<udp port>`) and relays
 * connect requests (`DCTM <sid> <me> ADC/1.0 <port> <token>`: user <sid> waits at its INF's I4
 * and that port). Only a stream that opens with SUP is read.
 */
import { ascii, startsWith } from '../http-headers.js';
import type { NamedPeer } from '../module.js';
import type { Found } from './found.js';
import { DirectConnectRule, DirectConnectVia, MAX_USERS } from './rules.js';
import { Dialect, type DirectionStream } from './stream.js';
import { allText, parseIpv4, parsePort, wordEnd } from './text.js';

const HSUP = ascii('HSUP AD');
const ISUP = ascii('ISUP AD');
const CSUP = ascii('CSUP AD');
const ISID = ascii('ISID ');
const BINF = ascii('BINF ');
const DCTM = ascii('DCTM ');
/** After it the stream carries file data. */
const CSND = ascii('CSND ');
const ADC_PROTOCOL = ascii('ADC');

/** Every ADC opener, for telling from a stream's first bytes whether it may still be one. */
export const ADC_OPENERS: readonly Uint8Array[] = [HSUP, ISUP, CSUP];

/** The hub flow's users: session id → INF address, and this client's own id. */
export class AdcUsers {
  ownSid = -1;
  readonly addresses = new Map<number, string>();

  remember(sid: number, ip: string): void {
    if (this.addresses.size >= MAX_USERS && !this.addresses.has(sid)) return;
    this.addresses.set(sid, ip);
  }
}

/** A session id (four base32 characters) as a number, or -1. */
export function sidAt(buf: Uint8Array, at: number, e: number): number {
  if (e - at < 4 || (e - at > 4 && buf[at + 4] !== 0x20)) return -1;
  let sid = 0;
  for (let i = at; i < at + 4; i++) {
    const byte = buf[i]!;
    const value = byte >= 0x41 && byte <= 0x5a ? byte - 0x41 : byte >= 0x32 && byte <= 0x37 ? byte - 0x32 + 26 : -1;
    if (value < 0) return -1;
    sid = (sid << 5) | value;
  }
  return sid;
}

/** Reads the first command of a direction: false when it is no SUP. */
export function readAdcOpener(buf: Uint8Array, s: number, e: number, found: Found): boolean {
  if (!allText(buf, s, e)) return false;
  if (startsWith(buf, s, e, HSUP)) found.show(DirectConnectRule.adcHubLogin);
  else if (startsWith(buf, s, e, ISUP)) found.show(DirectConnectRule.adcHub);
  else if (startsWith(buf, s, e, CSUP)) found.show(DirectConnectRule.adcPeer);
  else return false;
  return true;
}

/** Whether buf[s, e) starts like an ADC command: type letter, three upper-case letters or digits, then a space or the end. */
function isAdcCommand(buf: Uint8Array, s: number, e: number): boolean {
  if (e - s < 4 || (e - s > 4 && buf[s + 4] !== 0x20)) return false;
  const type = buf[s]!;
  if (type !== 0x42 && type !== 0x43 && type !== 0x44 && type !== 0x45 && type !== 0x46 && type !== 0x48 && type !== 0x49 && type !== 0x55) return false;
  for (let i = s + 1; i < s + 4; i++) {
    const byte = buf[i]!;
    if (!((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39))) return false;
  }
  return true;
}

/** Reads a later command; false when it is not ADC (the direction is then done). */
export function readAdcCommand(buf: Uint8Array, s: number, e: number, dir: DirectionStream, fromInside: boolean, users: () => AdcUsers, found: Found): boolean {
  if (e === s) return true; // a keep-alive
  if (!isAdcCommand(buf, s, e)) return false;
  if (startsWith(buf, s, e, CSND)) {
    dir.dialect = Dialect.done;
    return true;
  }
  if (fromInside) return true;
  if (startsWith(buf, s, e, ISID)) {
    users().ownSid = sidAt(buf, s + ISID.length, e);
  } else if (startsWith(buf, s, e, BINF)) {
    found.name(readInf(buf, s + BINF.length, e, users()));
  } else if (startsWith(buf, s, e, DCTM)) {
    found.name(connectToMePeer(buf, s + DCTM.length, e, users()));
  }
  return true;
}

/**
 * `<sid> <field> <field> …`: remembers the user's I4 for a later CTM and names its UDP port
 * (U4) when it gave one. The client's own INF (its sid from ISID) is skipped: the hub fills in
 * the address it saw, the site's own public address.
 */
function readInf(buf: Uint8Array, at: number, e: number, users: AdcUsers): NamedPeer | null {
  const sid = sidAt(buf, at, e);
  if (sid < 0 || sid === users.ownSid) return null;
  let ip: string | null = null;
  let udpPort = -1;
  for (let field = at + 5; field < e; ) {
    const end = wordEnd(buf, field, e);
    if (end - field > 2 && buf[field] === 0x49 && buf[field + 1] === 0x34) ip = parseIpv4(buf, field + 2, end);
    else if (end - field > 2 && buf[field] === 0x55 && buf[field + 1] === 0x34) udpPort = parsePort(buf, field + 2, end);
    field = end + 1;
  }
  if (ip === null) return null;
  users.remember(sid, ip);
  return udpPort > 0 ? { ip, port: udpPort, transport: 'udp', via: DirectConnectVia.adcInf } : null;
}

/** `<sid> <me> ADC/1.0|ADCS/0.10 <port> <token>`: user <sid> waits at its INF's address, TCP. */
function connectToMePeer(buf: Uint8Array, at: number, e: number, users: AdcUsers): NamedPeer | null {
  const sid = sidAt(buf, at, e);
  if (sid < 0 || at + 10 > e) return null;
  const protocol = at + 10;
  if (!startsWith(buf, protocol, e, ADC_PROTOCOL)) return null;
  const portAt = wordEnd(buf, protocol, e) + 1;
  const port = parsePort(buf, portAt, wordEnd(buf, portAt, e));
  const ip = users.addresses.get(sid);
  return port > 0 && ip !== undefined ? { ip, port, transport: 'tcp', via: DirectConnectVia.adcConnectToMe } : null;
}
