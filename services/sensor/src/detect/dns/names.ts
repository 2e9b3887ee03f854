/**
 * Name patterns: exact names (`router.bittorrent.com`) and wildcards (`*.slsknet.org`: any name
 * below slsknet.org, not slsknet.org itself), case-insensitive, a trailing dot ignored. Compiled
 * once into two maps and the two sets of their names' hashes: a question is first compared by
 * the hashes of its suffixes (label-hash.ts), so one that matches nothing, nearly every query,
 * costs no string and no map lookup.
 */
import type { Transport } from '@p2pwall/common';
import { Int32Set } from './int32-set.js';
import { MAX_NAME_LABELS, NAME_HASH_SEED, nameHashStep, TextName, type HashedName } from './label-hash.js';

/** What a name says when an inside host asks for it. */
export const NameEvidence = {
  /** Only that family's clients ask for it (a DHT router): the host is identified. */
  identifying: 'identifying',
  /** A browser may ask too (the name serves a web page): counted, the host is not identified. */
  supporting: 'supporting',
} as const;
export type NameEvidence = (typeof NameEvidence)[keyof typeof NameEvidence];

/** An endpoint learned for every address the answer gives: a DNS answer has no port. */
export interface LearnEndpoint {
  readonly transport: Transport;
  readonly port: number;
}

/** One configured name (`detectors.dns.names` entry, or a shipped default). */
export interface NameRule {
  /** `host.example.org` or `*.example.org`. */
  readonly name: string;
  /** The P2P family asking for it shows (a protocol name: bittorrent, soulseek, …). */
  readonly protocol: string;
  readonly evidence: NameEvidence;
  readonly learn: readonly LearnEndpoint[];
}

/** A name as patterns and questions are compared: lower-case, no trailing dot. */
export function normalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Why a pattern is unusable, or null: labels of letters, digits, `-` and `_`; `*.` only in front, above a name of two labels or more. */
export function namePatternProblem(pattern: string): string | null {
  const name = normalName(pattern);
  const wildcard = name.startsWith('*.');
  const base = wildcard ? name.slice(2) : name;
  if (base.length === 0 || base.length > 253) return `"${pattern}" is not a host name`;
  const labels = base.split('.');
  if (!labels.every((label) => LABEL.test(label))) return `"${pattern}" is not a host name (labels of letters, digits, - and _; a wildcard only as a leading "*.")`;
  if (wildcard && labels.length < 2) return `"${pattern}" would match a whole top-level domain`;
  return null;
}

/** Compiled patterns: exact names first, then the longest wildcard suffix. */
export class NamePatterns {
  private readonly exact = new Map<string, NameRule>();
  private readonly below = new Map<string, NameRule>();
  /** The hashes of exact's and below's keys: a name whose hash is in neither set is in neither map. */
  private readonly exactHashes: Int32Set;
  private readonly belowHashes: Int32Set;
  /** Scratch: suffixHashes[i] is the hash of the question's labels i and after. */
  private suffixHashes = new Int32Array(MAX_NAME_LABELS + 1);
  readonly size: number;

  /** `rules` must have passed namePatternProblem; a later rule for the same pattern wins. */
  constructor(rules: readonly NameRule[]) {
    for (const rule of rules) {
      const name = normalName(rule.name);
      if (name.startsWith('*.')) this.below.set(name.slice(2), rule);
      else this.exact.set(name, rule);
    }
    this.size = this.exact.size + this.below.size;
    this.exactHashes = new Int32Set(Array.from(this.exact.keys(), nameHash));
    this.belowHashes = new Int32Set(Array.from(this.below.keys(), nameHash));
  }

  /** The rule for a name (lower-case, no trailing dot, as readName gives it), or null. */
  match(name: string): NameRule | null {
    return this.matchName(new TextName(name));
  }

  /**
   * The rule for a name given by its label hashes (a question as DnsMessage read it), or null:
   * its string is asked for only when the hash of the whole name or of a suffix is a pattern's,
   * and the maps then decide, so two names with one hash never match each other's rule.
   */
  matchName(question: HashedName): NameRule | null {
    const count = question.labelCount;
    // Only a name given as text can have more labels than a wire name.
    if (count > this.suffixHashes.length) this.suffixHashes = new Int32Array(count);
    const suffixes = this.suffixHashes;
    if (this.exactHashes.has(hashSuffixes(question.labelHashes, count, suffixes))) {
      const exact = this.exact.get(question.name);
      if (exact !== undefined) return exact;
    }
    if (this.belowHashes.size === 0) return null;
    // Longest suffix first: the name's parents, each strictly below the name itself.
    for (let i = 1; i < count; i++) {
      if (!this.belowHashes.has(suffixes[i]!)) continue;
      const rule = this.below.get(afterLabels(question.name, i));
      if (rule !== undefined) return rule;
    }
    return null;
  }

  /** The protocols the patterns name. */
  families(): string[] {
    return [...new Set([...this.exact.values(), ...this.below.values()].map((rule) => rule.protocol))].sort();
  }
}

/** The hash matchName computes for a whole name (lower-case, no trailing dot). */
export function nameHash(name: string): number {
  const text = new TextName(name);
  return hashSuffixes(text.labelHashes, text.labelCount, new Int32Array(text.labelCount));
}

/** Writes into[i] the hash of labels i and after (labels[i, count)); returns the whole name's. */
function hashSuffixes(labels: Int32Array, count: number, into: Int32Array): number {
  let hash = NAME_HASH_SEED;
  for (let i = count - 1; i >= 0; i--) into[i] = hash = nameHashStep(hash, labels[i]!);
  return hash;
}

/** The part of `name` after its first `labels` labels. */
function afterLabels(name: string, labels: number): string {
  let dot = -1;
  for (let i = 0; i < labels; i++) dot = name.indexOf('.', dot + 1);
  return name.slice(dot + 1);
}
