/**
 * Direct Connect over UDP: search results sent straight to an active searcher, NMDC
 * `$SR <nick> <path>\x05<size> <slots>\x05<hub>…|` and ADC `URES <CID> …\n` (also `UINF`,
 * `UPSR`). One datagram is one whole command: it must end with its terminator and hold nothing
 * but its text, so a datagram of another protocol that happens to start with `$SR ` or `URES `
 * does not match.
 */
import { ascii, startsWith } from '../http-headers.js';
import type { Evidence, FlowDigest, PacketReader } from '../module.js';
import { DirectConnectRule, constantEvidence } from './rules.js';
import { allText, isNick, wordEnd } from './text.js';

const SR = ascii('$SR ');
const ADC_UDP = [ascii('URES '), ascii('UINF '), ascii('UPSR ')];
/** A client id: 192 bits in base32, 39 characters. */
const CID_LENGTH = 39;
const FIELD_SEPARATOR = 0x05;

const NMDC_UDP = constantEvidence(DirectConnectRule.nmdcUdp, 'udp', '$SR');
const ADC_RESULT = constantEvidence(DirectConnectRule.adcUdp, 'udp');

export function inspectUdp(packet: PacketReader, flow: FlowDigest, concluded: boolean): Evidence | null {
  if (concluded || flow.insidePort < 1024 || flow.outsidePort < 1024) return null;
  const buf = packet.buf;
  const start = packet.payloadOffset;
  const end = start + packet.payloadLength;
  const first = buf[start];
  if (first === 0x24) return isSearchResult(buf, start, end) ? NMDC_UDP : null;
  if (first === 0x55) return isAdcDatagram(buf, start, end) ? ADC_RESULT : null;
  return null;
}

function isSearchResult(buf: Uint8Array, start: number, end: number): boolean {
  if (!startsWith(buf, start, end, SR) || buf[end - 1] !== 0x7c) return false;
  const nickEnd = wordEnd(buf, start + SR.length, end - 1);
  if (!isNick(buf, start + SR.length, nickEnd)) return false;
  let separators = 0;
  for (let i = nickEnd; i < end - 1; i++) {
    const byte = buf[i]!;
    if (byte === FIELD_SEPARATOR) separators++;
    else if (byte < 0x20 || byte === 0x7c) return false;
  }
  return separators >= 1 && separators <= 3;
}

function isAdcDatagram(buf: Uint8Array, start: number, end: number): boolean {
  if (buf[end - 1] !== 0x0a || !ADC_UDP.some((prefix) => startsWith(buf, start, end, prefix))) return false;
  const cid = start + 5;
  if (end - 1 - cid < CID_LENGTH || (end - 1 > cid + CID_LENGTH && buf[cid + CID_LENGTH] !== 0x20)) return false;
  for (let i = cid; i < cid + CID_LENGTH; i++) {
    const byte = buf[i]!;
    if (!((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x32 && byte <= 0x37))) return false;
  }
  return allText(buf, cid, end - 1);
}
