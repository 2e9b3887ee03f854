/**
 * NMDC commands (https://nmdc.sourceforge.io/NMDC.html; families.md §4): `$Cmd args|`. The hub
 * speaks first (`$Lock EXTENDEDPROTOCOL… Pk=…|`, `$HubName`); the client answers `$Supports …|`,
 * `$Key …|`, `$ValidateNick <nick>|`. Between clients the caller opens with `$MyNick <nick>|`
 * and `$Lock …|`. Only a stream whose first command is one of these openers is read; after it,
 * every command must start with `$` (or `<` for chat) until binary data follows.
 */
import { ascii, parseIpv4Endpoint, startsWith } from '../http-headers.js';
import type { NamedPeer } from '../module.js';
import type { Found } from './found.js';
import { DirectConnectRule, DirectConnectVia } from './rules.js';
import { Dialect, type DirectionStream } from './stream.js';
import { allText, isNick, wordEnd } from './text.js';

const LOCK = ascii('$Lock ');
const PK = ascii(' Pk=');
const SUPPORTS = ascii('$Supports ');
const KEY = ascii('$Key ');
const VALIDATE_NICK = ascii('$ValidateNick ');
const MY_NICK = ascii('$MyNick ');
const HUB_NAME = ascii('$HubName ');
const CONNECT_TO_ME = ascii('$ConnectToMe ');
const SEARCH = ascii('$Search ');
const PASSIVE_SEARCH = ascii('Hub:');
/** After these the stream carries file data, not commands. */
const ADC_SND = ascii('$ADCSND ');
const FILE_LENGTH = ascii('$FileLength ');

/** Every NMDC opener, for telling from a stream's first bytes whether it may still be one. */
export const NMDC_OPENERS: readonly Uint8Array[] = [LOCK, SUPPORTS, KEY, VALIDATE_NICK, MY_NICK, HUB_NAME];

const Opener = { supports: 1, myNick: 2 } as const;

/** The `$Lock` argument must carry ` Pk=` (the hub's or client's name). */
function isLock(buf: Uint8Array, s: number, e: number): boolean {
  if (!startsWith(buf, s, e, LOCK) || !allText(buf, s, e)) return false;
  for (let i = s + LOCK.length; i + PK.length <= e; i++) if (startsWith(buf, i, e, PK)) return i > s + LOCK.length;
  return false;
}

/** Reads the first command of a direction: false when it is no NMDC opener. */
export function readNmdcOpener(buf: Uint8Array, s: number, e: number, dir: DirectionStream, found: Found): boolean {
  if (isLock(buf, s, e)) found.show(DirectConnectRule.nmdcLock);
  else if (startsWith(buf, s, e, MY_NICK) && isNick(buf, s + MY_NICK.length, e)) {
    dir.opener = Opener.myNick;
    found.show(DirectConnectRule.nmdcPeer);
  } else if (startsWith(buf, s, e, VALIDATE_NICK) && isNick(buf, s + VALIDATE_NICK.length, e)) found.show(DirectConnectRule.nmdcHubLogin);
  else if (startsWith(buf, s, e, KEY) && e > s + KEY.length) found.show(DirectConnectRule.nmdcHubLogin);
  else if (startsWith(buf, s, e, SUPPORTS) && e > s + SUPPORTS.length && allText(buf, s, e)) dir.opener = Opener.supports;
  else if (startsWith(buf, s, e, HUB_NAME) && allText(buf, s, e)) found.show(DirectConnectRule.nmdcHub);
  else return false;
  return true;
}

/** Reads a later command; false when it is not NMDC (the direction is then done). */
export function readNmdcCommand(buf: Uint8Array, s: number, e: number, dir: DirectionStream, fromInside: boolean, found: Found): boolean {
  if (e === s) return true;
  const first = buf[s];
  if (first === 0x3c /* < */) return true;
  if (first !== 0x24 /* $ */) return false;
  if (dir.opener === Opener.supports && (startsWith(buf, s, e, KEY) || startsWith(buf, s, e, VALIDATE_NICK))) found.show(DirectConnectRule.nmdcHubLogin);
  if (!fromInside) {
    if (startsWith(buf, s, e, CONNECT_TO_ME)) found.name(connectToMePeer(buf, s + CONNECT_TO_ME.length, e));
    else if (startsWith(buf, s, e, SEARCH)) found.name(searchPeer(buf, s + SEARCH.length, e));
  }
  if (startsWith(buf, s, e, ADC_SND) || startsWith(buf, s, e, FILE_LENGTH)) dir.dialect = Dialect.done;
  return true;
}

/** `$ConnectToMe <me> <ip>:<port>[S|N|R]`: the peer waiting for this client to connect (TCP). */
function connectToMePeer(buf: Uint8Array, at: number, e: number): NamedPeer | null {
  const nickEnd = wordEnd(buf, at, e);
  if (!isNick(buf, at, nickEnd) || nickEnd >= e) return null;
  let end = e;
  // Newer hubs mark TLS (`S`), NAT traversal (`N`, `R`) after the port.
  const last = buf[end - 1]!;
  if (last === 0x53 || last === 0x4e || last === 0x52) end--;
  return parseIpv4Endpoint(buf, nickEnd + 1, end, DirectConnectVia.nmdcConnectToMe, 'tcp');
}

/** `$Search <ip>:<port> <criteria>` (active; `Hub:<nick>` is passive and names nobody): results go to it by UDP. */
function searchPeer(buf: Uint8Array, at: number, e: number): NamedPeer | null {
  if (startsWith(buf, at, e, PASSIVE_SEARCH)) return null;
  return parseIpv4Endpoint(buf, at, wordEnd(buf, at, e), DirectConnectVia.nmdcSearch, 'udp');
}

