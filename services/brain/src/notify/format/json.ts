import type { NotificationEvent } from '../events.js';
import { headline } from '../events.js';

/** The generic webhook's body (README "Notifications" shows one): versioned, one event per POST. */
export interface WebhookBody {
  version: 1;
  kind: NotificationEvent['kind'];
  eventId: string;
  time: string;
  summary: string;
  /** The brain that sent it (host name): several replicas may send. */
  source: string;
  incident?: unknown;
  reasons?: string[];
  overrule?: unknown;
}

export function webhookBody(event: NotificationEvent, source: string): WebhookBody {
  const body: WebhookBody = { version: 1, kind: event.kind, eventId: event.eventId, time: new Date(event.atMs).toISOString(), summary: headline(event), source };
  if (event.kind === 'operator-overrule') body.overrule = event.overrule;
  else body.incident = event.incident;
  if (event.kind === 'incident-escalated') body.reasons = event.reasons;
  return body;
}
