export { incidentUpdates, UNKNOWN_PROTOCOL, type BatchEvidence, type IncidentUpdate } from './evidence.js';
export { IncidentStore, InvalidCursorError, type IncidentQuery, type IncidentStoreOptions } from './store.js';
export { DEFAULT_MAX_INCIDENTS_PER_SITE, DEFAULT_MAX_INCIDENTS_TOTAL } from './record.js';
