import { headline, type NotificationEvent } from '../events.js';
import { facts } from './facts.js';

/**
 * A Microsoft Teams incoming-webhook payload (Workflows "post to a channel when a webhook request
 * is received", and the older connectors): a message with one Adaptive Card attachment — a title
 * TextBlock, a FactSet and a footer line.
 */

export interface TeamsPayload {
  type: 'message';
  attachments: { contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: Record<string, unknown> }[];
}

const COLOR: Record<NotificationEvent['kind'], string> = { 'incident-opened': 'Warning', 'incident-escalated': 'Attention', 'operator-overrule': 'Accent' };

export function teamsPayload(event: NotificationEvent, source: string): TeamsPayload {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: headline(event), weight: 'Bolder', size: 'Medium', color: COLOR[event.kind], wrap: true },
            { type: 'FactSet', facts: facts(event).map(([title, value]) => ({ title, value })) },
            { type: 'TextBlock', text: `p2pwall ${event.kind} · ${new Date(event.atMs).toISOString()} · ${source}`, isSubtle: true, size: 'Small', wrap: true },
          ],
        },
      },
    ],
  };
}
