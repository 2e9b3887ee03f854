/**
 * Local Service Discovery (BEP 14): `BT-SEARCH * HTTP/1.1` with an `Infohash:` header, sent to
 * 239.192.152.143:6771 or [ff15::efc0:988f]:6771 every few minutes. It names the inside client
 * itself (and its listen port); the multicast group is never a peer (the engine's guard refuses
 * reserved addresses), so nothing outside is learned from it.
 */
import { ascii, startsWith, startsWithCaseless } from '../http-headers.js';

export const LSD_PORT = 6771;
const SEARCH = ascii('BT-SEARCH * HTTP/1.1\r\n');
const INFOHASH = ascii('\r\ninfohash:');
/** A BT-SEARCH is a few hundred bytes; the header may repeat for several torrents. */
const MAX_LSD = 1400;

/** Whether buf[p, p + length) is a BT-SEARCH announcement naming at least one info hash. */
export function isLsdSearch(buf: Uint8Array, p: number, length: number): boolean {
  if (length < SEARCH.length + INFOHASH.length || length > MAX_LSD || buf[p] !== 0x42 /* B */) return false;
  const end = p + length;
  if (!startsWith(buf, p, end, SEARCH)) return false;
  for (let i = p + SEARCH.length - 2; i + INFOHASH.length <= end; i++) {
    if (buf[i] === 0x0d && startsWithCaseless(buf, i, end, INFOHASH)) return true;
  }
  return false;
}
