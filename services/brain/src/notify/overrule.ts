import { randomUUID } from 'node:crypto';
import type { AllowView, DecisionView } from '../api/views.js';
import { boundedOverrule, type NotificationEvent, type OverruleAction } from './events.js';

/** The event of an operator's change through the API: an allow entry or a decision as the API shows it. */
export function overruleEvent(action: OverruleAction, view: AllowView | DecisionView, affected: readonly string[], nowMs: number): NotificationEvent {
  return {
    kind: 'operator-overrule',
    eventId: randomUUID(),
    atMs: nowMs,
    overrule: boundedOverrule({ action, id: view.id, scope: view.scope, value: view.value, site: view.site, reason: view.reason, author: view.author, expires: view.expires, affected: [...affected] }),
  };
}
