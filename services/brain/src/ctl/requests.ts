import type { ManualBody } from '../api/input.js';
import type { OriginName, ScopeName } from '../api/views.js';
import { CtlError, EXIT, type Query } from './client.js';
import { parseTarget, targetText } from './target.js';

/**
 * Command-line arguments → API requests (paths, query strings, bodies). Pure, so every mapping
 * and every refusal is unit-tested without a brain. Values the brain validates itself (times
 * like `10m`, protocol names) pass through untouched: the brain is the one judge of them and
 * names the field when it refuses.
 */

const usage = (message: string) => new CtlError(message, EXIT.usage);

/** Ids and addresses go into one path segment each; decision ids hold `:` and IPv6 brackets. */
const segment = (text: string) => encodeURIComponent(text);

export const paths = {
  incidents: '/v1/incidents',
  incident: (id: string) => `/v1/incidents/${segment(id)}`,
  decisions: '/v1/decisions',
  decision: (id: string) => `/v1/decisions/${segment(id)}`,
  allowlist: '/v1/allowlist',
  allow: (id: string) => `/v1/allowlist/${segment(id)}`,
  host: (ip: string) => `/v1/hosts/${segment(ip)}`,
  peer: (peer: string) => `/v1/peers/${segment(peer)}`,
  sensors: '/v1/sensors',
  ready: '/health/ready',
};

export interface IncidentFilters {
  since?: string;
  until?: string;
  site?: string;
  gateway?: string;
  host?: string;
  protocol?: string;
  peer?: string;
  limit?: number;
  cursor?: string;
}

export function incidentsQuery(filters: IncidentFilters): Query {
  const { since, until, site, gateway, host, protocol, peer, limit, cursor } = filters;
  return { since, until, site, gateway, host, protocol, peer, limit, cursor };
}

export interface AllowFilters {
  scope?: ScopeName;
  site?: string;
  value?: string;
  limit?: number;
  cursor?: string;
}

export function allowQuery(filters: AllowFilters): Query {
  const { scope, site, value, limit, cursor } = filters;
  return { scope, site, value, limit, cursor };
}

export interface DecisionFilters {
  scope?: ScopeName;
  origin?: OriginName;
  site?: string;
  value?: string;
  simulated?: boolean;
  limit?: number;
  cursor?: string;
}

export function decisionsQuery(filters: DecisionFilters): Query {
  const { scope, origin, site, value, limit, cursor } = filters;
  return { scope, origin, site, value, simulated: filters.simulated ? true : undefined, limit, cursor };
}

/** The body of POST /v1/decisions and POST /v1/allowlist: the server's own type. */
export type ManualEntryRequest = ManualBody;

interface EntryCommon {
  site?: string;
  reason?: string;
  expires?: string;
  author?: string;
}

function finish(scope: ScopeName, value: string, options: EntryCommon, defaultAuthor: string): ManualEntryRequest {
  const reason = options.reason?.trim() ?? '';
  if (reason === '') throw usage('--reason is required: say why, it is shown to whoever asks later');
  if (scope === 'host' && !options.site) throw usage('a host entry needs --site: an inside address means a host only at one site');
  if (scope !== 'host' && options.site) throw usage(`--site only goes with a host entry: ${scope} entries hold at every site`);
  const body: ManualEntryRequest = { scope, value, reason, author: options.author ?? defaultAuthor };
  if (scope === 'host') body.site = options.site;
  if (options.expires !== undefined) body.expires = options.expires;
  return body;
}

export interface DecisionAddOptions extends EntryCommon {
  endpoint?: string;
  ip?: string;
  host?: string;
}

/** `decisions add (--endpoint IP:PORT | --ip IP | --host IP --site S) --reason ...`: a manual block. */
export function decisionAddBody(options: DecisionAddOptions, defaultAuthor: string): ManualEntryRequest {
  const given = (['endpoint', 'ip', 'host'] as const).filter((scope) => options[scope] !== undefined);
  if (given.length !== 1) throw usage('give exactly one of --endpoint IP:PORT, --ip IP or --host IP --site S');
  const scope = given[0]!;
  return finish(scope, options[scope]!, options, defaultAuthor);
}

export interface AllowAddOptions extends EntryCommon {
  scope?: ScopeName;
}

/**
 * `allow add TARGET`: the scope follows from the target unless --scope says it. A bare IP with
 * --site is an inside host at that site; without --site an outside address; IP:PORT an endpoint.
 */
export function allowAddBody(targetTextIn: string, options: AllowAddOptions, defaultAuthor: string): ManualEntryRequest {
  const target = parseTarget(targetTextIn);
  if (!target) throw usage(`"${targetTextIn}" is not IP, IP:PORT or [IPv6]:PORT`);
  const implied: ScopeName = target.port !== 0 ? 'endpoint' : options.site ? 'host' : 'ip';
  const scope = options.scope ?? implied;
  if (scope === 'endpoint' && target.port === 0) throw usage('--scope endpoint needs IP:PORT');
  if (scope !== 'endpoint' && target.port !== 0) throw usage(`--scope ${scope} takes a bare IP, not IP:PORT`);
  return finish(scope, targetText(target), options, defaultAuthor);
}
