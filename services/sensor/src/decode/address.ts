import { formatAddress, parseAddress } from '@p2pwall/common';

export { formatAddress, parseAddress };

/**
 * Addresses travel through the per-packet path as compact "address keys": the address bytes
 * folded two at a time into UTF-16 code units (2 units for IPv4, 8 for IPv6). They hash and
 * compare like any string, cost one allocation, and are turned into text only when an event
 * or a log line needs it.
 */
export function addressKey(buf: Uint8Array, offset: number, length: 4 | 16): string {
  if (length === 4) {
    return String.fromCharCode((buf[offset]! << 8) | buf[offset + 1]!, (buf[offset + 2]! << 8) | buf[offset + 3]!);
  }
  let key = '';
  for (let i = 0; i < 16; i += 2) key += String.fromCharCode((buf[offset + i]! << 8) | buf[offset + i + 1]!);
  return key;
}

export function addressKeyToBytes(key: string): Uint8Array {
  const bytes = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    bytes[2 * i] = unit >> 8;
    bytes[2 * i + 1] = unit & 0xff;
  }
  return bytes;
}

/** "0" to "255": an ended flow's event formats its outside address, and a number's text is a conversion each. */
const OCTET_TEXT: readonly string[] = Array.from({ length: 256 }, (_, octet) => String(octet));

/** The dotted text of an IPv4 address held as a 32-bit word (most significant octet first). */
export function formatIpv4Word(word: number): string {
  return `${OCTET_TEXT[word >>> 24]!}.${OCTET_TEXT[(word >>> 16) & 0xff]!}.${OCTET_TEXT[(word >>> 8) & 0xff]!}.${OCTET_TEXT[word & 0xff]!}`;
}

export function formatAddressKey(key: string): string {
  // IPv4: text straight from the key, without the bytes in between.
  if (key.length === 2) return formatIpv4Word(((key.charCodeAt(0) << 16) | key.charCodeAt(1)) >>> 0);
  const bytes = addressKeyToBytes(key);
  return formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16);
}

export function addressKeyFromText(text: string): string | null {
  const bytes = parseAddress(text);
  if (!bytes) return null;
  return addressKey(bytes, 0, bytes.length === 4 ? 4 : 16);
}

/**
 * Parses dotted-quad IPv4 text (no leading zeros, as formatAddress writes it) into out[0, 4);
 * false for anything else. The common case of named peers, without the regex and the arrays of
 * parseAddress: a tracker or DHT reply names dozens at once.
 */
export function parseIpv4Into(text: string, out: Uint8Array): boolean {
  const length = text.length;
  if (length < 7 || length > 15) return false;
  let octet = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= length; i++) {
    const code = i === length ? 0x2e : text.charCodeAt(i);
    if (code === 0x2e) {
      if (digits === 0 || octet > 3) return false;
      out[octet++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return false; // a leading zero
      value = value * 10 + code - 0x30;
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return octet === 4;
}

/**
 * Whether the address at `offset` is one host's: not multicast (224.0.0.0/4, ff00::/8), class E
 * or the broadcast address (240.0.0.0/4). No P2P protocol sends to a group, and a locked client's
 * SSDP or WS-Discovery on the local link reaches no peer: the time-lock leaves them alone.
 */
export function isUnicastAddress(buf: Uint8Array, offset: number, length: 4 | 16): boolean {
  return length === 4 ? buf[offset]! < 224 : buf[offset] !== 0xff;
}
