/**
 * Four bytes of a 16-byte id as a number. A reply repeats its request's id (a Gnutella pong its
 * ping's GUID, a Kad response its request's target, found sources their file hash), so words 0
 * (bytes 0-3) and 3 (bytes 12-15) are what a forged reply must guess: a module keeps the two of
 * the host's request and compares, without keeping the id's bytes.
 */
export function idWord(buf: Uint8Array, p: number, word: 0 | 3): number {
  const at = p + word * 4;
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}
