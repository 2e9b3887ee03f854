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

export function formatAddressKey(key: string): string {
  const bytes = addressKeyToBytes(key);
  return formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16);
}

export function addressKeyFromText(text: string): string | null {
  const bytes = parseAddress(text);
  if (!bytes) return null;
  return addressKey(bytes, 0, bytes.length === 4 ? 4 : 16);
}
