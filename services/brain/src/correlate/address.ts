import { formatAddress, parseAddress } from '@p2pwall/common';

/** Addresses as the wire carries them (4 or 16 raw bytes) and as the brain names them in keys and ids. */

/** Dotted IPv4 or compressed IPv6 text; undefined when the bytes are neither 4 nor 16 long. */
export function formatIp(bytes: Uint8Array | null | undefined): string | undefined {
  if (!bytes || (bytes.length !== 4 && bytes.length !== 16)) return undefined;
  return formatAddress(bytes, 0, bytes.length);
}

/** Raw bytes of a textual address (IPv4 dotted or IPv6); undefined when it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  return parseAddress(text) ?? undefined;
}

/** `1.2.3.4:1214` or `[2001:db8::1]:1214`. */
export function endpointKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHexOrColon = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 58;
const isDigitOrDot = (c: number): boolean => isDigit(c) || c === 46;

function allChars(text: string, from: number, to: number, ok: (c: number) => boolean): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) if (!ok(text.charCodeAt(i))) return false;
  return true;
}

/**
 * The inverse of endpointKey: `[hex:…]:port` or `digits.dots:port`, port ≤ 65535. Hand-written
 * rather than a regular expression: the ingest path parses every member of every host window it
 * evaluates.
 */
export function parseEndpointKey(key: string): { ip: string; port: number } | undefined {
  let ipFrom: number;
  let ipTo: number;
  let portFrom: number;
  if (key.charCodeAt(0) === 91 /* [ */) {
    ipFrom = 1;
    ipTo = key.indexOf(']:');
    portFrom = ipTo + 2;
    if (ipTo < 0 || !allChars(key, ipFrom, ipTo, isHexOrColon)) return undefined;
  } else {
    ipFrom = 0;
    ipTo = key.indexOf(':');
    portFrom = ipTo + 1;
    if (ipTo < 0 || !allChars(key, ipFrom, ipTo, isDigitOrDot)) return undefined;
  }
  if (!allChars(key, portFrom, key.length, isDigit)) return undefined;
  const port = Number(key.slice(portFrom));
  return port <= 65535 ? { ip: key.slice(ipFrom, ipTo), port } : undefined;
}

/** `site/ip`: an inside host, named as evidence names it. */
export function hostKey(site: string, ip: string): string {
  return `${site}/${ip}`;
}
