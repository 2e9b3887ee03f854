/**
 * A timed set: member → (last seen, flags). The state the brain keeps per outside endpoint
 * (members: inside hosts `site/ip`) and per inside host (members: `protocol|ip:port`, flag 1 =
 * answered). Merging is idempotent and commutative (max of times, OR of flags), so a batch
 * counted twice or by two replicas in either order gives the same set. This is the reference
 * the Redis Lua script (ingest/state.ts) mirrors.
 */

export interface Mark {
  ts: number;
  flags: number;
}

export type TimedSet = Map<string, Mark>;

export const ANSWERED = 1;

/** Drops members last seen before `cutoffMs`, then adds (late additions included) up to `maxMembers`. */
export function mergeTimedSet(current: TimedSet, additions: Iterable<readonly [string, Mark]>, cutoffMs: number, maxMembers: number): TimedSet {
  const next: TimedSet = new Map();
  for (const [member, mark] of current) if (mark.ts >= cutoffMs) next.set(member, { ...mark });
  for (const [member, mark] of additions) {
    if (mark.ts < cutoffMs) continue;
    const existing = next.get(member);
    if (existing) {
      existing.ts = Math.max(existing.ts, mark.ts);
      existing.flags |= mark.flags;
    } else if (next.size < maxMembers) {
      next.set(member, { ts: mark.ts, flags: mark.flags });
    }
  }
  return next;
}

/** `6|1.2.3.4:1214`: a host-window member. */
export function windowMember(protocol: number, endpoint: string): string {
  return `${protocol}|${endpoint}`;
}

export function parseWindowMember(member: string): { protocol: number; endpoint: string } | undefined {
  const bar = member.indexOf('|');
  if (bar < 0) return undefined;
  const protocol = Number(member.slice(0, bar));
  return Number.isInteger(protocol) ? { protocol, endpoint: member.slice(bar + 1) } : undefined;
}
