/**
 * JSON schemas of the views in views.ts, for the responses (fastify serializes with them and the
 * OpenAPI document shows them) and of the inputs several routes share. They mirror views.ts; a
 * test compares their property names with the views the converters build.
 */
import { ORIGIN_NAMES, TRANSPORTS } from '@p2pwall/common';
import { INCIDENT_STATES, MAX_NOTE_LENGTH, WORKFLOW_ACTIONS } from '../incidents/workflow.js';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const int: Schema = { type: 'integer' };
const bool: Schema = { type: 'boolean' };
const time: Schema = { type: 'string', format: 'date-time' };
const timeOrNull: Schema = { type: ['string', 'null'], format: 'date-time' };
const strings: Schema = { type: 'array', items: str };

function object(properties: Record<string, Schema>, optional: string[] = []): Schema {
  return { type: 'object', properties, required: Object.keys(properties).filter((key) => !optional.includes(key)) };
}

/** Site names as subjects carry them (common/names.ts). */
export const SITE_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
export const site: Schema = { type: 'string', pattern: SITE_PATTERN, maxLength: 63 };
export const scope: Schema = { type: 'string', enum: ['endpoint', 'ip', 'host', 'network'] };
export const origin: Schema = { type: 'string', enum: [...ORIGIN_NAMES] };
export const action: Schema = { type: 'string', enum: ['block', 'allow'] };
export const transport: Schema = { type: 'string', enum: [...TRANSPORTS] };
export const limit: Schema = { type: 'integer', minimum: 1, maximum: 1000, default: 50, description: 'items per page' };
export const cursor: Schema = { type: 'string', minLength: 1, maxLength: 1000, description: 'nextCursor of the previous page' };
export const timeInput = (description: string): Schema => ({ type: 'string', minLength: 1, maxLength: 40, description: `${description}: ISO 8601 (2026-05-01T12:00:00Z; no offset means UTC) or relative (30s, 10m, 24h, 7d)` });

export const evidenceSchema = object({ hosts: strings, sites: strings, sensors: strings, rules: strings, count: int, firstSeen: timeOrNull, lastSeen: timeOrNull });

export const decisionSchema = object({
  id: str,
  scope,
  value: str,
  ip: str,
  port: int,
  site: str,
  transport,
  origin,
  action,
  reason: str,
  evidence: evidenceSchema,
  created: time,
  expires: timeOrNull,
  author: str,
  simulated: bool,
});

export const allowSchema = object({ id: str, scope, value: str, site: str, reason: str, author: str, created: time, expires: timeOrNull });

export const flowSampleSchema = object({
  seen: time,
  gateway: str,
  protocol: str,
  peer: str,
  app: str,
  rules: strings,
  verdict: { type: 'string', enum: ['accept', 'drop'] },
  packetsOut: int,
  packetsIn: int,
  bytesOut: int,
  bytesIn: int,
});

export const incidentSchema = object(
  {
    id: str,
    site: str,
    host: str,
    protocol: str,
    firstSeen: time,
    lastSeen: time,
    open: bool,
    gateways: strings,
    evidence: { type: 'array', items: object({ rule: str, count: int }) },
    peers: object({ count: int, sample: strings }),
    attemptsBlocked: int,
    bytes: int,
    liveFlows: int,
    provisional: bool,
    identifiedBy: { ...object({ rule: str, detail: str, flow: str, packet: int, seen: time, gateway: str }), type: ['object', 'null'] },
    decisions: strings,
    decisionCount: int,
    state: { type: 'string', enum: [...INCIDENT_STATES] },
    workflow: { type: 'array', items: object({ action: { type: 'string', enum: [...WORKFLOW_ACTIONS] }, at: time, role: str, author: str, note: str }) },
    evidenceSinceClosed: bool,
    samples: { type: 'array', items: flowSampleSchema },
  },
  ['samples'],
);

export const pageSchema = (item: Schema): Schema => object({ items: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } });

export const queueSchema = object({ queue: int, total: int, queueDropped: int, userDropped: int });

export const sensorSchema = object({
  name: str,
  site: str,
  gateway: str,
  queue: int,
  version: str,
  mode: { type: 'string', enum: ['enforce', 'monitor', 'unknown'] },
  lastHeartbeat: time,
  ageSeconds: { type: 'number' },
  stale: bool,
  state: { type: 'string', enum: ['running', 'stopped', 'stale'] },
  started: timeOrNull,
  packets: int,
  dropped: int,
  flows: int,
  peers: int,
  clients: int,
  queues: { type: 'array', items: queueSchema },
  blocklistVersion: int,
  blocklistLag: int,
  backlogBatches: int,
  shedBatches: int,
});

export const hostSchema = object({
  ip: str,
  site: str,
  incidents: { type: 'array', items: incidentSchema },
  decisions: { type: 'array', items: decisionSchema },
  locks: { type: 'array', items: decisionSchema },
  allowed: { type: 'array', items: allowSchema },
});

export const peerSchema = object({
  ip: str,
  port: int,
  blocked: bool,
  blockedPorts: strings,
  decisions: { type: 'array', items: decisionSchema },
  allowed: { type: 'array', items: allowSchema },
  hosts: strings,
  sites: strings,
  incidents: { type: 'array', items: incidentSchema },
});

export const errorSchema = object({ statusCode: int, error: str, message: str });

/** The error answers every /v1 route may give, besides its own. */
export const v1Errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema };

const entryProperties: Record<string, Schema> = {
  scope,
  value: { type: 'string', minLength: 1, maxLength: 64, description: 'endpoint: ip:port or [ipv6]:port; ip and host: an address; network: ip/prefix with host bits zero (blocks only)' },
  site: { ...site, description: 'the site of a host (scope host), or the one site that enforces a network block (absent: every site)' },
  reason: { type: 'string', minLength: 1, maxLength: 500 },
  author: { type: 'string', minLength: 1, maxLength: 100, description: 'default "api"' },
  expires: timeInput('when it ends (relative: from now), or "never"; absent: a block ends after api.manualExpirySeconds (30 days by default), an allow entry never'),
};

/** The body of POST /v1/decisions: a manual block. */
export const blockBody: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['scope', 'value', 'reason'],
  properties: {
    ...entryProperties,
    transport: { ...transport, description: 'endpoint, ip and network: block tcp, udp or both (default both); a host lock holds for both' },
    force: { type: 'boolean', description: 'endpoint, ip and network: block an inside (private-range or insideNetworks) address or network as a peer anyway' },
  },
};

/** A manual entry as written, with what the person should check (an unknown site, ...). */
export function withWarnings(schema: Schema): Schema {
  const properties = schema['properties'] as Record<string, Schema>;
  return { ...schema, properties: { ...properties, warnings: strings } };
}

/** The body of POST /v1/allowlist: an allow entry, for every transport. */
export const allowBody: Schema = { type: 'object', additionalProperties: false, required: ['scope', 'value', 'reason'], properties: entryProperties };

/** The body of POST /v1/incidents/:id/{acknowledge,close,reopen}. */
export const workflowBody: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['note'],
  properties: {
    note: { type: 'string', minLength: 1, maxLength: MAX_NOTE_LENGTH, description: 'why (one line, shown with the incident)' },
    author: { type: 'string', minLength: 1, maxLength: 100, description: 'who (default "admin": the role of the token)' },
  },
};
