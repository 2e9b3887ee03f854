import { InvalidCursorError, type IncidentQuery } from '../../incidents/store.js';
import { INCIDENT_STATES, type IncidentState } from '../../incidents/workflow.js';
import type { ApiContext } from '../context.js';
import { badInput } from '../errors.js';
import { ipInput, peerInput, rangeInput, timeInput } from '../input.js';
import { cursor, limit, site, timeInput as timeSchema } from '../schemas.js';
import type { IncidentView, Page } from '../views.js';

/** The incident listing's filters, shared by GET /v1/incidents, /v1/incidents.csv and /v1/incidents.eve. */

export interface ListQuery {
  since?: string;
  until?: string;
  site?: string;
  gateway?: string;
  host?: string;
  protocol?: string;
  peer?: string;
  range?: string;
  rule?: string;
  sensor?: string;
  state?: IncidentState;
  limit: number;
  cursor?: string;
}

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: timeSchema('incidents last seen at or after this'),
    until: timeSchema('incidents first seen at or before this'),
    site,
    gateway: { ...site, description: 'gateway name' },
    host: { type: 'string', maxLength: 64, description: 'inside host address' },
    protocol: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'fasttrack, ..., unknown' },
    peer: { type: 'string', maxLength: 64, description: 'outside address: ip, ip:port or [ipv6]:port' },
    range: { type: 'string', maxLength: 64, description: 'inside hosts in this network (CIDR, e.g. 192.168.1.0/24)' },
    rule: { type: 'string', maxLength: 80, pattern: '^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?$', description: 'a rule id (fasttrack/udp-ping) or every rule of a namespace (bittorrent) among the evidence' },
    sensor: { type: 'string', maxLength: 130, pattern: '^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$', description: 'site/gateway: incidents that sensor saw (site and gateway together)' },
    state: { type: 'string', enum: [...INCIDENT_STATES], description: "the operators' workflow state" },
    limit,
    cursor,
  },
};

/** One page of the listing the query asks for; every filter parsed or refused with a 400 naming it. */
export async function listIncidents(ctx: ApiContext, q: ListQuery): Promise<Page<IncidentView>> {
  const now = ctx.now();
  const since = timeInput('querystring/since', q.since, now, 'ago');
  const until = timeInput('querystring/until', q.until, now, 'ago');
  if (since !== undefined && until !== undefined && until < since) throw badInput('querystring/until', 'is before since');
  const query: IncidentQuery = { limit: q.limit };
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  if (q.site !== undefined) query.site = q.site;
  if (q.gateway !== undefined) query.gateway = q.gateway;
  if (q.host !== undefined) query.host = ipInput('querystring/host', q.host).ip;
  if (q.protocol !== undefined) query.protocol = q.protocol;
  if (q.peer !== undefined) query.peer = peerInput('querystring/peer', q.peer).text;
  if (q.range !== undefined) query.range = rangeInput('querystring/range', q.range);
  if (q.rule !== undefined) query.rule = q.rule;
  if (q.state !== undefined) query.state = q.state;
  if (q.sensor !== undefined) {
    const [site, gateway] = q.sensor.split('/') as [string, string];
    if (q.site !== undefined && q.site !== site) throw badInput('querystring/sensor', `is at site ${site}, not ${q.site}`);
    query.site = site;
    query.gateway = gateway;
  }
  if (q.cursor !== undefined) query.cursor = q.cursor;
  try {
    return await ctx.deps.incidents.list(query);
  } catch (error) {
    if (error instanceof InvalidCursorError) throw badInput('querystring/cursor', error.message);
    throw error;
  }
}
