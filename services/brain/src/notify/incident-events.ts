import { randomUUID } from 'node:crypto';
import type { Logger } from '@p2pwall/common';
import type { IncidentView } from '../api/views.js';
import { escalationReasons, incidentLevel, maxLevel, type IncidentLevel } from './escalation.js';
import { incidentSummary } from './events.js';
import type { Notifier } from './notifier.js';

/**
 * Incident notifications from what the incident store recorded (the shell around escalation.ts).
 * A new incident is told at once (its record is read back and notified). Escalations are checked
 * once a second for the incidents touched since, against the level this replica last saw
 * (bounded memory: the incidents touched longest ago are forgotten; one first seen here, not
 * created here, is only remembered — nothing is known of what it was before).
 *
 * The incident store's script opens an incident atomically, so exactly one replica sees it created
 * and tells it; escalations are told by the replica that notices them (with several replicas a
 * step may be told by more than one: README "Notifications").
 */

export interface TouchedIncident {
  id: string;
  /** Opened by this record call. */
  created: boolean;
}

export interface IncidentEventsOptions {
  /** Whether any sink wants escalations (else incidents are not read back for them). */
  escalations: boolean;
  log: Logger;
  now?: () => number;
  /** Incident levels remembered at most. */
  maxTracked?: number;
  /** Touched incidents checked for escalation at most this often (ms). */
  checkIntervalMs?: number;
}

/** Incidents read back per check at most; the rest wait for the next one. */
const MAX_CHECKED = 1000;

export class IncidentEvents {
  private readonly levels = new Map<string, IncidentLevel>();
  private readonly pending = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: { get(id: string): Promise<IncidentView | undefined> },
    private readonly notifier: Notifier,
    private readonly options: IncidentEventsOptions,
  ) {
    if (options.escalations) {
      this.timer = setInterval(() => {
        this.checking ??= this.check()
          .catch((error: unknown) => options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'incident escalation check failed: the incidents touched wait for the next one'))
          .finally(() => (this.checking = undefined));
      }, options.checkIntervalMs ?? 1000);
      this.timer.unref();
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Called by the incident store after each record (never waits, never throws). */
  recorded(touched: readonly TouchedIncident[]): void {
    for (const { id, created } of touched) {
      if (id === '') continue;
      if (created) this.track(this.opened(id));
      else if (this.options.escalations && this.pending.size < 100_000) this.pending.add(id);
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'incident notification failed: incident not read')).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async opened(id: string): Promise<void> {
    const view = await this.store.get(id);
    if (!view) return;
    this.remember(id, incidentLevel(view));
    this.notifier.notify({ kind: 'incident-opened', eventId: randomUUID(), atMs: this.now(), incident: incidentSummary(view) });
  }

  private remember(id: string, level: IncidentLevel): void {
    this.levels.delete(id);
    this.levels.set(id, level);
    const max = this.options.maxTracked ?? 10_000;
    while (this.levels.size > max) this.levels.delete(this.levels.keys().next().value!);
  }

  /** The touched incidents since the last check, read back and compared with what was seen. */
  async check(): Promise<void> {
    const ids = [...this.pending].slice(0, MAX_CHECKED);
    for (const id of ids) this.pending.delete(id);
    for (const [n, id] of ids.entries()) {
      let view: IncidentView | undefined;
      try {
        view = await this.store.get(id);
      } catch (error) {
        // Redis gone: this one and the rest are checked next time
        for (const left of ids.slice(n)) this.pending.add(left);
        throw error;
      }
      if (!view) continue;
      const level = incidentLevel(view);
      const before = this.levels.get(id);
      if (before === undefined) {
        this.remember(id, level);
        continue;
      }
      const reasons = escalationReasons(before, level, view);
      this.remember(id, maxLevel(before, level));
      if (reasons.length > 0 && view.open) this.notifier.notify({ kind: 'incident-escalated', eventId: randomUUID(), atMs: this.now(), incident: incidentSummary(view), reasons });
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking;
    await Promise.all(this.inFlight);
  }
}
