/**
 * Hashes of names, label by label, so a question can be compared with the patterns before any
 * string is made: each label's hash over its (lower-case) characters, and a name's hash made of
 * its labels' hashes from the right, so every suffix of a name (a wildcard's parent) has its hash
 * on the way to the whole name. The wire reader (message.ts) and the patterns (names.ts) hash with
 * these same steps; a hash only says where to look, the names are still compared as strings.
 */

/** A name of at most 255 wire octets has at most 127 labels (a length octet and a character each, and the final zero). */
export const MAX_NAME_LABELS = 127;

/** FNV-1a (32 bits) over a label's characters: one xor and one multiply a character. */
export const LABEL_HASH_SEED = 0x811c9dc5 | 0;

export function labelHashStep(hash: number, char: number): number {
  return Math.imul(hash ^ char, 0x01000193);
}

/** The hash of the empty name, to which labels are added from the right. */
export const NAME_HASH_SEED = 0x2545f491;

/** The hash of `label.rest` from the hash of `rest` and the label's hash. */
export function nameHashStep(restHash: number, labelHash: number): number {
  // Rotating first keeps the order of labels: a.b and b.a hash apart.
  return Math.imul(((restHash << 7) | (restHash >>> 25)) ^ labelHash, 0x9e3779b1);
}

/** A name's label hashes, left to right: what a question or a string gives the patterns. */
export interface HashedName {
  /** labelHashes[0, labelCount): the hash of each label, the leftmost first. */
  readonly labelHashes: Int32Array;
  readonly labelCount: number;
  /** The name itself (lower-case, no trailing dot), made when asked: only when a hash matched. */
  readonly name: string;
}

/**
 * Writes the hash of each dot-separated label of `name` (lower-case already) into `into`, left to
 * right, and returns how many there are: 0 for ''. `into` must hold one more than the dots.
 */
function hashLabels(name: string, into: Int32Array): number {
  if (name.length === 0) return 0;
  let count = 0;
  let hash = LABEL_HASH_SEED;
  for (let i = 0; i < name.length; i++) {
    const char = name.charCodeAt(i);
    if (char === 0x2e) {
      into[count++] = hash;
      hash = LABEL_HASH_SEED;
    } else hash = labelHashStep(hash, char);
  }
  into[count++] = hash;
  return count;
}

/** The labels of a string, for matching a name given as text (tests, tools; not the packet path). */
export class TextName implements HashedName {
  readonly labelHashes: Int32Array;
  readonly labelCount: number;

  constructor(readonly name: string) {
    let dots = 0;
    for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) dots++;
    this.labelHashes = new Int32Array(dots + 1);
    this.labelCount = hashLabels(name, this.labelHashes);
  }
}
