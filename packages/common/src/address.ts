import { isIPv4, isIPv6 } from 'node:net';

/** IP addresses as raw bytes (4 or 16) and as text: one implementation for every service. */

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
