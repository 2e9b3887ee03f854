import { IncidentCounts, type IncidentCount, type IncidentLabels } from './incident-labels.js';

/**
 * Incidents this replica opened, by site and protocol (p2pwall_brain_incidents_opened). Fed by
 * the incident store's onOpened hook, read by the metrics on scrape. Each incident is opened by
 * exactly one replica (the record script is atomic), so the sum over replicas counts each once.
 */
export class IncidentTally {
  private readonly counts = new IncidentCounts();

  observe(incident: IncidentLabels): void {
    this.counts.add({ site: incident.site, protocol: incident.protocol });
  }

  entries(): IncidentCount[] {
    return this.counts.entries();
  }
}
