/**
 * Name patterns: exact names (`router.bittorrent.com`) and wildcards (`*.slsknet.org`: any name
 * below slsknet.org, not slsknet.org itself), case-insensitive, a trailing dot ignored. Compiled
 * once into two maps, so matching a name costs one lookup per label.
 */
import type { Transport } from '@p2pwall/common';

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
  readonly size: number;

  /** `rules` must have passed namePatternProblem; a later rule for the same pattern wins. */
  constructor(rules: readonly NameRule[]) {
    for (const rule of rules) {
      const name = normalName(rule.name);
      if (name.startsWith('*.')) this.below.set(name.slice(2), rule);
      else this.exact.set(name, rule);
    }
    this.size = this.exact.size + this.below.size;
  }

  /** The rule for a name (lower-case, no trailing dot, as readName gives it), or null. */
  match(name: string): NameRule | null {
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    if (this.below.size === 0) return null;
    // Longest suffix first: the name's parents, each strictly below the name itself.
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const rule = this.below.get(name.slice(dot + 1));
      if (rule !== undefined) return rule;
    }
    return null;
  }

  /** The protocols the patterns name. */
  families(): string[] {
    return [...new Set([...this.exact.values(), ...this.below.values()].map((rule) => rule.protocol))].sort();
  }
}
