import { formatAddress, parseAddress } from '../address.js';

/**
 * Addresses as the wire carries them (4 or 16 raw bytes) and as text. Endpoints and inside hosts
 * are written with @p2pwall/common's formats (endpointText, siteHostText).
 */

/** Dotted IPv4 or compressed IPv6 text; undefined when the bytes are neither 4 nor 16 long. */
export function formatIp(bytes: Uint8Array | null | undefined): string | undefined {
  if (!bytes || (bytes.length !== 4 && bytes.length !== 16)) return undefined;
  return formatAddress(bytes, 0, bytes.length);
}

/** Raw bytes of a textual address (IPv4 dotted or IPv6); undefined when it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  return parseAddress(text) ?? undefined;
}
