export { incidentUpdates, UNKNOWN_PROTOCOL, type BatchEvidence, type IncidentUpdate } from './evidence.js';
export { IncidentStore, InvalidCursorError, type IncidentQuery, type IncidentStoreOptions } from './store.js';
