import { decisionId, parseDecisionId } from '@p2pwall/common/decisions';
import type { Transport } from '@p2pwall/common/formats';
import type { ManualBody } from '../api/input.js';
import type { ListQuery } from '../api/routes/incident-listing.js';
import type { OriginName, ScopeName, WorkflowAction } from '../api/views.js';
import { CtlError, EXIT, type Query } from './client.js';
import { canonicalNetwork, parseTarget, targetText } from './target.js';

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
  incidentStep: (id: string, action: WorkflowAction) => `/v1/incidents/${segment(id)}/${action}`,
  decisions: '/v1/decisions',
  decision: (id: string) => `/v1/decisions/${segment(id)}`,
  allowlist: '/v1/allowlist',
  allow: (id: string) => `/v1/allowlist/${segment(id)}`,
  host: (ip: string) => `/v1/hosts/${segment(ip)}`,
  peer: (peer: string) => `/v1/peers/${segment(peer)}`,
  sensors: '/v1/sensors',
  sensor: (name: string) => `/v1/sensors/${segment(name)}`,
  ready: '/health/ready',
};

/** The listing's filters as the API reads them (one definition: api/routes/incident-listing.ts); the limit the server's default when left out. */
export type IncidentFilters = Omit<ListQuery, 'limit'> & { limit?: number };

export function incidentsQuery(filters: IncidentFilters): Query {
  const { since, until, site, gateway, host, protocol, peer, range, rule, sensor, state, limit, cursor } = filters;
  return { since, until, site, gateway, host, protocol, peer, range, rule, sensor, state, limit, cursor };
}

/** The body of an incident's workflow step: the note (required, one line) and who. */
export function workflowStepBody(options: { note?: string; author?: string }, defaultAuthor: string): { note: string; author: string } {
  const note = options.note?.trim() ?? '';
  if (note === '') throw usage('--note is required: say why, it is shown with the incident');
  return { note, author: options.author ?? defaultAuthor };
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
  range?: string;
  rule?: string;
  sensor?: string;
  since?: string;
  until?: string;
  simulated?: boolean;
  limit?: number;
  cursor?: string;
}

export function decisionsQuery(filters: DecisionFilters): Query {
  const { scope, origin, site, value, range, rule, sensor, since, until, limit, cursor } = filters;
  return { scope, origin, site, value, range, rule, sensor, since, until, simulated: filters.simulated ? true : undefined, limit, cursor };
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
  if (scope !== 'host' && scope !== 'network' && options.site) throw usage(`--site only goes with a host entry or a network block: ${scope} entries hold at every site`);
  const body: ManualEntryRequest = { scope, value, reason, author: options.author ?? defaultAuthor };
  if (options.site) body.site = options.site;
  if (options.expires !== undefined) body.expires = options.expires;
  return body;
}

/** What a block is about: exactly one of --endpoint, --ip, --network, --host (with --site); --transport for all but --host. */
export interface DecisionTargetOptions {
  endpoint?: string;
  ip?: string;
  network?: string;
  host?: string;
  site?: string;
  transport?: Transport;
}

const TARGET_OPTIONS = ['endpoint', 'ip', 'network', 'host'] as const;

/**
 * A block's target given without an option: `IP` (a whole address), `IP:PORT` / `[IPv6]:PORT`
 * (an endpoint) or `NET/LEN` (a network); the same text `allow add` takes.
 */
export function impliedTarget(text: string): { scope: 'endpoint' | 'ip' | 'network'; value: string } {
  if (text.includes('/')) {
    const network = canonicalNetwork(text);
    if ('error' in network) throw usage(network.error);
    return { scope: 'network', value: network.network };
  }
  const target = parseTarget(text);
  if (!target) throw usage(`"${text}" is not IP, IP:PORT, [IPv6]:PORT or NET/LEN`);
  return target.port === 0 ? { scope: 'ip', value: target.ip } : { scope: 'endpoint', value: targetText(target) };
}

/** The one scope --endpoint, --ip, --network or --host (or a bare target) gives, and its value; `also` names another way to say it. */
function targetScope(options: DecisionTargetOptions, also: string, bare?: { text: string | undefined }): { scope: ScopeName; value: string } {
  const given = TARGET_OPTIONS.filter((scope) => options[scope] !== undefined);
  const target = bare === undefined ? '' : 'TARGET (IP, IP:PORT or NET/LEN), ';
  if (given.length + (bare?.text === undefined ? 0 : 1) !== 1) throw usage(`give exactly one of ${target}--endpoint IP:PORT, --ip IP, --network NET/LEN or --host IP --site S${also}`);
  const { scope, value } = bare?.text === undefined ? { scope: given[0]!, value: options[given[0]!]! } : impliedTarget(bare.text);
  if (scope === 'host' && options.transport !== undefined) throw usage('--transport goes with --endpoint, --ip or --network: a host lock holds for every transport');
  return { scope, value };
}

export interface DecisionAddOptions extends EntryCommon, DecisionTargetOptions {
  force?: boolean;
}

/** `decisions add (TARGET | --endpoint IP:PORT | --ip IP | --network NET/LEN | --host IP --site S) [--transport T] --reason ...`: a manual block (no --transport: both). */
export function decisionAddBody(options: DecisionAddOptions, defaultAuthor: string, bare?: string): ManualEntryRequest {
  const { scope, value } = targetScope(options, '', { text: bare });
  const body = finish(scope, value, options, defaultAuthor);
  if (options.transport !== undefined) body.transport = options.transport;
  if (options.force) body.force = true;
  return body;
}

/**
 * The id `decisions delete` removes: the id given, or the block of --endpoint, --ip (for
 * --transport, default both) or --host with --site, named as the brain names it.
 */
export function decisionDeleteId(id: string | undefined, options: DecisionTargetOptions): string {
  if (id !== undefined) {
    if (TARGET_OPTIONS.some((option) => options[option] !== undefined) || options.transport !== undefined) throw usage('give a decision id or --endpoint/--ip/--network/--host, not both');
    if (!parseDecisionId(id)) throw usage(`"${id}" is not a decision id: endpoint:IP:PORT, endpoint:udp:IP:PORT, ip:IP, ip:tcp:IP, net:NET/LEN, net:udp:NET/LEN@SITE, host:SITE:IP (or give --endpoint, --ip, --network or --host)`);
    return id;
  }
  const { scope, value } = targetScope(options, ', or a decision id');
  const transport = options.transport ?? 'both';
  if (scope === 'network') return decisionId.network(value, transport, options.site ?? '');
  if (scope === 'host') {
    if (!options.site) throw usage('--host needs --site: an inside address means a host only at one site');
    return decisionId.host(options.site, value);
  }
  if (options.site) throw usage(`--site only goes with --host: ${scope} blocks hold at every site`);
  if (scope === 'ip') return decisionId.ip(value, transport);
  const endpoint = parseTarget(value);
  if (!endpoint || endpoint.port === 0) throw usage(`"${value}" is not IP:PORT or [IPv6]:PORT`);
  return decisionId.endpoint(endpoint.ip, endpoint.port, transport);
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
