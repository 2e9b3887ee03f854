import { originLabel } from '@p2pwall/common';
import type { BrainDecision } from '../decide/decision.js';
import { actionLabel, scopeLabel } from './labels.js';

export interface DecisionLabels {
  origin: string;
  scope: string;
  action: string;
}

/**
 * Decisions this replica wrote to the shared blocklist (new, or changed enough to be rewritten),
 * by origin, scope and action; republished copies after a Redis loss are not counted. Fed by the
 * BlocklistWriter's onWritten hook, read by the metrics on scrape.
 */
export class DecisionTally {
  private readonly counts = new Map<string, { labels: DecisionLabels; count: number }>();

  observe(decision: Pick<BrainDecision, 'origin' | 'scope' | 'action'>): void {
    const labels: DecisionLabels = { origin: originLabel(decision.origin), scope: scopeLabel(decision.scope), action: actionLabel(decision.action) };
    const key = `${labels.origin}|${labels.scope}|${labels.action}`;
    const entry = this.counts.get(key);
    if (entry) entry.count += 1;
    else this.counts.set(key, { labels, count: 1 });
  }

  entries(): { labels: DecisionLabels; count: number }[] {
    return [...this.counts.values()].map(({ labels, count }) => ({ labels: { ...labels }, count }));
  }
}

/** Active entries of a blocklist by scope and action (the writer's memory of active decisions). */
export function blocklistEntries(decisions: Iterable<Pick<BrainDecision, 'scope' | 'action'>>): { labels: Omit<DecisionLabels, 'origin'>; count: number }[] {
  const counts = new Map<string, { labels: Omit<DecisionLabels, 'origin'>; count: number }>();
  for (const decision of decisions) {
    const labels = { scope: scopeLabel(decision.scope), action: actionLabel(decision.action) };
    const key = `${labels.scope}|${labels.action}`;
    const entry = counts.get(key);
    if (entry) entry.count += 1;
    else counts.set(key, { labels, count: 1 });
  }
  return [...counts.values()];
}
