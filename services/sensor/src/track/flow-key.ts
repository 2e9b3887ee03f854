/**
 * A flow's key as 32-bit words, written straight from the packet's bytes: no string is built per
 * packet, and none is kept per flow (a string key per flow was the costliest part of a new flow:
 * built, hashed, kept ~16 s in a full table under a flood, so copied and promoted by the collector).
 *
 *   word 0      protocol << 8 | address length (4 or 16): IPv4 and IPv6 keys never compare equal
 *   word 1      first end's port << 16 | second end's port
 *   words 2-5   first end's address (IPv4: word 2 alone)
 *   words 6-9   second end's address (IPv4: word 3)
 */
export const FLOW_KEY_WORDS = 10;
/** Words in use for an IPv4 key. */
export const IPV4_KEY_WORDS = 4;

/** Writes the key of (protocol, a end, b end) into words[0, length); returns the length. */
export function writeFlowKey(words: Int32Array, protocol: number, buf: Uint8Array, aOffset: number, aPort: number, bOffset: number, bPort: number, addressLength: 4 | 16): number {
  words[0] = (protocol << 8) | addressLength;
  words[1] = (aPort << 16) | bPort;
  if (addressLength === 4) {
    words[2] = (buf[aOffset]! << 24) | (buf[aOffset + 1]! << 16) | (buf[aOffset + 2]! << 8) | buf[aOffset + 3]!;
    words[3] = (buf[bOffset]! << 24) | (buf[bOffset + 1]! << 16) | (buf[bOffset + 2]! << 8) | buf[bOffset + 3]!;
    return IPV4_KEY_WORDS;
  }
  for (let w = 0; w < 4; w++) {
    const a = aOffset + 4 * w;
    const b = bOffset + 4 * w;
    words[2 + w] = (buf[a]! << 24) | (buf[a + 1]! << 16) | (buf[a + 2]! << 8) | buf[a + 3]!;
    words[6 + w] = (buf[b]! << 24) | (buf[b + 1]! << 16) | (buf[b + 2]! << 8) | buf[b + 3]!;
  }
  return FLOW_KEY_WORDS;
}

/** Words in use for the key whose first word is `word0`. */
export function flowKeyLength(word0: number): number {
  return (word0 & 0xff) === 4 ? IPV4_KEY_WORDS : FLOW_KEY_WORDS;
}

/**
 * A 32-bit hash of words[0, length), keyed by `seed`. The 5-tuples come from outside: with a
 * seed drawn per table, nobody can choose flows that all land in one bucket (murmur3's mixing).
 */
export function hashFlowKey(words: Int32Array, length: number, seed: number): number {
  let h = seed;
  for (let i = 0; i < length; i++) {
    let k = Math.imul(words[i]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
