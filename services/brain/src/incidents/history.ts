import { randomUUID } from 'node:crypto';
import { REDIS_KEYS, type Logger } from '@p2pwall/common';
import type { Redis } from 'ioredis';

/**
 * Whether Redis still holds the incident history this brain has seen. Decisions survive a Redis
 * that restarts empty (every brain keeps them in memory and publishes them again: the blocklist
 * epoch); incidents live only in Redis, so without persistence (AOF) they are gone, silently. A
 * marker (REDIS_KEYS.incidentHistory, "uuid@ms") is set once, NX, by the first brain that finds
 * none, and every brain remembers the marker it saw. Missing later, or another one: Redis came
 * back without its data, and the brain says so loudly (error log line, the counter
 * p2pwall_brain_incident_history_lost, a warning in /health/ready and `p2pwall health`).
 *
 * A brain started after the loss never saw the old marker and cannot tell; the warning that
 * Redis keeps no append-only file (read from INFO persistence, which the brain's ACL allows) is
 * there from the start.
 */

/** What one look at the marker finds. */
export type HistoryFinding =
  /** The marker this brain saw before is still there. */
  | 'kept'
  /** No marker yet and this brain saw none: history begins (first start, or a brain that cannot tell). */
  | 'begins'
  /** This brain saw none, another brain set one: it adopts it. */
  | 'adopted'
  /** This brain saw a marker and it is gone or replaced: Redis lost the incident history. */
  | 'lost';

/** What a look at the marker means, given the marker this brain saw before (pure). */
export function historyFinding(seen: string | undefined, stored: string | null): HistoryFinding {
  if (seen === undefined) return stored === null ? 'begins' : 'adopted';
  return stored === seen ? 'kept' : 'lost';
}

/** Whether Redis writes an append-only file, from its INFO persistence text; undefined when it does not say (pure). */
export function appendOnly(info: string): boolean | undefined {
  const match = /^aof_enabled:(\d)/m.exec(info);
  return match ? match[1] === '1' : undefined;
}

export const NO_AOF_WARNING = 'Redis keeps no append-only file (appendonly no): a Redis restart loses the incident history; set appendonly yes (README "Incidents")';

export class IncidentHistory {
  /** Times this brain found the history gone (p2pwall_brain_incident_history_lost). */
  lost = 0;
  private lostAtMs: number | undefined;
  private seen: string | undefined;
  private persistent: boolean | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: { log?: Logger; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Looks at the marker (and, the first time, at Redis' persistence); sets it where there is none. */
  async check(): Promise<HistoryFinding> {
    if (this.persistent === undefined) {
      this.persistent = appendOnly(await this.redis.info('persistence')) ?? true;
      if (!this.persistent) this.options.log?.warn({ key: 'appendonly' }, NO_AOF_WARNING);
    }
    let stored = await this.redis.get(REDIS_KEYS.incidentHistory);
    const finding = historyFinding(this.seen, stored);
    if (finding === 'kept') return finding;
    if (stored === null) {
      // NX: of brains racing to begin it again, one marker wins and all take it
      await this.redis.set(REDIS_KEYS.incidentHistory, `${randomUUID()}@${this.now()}`, 'NX');
      stored = await this.redis.get(REDIS_KEYS.incidentHistory);
    }
    const before = this.seen;
    this.seen = stored ?? undefined;
    if (finding === 'lost') {
      this.lost += 1;
      this.lostAtMs = this.now();
      this.options.log?.error({ key: REDIS_KEYS.incidentHistory, seen: before, now: this.seen, lost: this.lost }, 'incident history lost: Redis came back without its data (no persistence?); incidents recorded before now are gone, decisions are being republished; keep Redis persistent (appendonly yes)');
    }
    return finding;
  }

  /** What an operator must hear about the history, or undefined: shown by /health/ready without making the brain unready. */
  warning(): string | undefined {
    if (this.lostAtMs !== undefined) return `incident history lost at ${new Date(this.lostAtMs).toISOString()}: Redis came back without its data; incidents recorded before then are gone${this.persistent === false ? ` (${NO_AOF_WARNING})` : ''}`;
    return this.persistent === false ? NO_AOF_WARNING : undefined;
  }
}
