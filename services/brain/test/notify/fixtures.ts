import type { IncidentView } from '../../src/api/views.js';
import { incidentSummary, type NotificationEvent } from '../../src/notify/events.js';

/** An incident as the store returns it, with what a test changes. */
export function incidentView(overrides: Partial<IncidentView> = {}): IncidentView {
  return {
    id: 'site-a-kx3-0a1b2c3d',
    site: 'site-a',
    host: '192.168.1.5',
    protocol: 'fasttrack',
    firstSeen: '2026-12-07T10:00:00.000Z',
    lastSeen: '2026-12-07T10:00:05.000Z',
    open: true,
    gateways: ['gw1'],
    evidence: [{ rule: 'fasttrack/udp-ping', count: 3 }],
    peers: { count: 2, sample: ['198.51.100.9:1214', '203.0.113.7:3531'] },
    attemptsBlocked: 0,
    bytes: 120,
    liveFlows: 0,
    provisional: false,
    identifiedBy: { rule: 'fasttrack/udp-ping', detail: 'KaZaA', flow: 'udp 192.168.1.5:3531 > 198.51.100.9:1214', packet: 1, seen: '2026-12-07T10:00:00.000Z', gateway: 'gw1' },
    decisions: ['host:site-a:192.168.1.5', 'endpoint:198.51.100.9:1214'],
    decisionCount: 2,
    state: 'open',
    workflow: [],
    evidenceSinceClosed: false,
    ...overrides,
  };
}

export const AT = Date.parse('2026-12-07T10:00:06.000Z');

export function openedEvent(overrides: Partial<IncidentView> = {}): NotificationEvent {
  return { kind: 'incident-opened', eventId: '6f1c1a9e-0000-4000-8000-000000000001', atMs: AT, incident: incidentSummary(incidentView(overrides)) };
}

export function overrule(): NotificationEvent {
  return { kind: 'operator-overrule', eventId: '6f1c1a9e-0000-4000-8000-000000000002', atMs: AT, overrule: { action: 'allow-added', id: 'allow:host:site-a:192.168.1.5', scope: 'host', value: '192.168.1.5', site: 'site-a', reason: 'approved | "lab" = ok]', author: 'alice', expires: null, affected: ['host:site-a:192.168.1.5'] } };
}
