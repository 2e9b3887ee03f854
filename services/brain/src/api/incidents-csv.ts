import { csvDocument, type CsvCell } from './csv.js';
import type { IncidentView } from './views.js';

/**
 * Incidents as CSV rows (pure), one definition for GET /v1/incidents.csv and `p2pwall incidents
 * list --csv`. Lists inside a cell (gateways, rules, peers) are separated by spaces; times are
 * ISO 8601 UTC.
 */

export const INCIDENT_CSV_HEADER = [
  'id',
  'site',
  'host',
  'protocol',
  'state',
  'first_seen',
  'last_seen',
  'active',
  'gateways',
  'peers',
  'peer_sample',
  'attempts_blocked',
  'bytes',
  'rules',
  'identified_by',
  'identified_detail',
  'identified_flow',
  'decisions',
  'state_by',
  'state_at',
  'state_note',
  'evidence_since_closed',
] as const;

export function incidentCsvRow(i: IncidentView): CsvCell[] {
  const lastStep = i.workflow.at(-1);
  return [
    i.id,
    i.site,
    i.host,
    i.protocol,
    i.state,
    i.firstSeen,
    i.lastSeen,
    i.open,
    i.gateways.join(' '),
    i.peers.count,
    i.peers.sample.join(' '),
    i.attemptsBlocked,
    i.bytes,
    i.evidence.map((e) => `${e.rule}=${e.count}`).join(' '),
    i.identifiedBy?.rule ?? '',
    i.identifiedBy?.detail ?? '',
    i.identifiedBy?.flow ?? '',
    i.decisionCount,
    lastStep ? lastStep.author : '',
    lastStep ? lastStep.at : '',
    lastStep ? lastStep.note : '',
    i.evidenceSinceClosed,
  ];
}

/** The document with its header row; pages after the first leave the header out (`header: false`) so they append. */
export function incidentsCsv(items: readonly IncidentView[], { header = true } = {}): string {
  const text = csvDocument(INCIDENT_CSV_HEADER, items.map(incidentCsvRow));
  return header ? text : text.slice(text.indexOf('\r\n') + 2);
}
