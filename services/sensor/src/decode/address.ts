import { isIPv4, isIPv6 } from 'node:net';

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

/** Dotted quad for IPv4, RFC 5952 text (longest zero run compressed) for IPv6. */
export function formatAddress(buf: Uint8Array, offset: number, length: 4 | 16): string {
  if (length === 4) return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((buf[offset + i]! << 8) | buf[offset + i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses IPv4 or IPv6 text into its bytes; null when the text is not an address. */
export function parseAddress(text: string): Uint8Array | null {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text)) return null;
  let head = text;
  let tail = '';
  const doubleColon = text.indexOf('::');
  if (doubleColon >= 0) {
    head = text.slice(0, doubleColon);
    tail = text.slice(doubleColon + 2);
  }
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = piece.split('.').map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const headGroups = toGroups(head);
  const tailGroups = toGroups(tail);
  const groups = doubleColon >= 0
    ? [...headGroups, ...new Array<number>(8 - headGroups.length - tailGroups.length).fill(0), ...tailGroups]
    : headGroups;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

export function addressKeyFromText(text: string): string | null {
  const bytes = parseAddress(text);
  if (!bytes) return null;
  return addressKey(bytes, 0, bytes.length === 4 ? 4 : 16);
}

/**
 * Addresses that can never be a peer on the internet: unspecified, loopback, link-local,
 * multicast, broadcast. A header that names one of them names no usable peer.
 */
export function isUnroutable(bytes: Uint8Array): boolean {
  if (bytes.length === 4) {
    const a = bytes[0]!;
    return a === 0 || a === 127 || a >= 224 || (a === 169 && bytes[1] === 254);
  }
  const allZeroUntil = (end: number): boolean => bytes.subarray(0, end).every((b) => b === 0);
  if (allZeroUntil(15) && (bytes[15] === 0 || bytes[15] === 1)) return true;
  return bytes[0] === 0xff || (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80);
}
