/** Addresses as the wire carries them (4 or 16 raw bytes) and as the brain names them in keys and ids. */

/** Dotted IPv4 or compressed IPv6 text; undefined when the bytes are neither 4 nor 16 long. */
export function formatIp(bytes: Uint8Array | null | undefined): string | undefined {
  if (!bytes) return undefined;
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Raw bytes of a textual address (IPv4 dotted or IPv6); undefined when it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
  }
  if (!text.includes(':') || !/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const value = parseInt(g, 16);
    out[i * 2] = value >> 8;
    out[i * 2 + 1] = value & 0xff;
  });
  return out;
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
