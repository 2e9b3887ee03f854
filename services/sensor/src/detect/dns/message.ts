/**
 * DNS messages (RFC 1035 §4) as they cross the gateway, read with strict bounds: the header, the
 * one question, and the answer section's A, AAAA and CNAME records. Anything malformed reads as
 * nothing (null or false), never a throw: every byte comes from the network.
 */
import { LABEL_HASH_SEED, labelHashStep, MAX_NAME_LABELS, type HashedName } from './label-hash.js';

export const DNS_HEADER_LENGTH = 12;
export const DnsType = { a: 1, cname: 5, aaaa: 28 } as const;
export const DNS_CLASS_IN = 1;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire. */
const MAX_NAME_OCTETS = 255;
/** Compression pointers followed for one name; each must also point before the last (no loops). */
const MAX_POINTER_JUMPS = 16;
/** Fixed part of a resource record after its name: type, class, TTL, rdlength. */
const RR_FIXED = 10;

/**
 * The header and question of one message, as a reusable scratch. Reading it makes no string: the
 * question's labels are hashed on the wire (label-hash.ts) and its name is made when first asked.
 */
export class DnsMessage implements HashedName {
  buf: Uint8Array = new Uint8Array(0);
  /** The message is buf[start, end). */
  start = 0;
  end = 0;
  id = 0;
  isResponse = false;
  /** RD: a stub resolver asks for recursion; a recursive resolver asking authoritative servers does not. */
  recursionDesired = false;
  opcode = 0;
  rcode = 0;
  answerCount = 0;
  /** The hash of each label of the question's name, the leftmost first: labelHashes[0, labelCount). */
  readonly labelHashes = new Int32Array(MAX_NAME_LABELS);
  labelCount = 0;
  /** Where the question's name starts in buf. */
  nameOffset = 0;
  type = 0;
  class = 0;
  /** Where the answer section starts. */
  answersOffset = 0;
  /** The question's name once made, or null until asked. */
  private nameText: string | null = null;

  /**
   * The question's name, lower-case, without the final dot; '' for the root. Made from buf when
   * first asked: ask while buf still holds the message (during the packet's inspection).
   */
  get name(): string {
    // The same bytes read again read the same: never null while buf is unchanged.
    this.nameText ??= readName(this.buf, this.start, this.end, this.nameOffset) ?? '';
    return this.nameText;
  }

  /**
   * Reads the header and the question of buf[start, end): false unless it is a standard query
   * or its response (opcode 0) with exactly one question and counts the message can hold.
   * After false the message holds nothing to use (its label hashes may be half overwritten).
   */
  read(buf: Uint8Array, start: number, end: number): boolean {
    if (end - start < DNS_HEADER_LENGTH + 5) return false;
    const flags = (buf[start + 2]! << 8) | buf[start + 3]!;
    const questions = (buf[start + 4]! << 8) | buf[start + 5]!;
    const answers = (buf[start + 6]! << 8) | buf[start + 7]!;
    const authority = (buf[start + 8]! << 8) | buf[start + 9]!;
    const additional = (buf[start + 10]! << 8) | buf[start + 11]!;
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0 || questions !== 1) return false;
    // Every record takes at least 11 octets (a one-octet name and the fixed part): counts that
    // cannot fit are not DNS.
    if ((answers + authority + additional) * (RR_FIXED + 1) > end - start - DNS_HEADER_LENGTH - 5) return false;
    const nameOffset = start + DNS_HEADER_LENGTH;
    if (walkName(buf, start, end, nameOffset, this.labelHashes) < 0) return false;
    const at = nameEnd;
    if (at + 4 > end) return false;
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.id = (buf[start]! << 8) | buf[start + 1]!;
    this.isResponse = (flags & 0x8000) !== 0;
    this.recursionDesired = (flags & 0x0100) !== 0;
    this.opcode = opcode;
    this.rcode = flags & 0xf;
    this.answerCount = answers;
    this.labelCount = nameLabels;
    this.nameOffset = nameOffset;
    this.nameText = null;
    this.type = (buf[at]! << 8) | buf[at + 1]!;
    this.class = (buf[at + 2]! << 8) | buf[at + 3]!;
    this.answersOffset = at + 4;
    return true;
  }
}

/** One address record of an answer: its owner name and the address bytes. */
export interface AddressRecord {
  readonly owner: string;
  /** Offset of the address in the message's buffer. */
  readonly offset: number;
  readonly length: 4 | 16;
}

/** One CNAME record: `owner` is an alias of `target`. */
export interface AliasRecord {
  readonly owner: string;
  readonly target: string;
}

/**
 * The A, AAAA and CNAME records (class IN) of the answer section of `message` (read first), at
 * most `max` addresses. null when a record runs past the message or a name is malformed.
 */
export function readAnswers(message: DnsMessage, max: number): { addresses: AddressRecord[]; aliases: AliasRecord[] } | null {
  const { buf, start, end } = message;
  const addresses: AddressRecord[] = [];
  const aliases: AliasRecord[] = [];
  let at = message.answersOffset;
  for (let i = 0; i < message.answerCount; i++) {
    const owner = readName(buf, start, end, at);
    if (owner === null) return null;
    at = nameEnd;
    if (at + RR_FIXED > end) return null;
    const type = (buf[at]! << 8) | buf[at + 1]!;
    const rrClass = (buf[at + 2]! << 8) | buf[at + 3]!;
    const length = (buf[at + 8]! << 8) | buf[at + 9]!;
    const data = at + RR_FIXED;
    if (data + length > end) return null;
    if (rrClass === DNS_CLASS_IN) {
      if ((type === DnsType.a && length === 4) || (type === DnsType.aaaa && length === 16)) {
        if (addresses.length < max) addresses.push({ owner, offset: data, length });
      } else if (type === DnsType.cname) {
        const target = readName(buf, start, end, data);
        // A CNAME's data is exactly its name.
        if (target === null || nameEnd !== data + length) return null;
        aliases.push({ owner, target });
      }
    }
    at = data + length;
  }
  return { addresses, aliases };
}

/** Where the name walkName read last ends in the message (after its labels or its first pointer). */
let nameEnd = 0;
/** How many labels the name walkName read last has. */
let nameLabels = 0;

/**
 * The name at `offset` of the message buf[start, end), lower-case, labels joined by dots; null
 * for a malformed one (walkName says which). Sets nameEnd.
 */
export function readName(buf: Uint8Array, start: number, end: number, offset: number): string | null {
  const length = walkName(buf, start, end, offset, textLabelHashes);
  if (length < 0) return null;
  return length === 0 ? '' : String.fromCharCode.apply(null, nameChars.subarray(0, length) as unknown as number[]);
}

/**
 * Walks the name at `offset` of the message buf[start, end): its characters, lower-cased with dots
 * between labels, into nameChars, and each label's hash into `hashes` (at least MAX_NAME_LABELS
 * long); returns the characters' count, or -1 for a malformed name: past the end, longer than
 * 255 octets, a pointer that does not point before where the name was read until then (so
 * pointers cannot loop), too many pointers, a reserved label type, or a label byte that is not
 * printable ASCII or is a dot (such a name is no hostname, and could read like another name once
 * joined). Sets nameEnd and nameLabels.
 */
function walkName(buf: Uint8Array, start: number, end: number, offset: number, hashes: Int32Array): number {
  let at = offset;
  /** Lowest position read so far: a pointer must point below it. */
  let floor = offset;
  let after = -1;
  let jumps = 0;
  const chars = nameChars;
  let length = 0;
  let labels = 0;
  for (;;) {
    if (at >= end) return -1;
    const labelLength = buf[at]!;
    if ((labelLength & 0xc0) === 0xc0) {
      if (at + 1 >= end) return -1;
      const target = start + (((labelLength & 0x3f) << 8) | buf[at + 1]!);
      if (after < 0) after = at + 2;
      if (target >= floor || ++jumps > MAX_POINTER_JUMPS) return -1;
      floor = target;
      at = target;
      continue;
    }
    if ((labelLength & 0xc0) !== 0) return -1;
    if (labelLength === 0) {
      if (after < 0) after = at + 1;
      break;
    }
    // Wire octets with this label: each label's length byte and bytes (the characters so far and
    // one more than their dots), this label's, and the final zero. So at most MAX_NAME_LABELS labels.
    if ((length === 0 ? 0 : length + 1) + labelLength + 2 > MAX_NAME_OCTETS || at + 1 + labelLength > end) return -1;
    if (length > 0) chars[length++] = 0x2e;
    let hash = LABEL_HASH_SEED;
    for (let i = at + 1; i <= at + labelLength; i++) {
      const c = buf[i]!;
      if (c <= 0x20 || c >= 0x7f || c === 0x2e) return -1;
      const lower = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
      chars[length++] = lower;
      hash = labelHashStep(hash, lower);
    }
    hashes[labels++] = hash;
    at += 1 + labelLength;
  }
  nameEnd = after;
  nameLabels = labels;
  return length;
}

/** Scratch for walkName: a name is at most 255 wire octets, fewer characters. */
const nameChars = new Uint16Array(MAX_NAME_OCTETS);
/** Scratch for the label hashes of names read as text (answers), which nothing compares. */
const textLabelHashes = new Int32Array(MAX_NAME_LABELS);
