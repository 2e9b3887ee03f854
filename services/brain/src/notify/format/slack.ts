import { headline, type NotificationEvent } from '../events.js';
import { facts } from './facts.js';

/**
 * A Slack incoming-webhook payload: `text` (the notification's fallback) and Block Kit blocks — a
 * section with the headline, one with the facts as fields (Slack shows at most 10), a context
 * line. Slack reads `&`, `<` and `>` as markup in mrkdwn: they are escaped.
 */

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Slack's limit of a section text is 3000 characters, of a field 2000. */
const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export interface SlackPayload {
  text: string;
  blocks: Record<string, unknown>[];
}

export function slackPayload(event: NotificationEvent, source: string): SlackPayload {
  const title = escape(headline(event));
  return {
    text: title,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: cut(`*${title}*`, 3000) } },
      { type: 'section', fields: facts(event).slice(0, 10).map(([name, value]) => ({ type: 'mrkdwn', text: cut(`*${escape(name)}*\n${escape(value)}`, 2000) })) },
      { type: 'context', elements: [{ type: 'mrkdwn', text: cut(escape(`p2pwall ${event.kind} · ${new Date(event.atMs).toISOString()} · ${source}`), 3000) }] },
    ],
  };
}
