import { p2pwall } from '@p2pwall/proto';

/** A Decision with every field present (the generated type leaves most optional). */
export interface Evidence {
  hosts: string[];
  sites: string[];
  sensors: string[];
  rules: string[];
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface BrainDecision {
  id: string;
  scope: p2pwall.v1.Scope;
  ip: Uint8Array;
  port: number;
  site: string;
  origin: p2pwall.v1.Origin;
  action: p2pwall.v1.Action;
  reason: string;
  evidence: Evidence;
  createdMs: number;
  expiresMs: number;
  author: string;
  simulated: boolean;
  /** What an endpoint or IP decision blocks (or allows): TCP, UDP or both; both for host decisions. Its id names it (@p2pwall/common decisionId). */
  transport: p2pwall.v1.Transport;
  /** SCOPE_NETWORK: the network's prefix length (ip is its first address); absent (0) for every other scope, which most decisions are. */
  prefixLength?: number;
}

export const AUTHOR = 'p2pwall-brain';

/** The expiry of a decision that never expires (9999-12-31T23:59:59Z): operators' permanent entries. */
export const NEVER_EXPIRES_MS = 253_402_300_799_000;

/** Whether a decision's expiry means "never" (the API shows `expires: null`). */
export function neverExpires(expiresMs: number): boolean {
  return expiresMs >= NEVER_EXPIRES_MS;
}

export function encodeDecision(decision: BrainDecision): Uint8Array {
  return p2pwall.v1.Decision.encode(decision).finish();
}

/**
 * The texts many decisions repeat (reasons, authors, sites, sensors, rules) as one string each: a
 * decoded string costs hundreds of bytes, and the brain keeps every active decision in memory.
 * Bounded: when full it starts over (strings already shared stay shared).
 */
const SHARED_TEXTS_MAX = 50_000;
const sharedTexts = new Map<string, string>();

export function sharedText(text: string): string {
  const known = sharedTexts.get(text);
  if (known !== undefined) return known;
  if (sharedTexts.size >= SHARED_TEXTS_MAX) sharedTexts.clear();
  sharedTexts.set(text, text);
  return text;
}

const shared = (texts: readonly string[] | null | undefined): string[] => (texts ?? []).map(sharedText);

export function decodeDecision(bytes: Uint8Array): BrainDecision {
  const d = p2pwall.v1.Decision.decode(bytes);
  const e = d.evidence ?? {};
  return {
    id: d.id,
    scope: d.scope,
    ip: new Uint8Array(d.ip),
    port: d.port,
    site: sharedText(d.site),
    origin: d.origin,
    action: d.action,
    reason: sharedText(d.reason),
    evidence: {
      hosts: [...(e.hosts ?? [])],
      sites: shared(e.sites),
      sensors: shared(e.sensors),
      rules: shared(e.rules),
      count: e.count ?? 0,
      firstSeenMs: e.firstSeenMs ?? 0,
      lastSeenMs: e.lastSeenMs ?? 0,
    },
    createdMs: d.createdMs,
    expiresMs: d.expiresMs,
    author: sharedText(d.author),
    simulated: d.simulated,
    transport: d.transport,
    ...(d.scope === p2pwall.v1.Scope.SCOPE_NETWORK ? { prefixLength: d.prefixLength } : {}),
  };
}

/** Whether a decision blocks (an active BLOCK, not an allow entry, not expired). */
export function isActiveBlock(decision: BrainDecision, nowMs: number): boolean {
  return decision.action === p2pwall.v1.Action.ACTION_BLOCK && decision.expiresMs > nowMs && !decision.simulated;
}
