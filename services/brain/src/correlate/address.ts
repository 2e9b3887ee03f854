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

/** The inverse of endpointKey. */
export function parseEndpointKey(key: string): { ip: string; port: number } | undefined {
  const match = /^\[([0-9a-fA-F:]+)\]:(\d+)$/.exec(key) ?? /^([0-9.]+):(\d+)$/.exec(key);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port <= 65535 ? { ip: match[1]!, port } : undefined;
}

/** `site/ip`: an inside host, named as evidence names it. */
export function hostKey(site: string, ip: string): string {
  return `${site}/${ip}`;
}
