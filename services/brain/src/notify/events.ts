import type { IncidentView } from '../api/views.js';

/**
 * What the brain tells operators about (pure types and helpers). Three kinds:
 * - incident-opened: a new incident, i.e. an inside host newly identified as a P2P client;
 * - incident-escalated: an open incident grew (more gateways, a step more peers, a host lock);
 * - operator-overrule: an operator changed what the brain enforces (allow entry added or removed,
 *   a decision deleted, a manual block added) through the API or the CLI.
 */

export const NOTIFICATION_KINDS = ['incident-opened', 'incident-escalated', 'operator-overrule'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** The part of an incident a notification carries (strings bounded: they come from sensors). */
export interface IncidentSummary {
  id: string;
  site: string;
  host: string;
  protocol: string;
  gateways: string[];
  firstSeen: string;
  lastSeen: string;
  peers: number;
  /** Some of its peers (ip:port). */
  peerSample: string[];
  /** The rule that identified the host first, with its detail ("" when none came). */
  rule: string;
  detail: string;
  /** The flow of the identifying packet (`udp 192.168.1.5:3531 > 203.0.113.1:41477`), "" when unknown. */
  flow: string;
  decisions: string[];
  decisionCount: number;
  attemptsBlocked: number;
}

export type OverruleAction = 'allow-added' | 'allow-removed' | 'decision-deleted' | 'block-added';

export interface Overrule {
  action: OverruleAction;
  /** The allow entry's or the decision's id. */
  id: string;
  scope: string;
  value: string;
  site: string;
  reason: string;
  author: string;
  /** ISO time, or null: never. */
  expires: string | null;
  /** Blocks the change suspended (allow added) or restored (allow removed). */
  affected: string[];
}

interface Base {
  /** Unique per event: a receiver de-duplicates retried deliveries by it. */
  eventId: string;
  /** When it happened (ms since the epoch). */
  atMs: number;
}

export type NotificationEvent =
  | (Base & { kind: 'incident-opened'; incident: IncidentSummary })
  | (Base & { kind: 'incident-escalated'; incident: IncidentSummary; reasons: string[] })
  | (Base & { kind: 'operator-overrule'; overrule: Overrule });

/** Longest text of one field a notification carries; lists keep at most MAX_LIST items. */
export const MAX_FIELD = 256;
export const MAX_LIST = 10;

/** Text cut to `max` characters, control characters replaced: whatever a sensor sent, one bounded line. */
export function bounded(text: string, max = MAX_FIELD): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

const list = (items: readonly string[]): string[] => items.slice(0, MAX_LIST).map((item) => bounded(item));

export function incidentSummary(view: IncidentView): IncidentSummary {
  return {
    id: bounded(view.id),
    site: bounded(view.site),
    host: bounded(view.host),
    protocol: bounded(view.protocol),
    gateways: list(view.gateways),
    firstSeen: view.firstSeen,
    lastSeen: view.lastSeen,
    peers: view.peers.count,
    peerSample: list(view.peers.sample),
    rule: bounded(view.identifiedBy?.rule ?? view.evidence[0]?.rule ?? ''),
    detail: bounded(view.identifiedBy?.detail ?? ''),
    flow: bounded(view.identifiedBy?.flow ?? ''),
    decisions: list(view.decisions),
    decisionCount: view.decisionCount,
    attemptsBlocked: view.attemptsBlocked,
  };
}

export function boundedOverrule(overrule: Overrule): Overrule {
  return { ...overrule, id: bounded(overrule.id), scope: bounded(overrule.scope), value: bounded(overrule.value), site: bounded(overrule.site), reason: bounded(overrule.reason), author: bounded(overrule.author), affected: list(overrule.affected) };
}

/**
 * What makes two events "the same" for de-duplication: a host's new incident of one protocol
 * (a host whose episode closes and reopens within the window is told once), one escalation step of
 * one incident, one operator action on one entry.
 */
export function dedupKey(event: NotificationEvent): string {
  switch (event.kind) {
    case 'incident-opened':
      return `opened|${event.incident.site}|${event.incident.host}|${event.incident.protocol}`;
    case 'incident-escalated':
      return `escalated|${event.incident.id}|${event.reasons.join(',')}`;
    case 'operator-overrule':
      return `overrule|${event.overrule.action}|${event.overrule.id}`;
  }
}

/** One line a person reads: the title of a chat message, the text of a syslog message. */
export function headline(event: NotificationEvent): string {
  switch (event.kind) {
    case 'incident-opened': {
      const i = event.incident;
      return `New P2P host ${i.host} at ${i.site}: ${i.protocol}${i.rule ? ` (${i.rule}${i.detail ? `: ${i.detail}` : ''})` : ''}`;
    }
    case 'incident-escalated': {
      const i = event.incident;
      return `P2P incident escalated: ${i.host} at ${i.site} (${i.protocol}): ${event.reasons.join('; ')}`;
    }
    case 'operator-overrule': {
      const o = event.overrule;
      const what = { 'allow-added': 'allowed', 'allow-removed': 'allow entry removed for', 'decision-deleted': 'unblocked', 'block-added': 'blocked' }[o.action];
      return `Operator ${o.author || '(unknown)'} ${what} ${o.scope} ${o.value}${o.site ? ` at ${o.site}` : ''}${o.reason ? `: ${o.reason}` : ''}`;
    }
  }
}
