import type { IncidentStore } from '../incidents/store.js';
import type { LiveEvents } from './live-events.js';

/** The store as ingest records into it, telling the console's live stream which incidents each batch touched. */
export function liveIncidents(store: IncidentStore, events: LiveEvents): Pick<IncidentStore, 'record'> {
  return {
    async record(updates) {
      const ids = await store.record(updates);
      const touched = [...new Set(ids.filter((id) => id !== ''))];
      if (touched.length > 0) events.publish({ type: 'incident', ids: touched });
      return ids;
    },
  };
}
