import { isAllowId, networksOverlap, originName, ruleNamespace, type Network } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { FastifyInstance } from 'fastify';
import { formatIp } from '@p2pwall/common/correlate';
import { allowCovers, coveringAllowIds } from '../../decide/allow-entries.js';
import type { BrainDecision } from '../../decide/decision.js';
import { overruleEvent } from '../../notify/overrule.js';
import type { ApiContext } from '../context.js';
import { ACTIONS, decisionView, SCOPES } from '../convert.js';
import { ApiError, badInput, notFound } from '../errors.js';
import { checkPeerTarget, manualInput, networkInput, peerInput, timeInput, type ManualBody } from '../input.js';
import { manualBlock } from '../manual.js';
import { pageListing, pageNewestFirst } from '../page.js';
import { action, blockBody, cursor, decisionSchema, withWarnings, errorSchema, limit, origin, pageSchema, scope, site, timeInput as timeSchema, v1Errors } from '../schemas.js';
import type { ActionName, OriginName, ScopeName } from '../views.js';

/**
 * The shared blocklist: list (filters), add a manual block, delete (unblock). Every write goes
 * through the BlocklistWriter, so it reaches the sensors on the change stream like the brain's own.
 */

interface ListQuery {
  scope?: ScopeName;
  origin?: OriginName;
  site?: string;
  value?: string;
  range?: string;
  rule?: string;
  sensor?: string;
  since?: string;
  until?: string;
  action: ActionName;
  simulated?: boolean;
  limit: number;
  cursor?: string;
}

/** The filters after parsing: what decisionMatches judges. */
export interface DecisionFilter {
  action: ActionName;
  scope?: ScopeName;
  origin?: OriginName;
  site?: string;
  simulated?: boolean;
  value?: { ip: string; port: number };
  /** Decisions about an address in it, or about a network that overlaps it. */
  range?: Network;
  /** A rule id (`fasttrack/udp-ping`) or a namespace (`fasttrack`). */
  rule?: string;
  /** `site/gateway`. */
  sensor?: string;
  /** Created at or after / before (ms). */
  sinceMs?: number;
  untilMs?: number;
}

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scope,
    origin,
    site: { ...site, description: 'what this site enforces: its host decisions and every decision that holds at all sites' },
    value: { type: 'string', maxLength: 64, description: 'ip (every decision about the address) or ip:port' },
    range: { type: 'string', maxLength: 64, description: 'decisions about addresses in this network, and network blocks that overlap it (CIDR, e.g. 203.0.113.0/24)' },
    rule: { type: 'string', maxLength: 80, pattern: '^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?$', description: 'a rule id (fasttrack/udp-ping) or every rule of a namespace (fasttrack) among the evidence' },
    sensor: { type: 'string', maxLength: 130, pattern: '^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$', description: 'site/gateway: decisions with evidence from this sensor' },
    since: timeSchema('created at or after this'),
    until: timeSchema('created at or before this'),
    action: { ...action, default: 'block' },
    simulated: { type: 'boolean', description: 'only simulated (true) or only enforced (false) decisions' },
    limit,
    cursor,
  },
};

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 300, description: 'URL-encoded decision id' } }, required: ['id'] };
const security = [{ bearer: [] }];
const { Action, Scope } = p2pwall.v1;

/** Whether a decision passes the list filters, judged on the stored decision (no view is built for what is left out). */
export function decisionMatches(d: BrainDecision, q: DecisionFilter, nowMs: number): boolean {
  if (d.expiresMs <= nowMs || d.action !== ACTIONS[q.action]) return false;
  if (q.scope !== undefined && d.scope !== SCOPES[q.scope]) return false;
  if (q.origin !== undefined && (originName(d.origin) ?? 'correlation') !== q.origin) return false;
  if (q.simulated !== undefined && d.simulated !== q.simulated) return false;
  // A site enforces its own host decisions and everything that holds at every site ('').
  if (q.site !== undefined && d.site !== q.site && d.site !== '') return false;
  if (q.value !== undefined) {
    if (formatIp(d.ip) !== q.value.ip) return false;
    if (q.value.port !== 0 && (d.scope !== Scope.SCOPE_ENDPOINT || d.port !== q.value.port)) return false;
  }
  if (q.range !== undefined && !networksOverlap(q.range, decisionNetwork(d))) return false;
  if (q.rule !== undefined && !d.evidence.rules.some((rule) => rule === q.rule || ruleNamespace(rule) === q.rule)) return false;
  if (q.sensor !== undefined && !d.evidence.sensors.includes(q.sensor)) return false;
  if (q.sinceMs !== undefined && d.createdMs < q.sinceMs) return false;
  if (q.untilMs !== undefined && d.createdMs > q.untilMs) return false;
  return true;
}

/** What a decision covers as a network: a network block's own, a single address for any other (/32, /128). */
function decisionNetwork(d: BrainDecision): Network {
  return { bytes: d.ip, prefix: d.scope === Scope.SCOPE_NETWORK ? (d.prefixLength ?? 0) : d.ip.length * 8 };
}

/** The query's filters, parsed; a bad one is a 400 naming it. */
function decisionFilter(q: ListQuery, nowMs: number): DecisionFilter {
  const filter: DecisionFilter = { action: q.action };
  if (q.scope !== undefined) filter.scope = q.scope;
  if (q.origin !== undefined) filter.origin = q.origin;
  if (q.site !== undefined) filter.site = q.site;
  if (q.simulated !== undefined) filter.simulated = q.simulated;
  if (q.rule !== undefined) filter.rule = q.rule;
  if (q.sensor !== undefined) filter.sensor = q.sensor;
  if (q.value !== undefined) {
    const value = peerInput('querystring/value', q.value);
    filter.value = { ip: value.address.ip, port: value.port };
  }
  if (q.range !== undefined) filter.range = networkInput('querystring/range', q.range);
  const sinceMs = timeInput('querystring/since', q.since, nowMs, 'ago');
  const untilMs = timeInput('querystring/until', q.until, nowMs, 'ago');
  if (sinceMs !== undefined) filter.sinceMs = sinceMs;
  if (untilMs !== undefined) filter.untilMs = untilMs;
  if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) throw badInput('querystring/until', 'is before since');
  return filter;
}

/**
 * What a person should know before trusting a host entry: a site no sensor has reported is
 * probably a typo (the entry is kept: the site's sensors may not have started yet).
 */
export async function siteWarnings(ctx: ApiContext, site: string): Promise<string[]> {
  if (site === '') return [];
  const known = [...new Set((await ctx.reader.heartbeats()).map((beat) => beat.sensor?.site ?? ''))].filter((name) => name !== '').sort();
  if (known.includes(site)) return [];
  return [`no sensor has reported site "${site}"${known.length > 0 ? ` (known sites: ${known.join(', ')})` : ' (no sensor has reported yet)'}: check its spelling; the entry applies once sensors of that site connect`];
}

export function decisionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>(
    '/decisions',
    { schema: { tags: ['decisions'], summary: 'Active decisions (blocks by default), newest first', security, querystring: listQuery, response: { 200: pageSchema(decisionSchema), ...v1Errors } } },
    async (request) => {
      const now = ctx.now();
      const filter = decisionFilter(request.query, now);
      const q = request.query;
      const wanted = filter.value;
      await ctx.deps.writer.catchUp();
      const accept = (d: BrainDecision): boolean => decisionMatches(d, filter, now);
      if (wanted === undefined) return pageListing(ctx.deps.writer, q.limit, q.cursor, accept, decisionView);
      // one address: its few decisions by memory's index, not a walk of the whole listing
      const about = ctx.deps.writer.idsAbout(wanted.ip).flatMap((id) => ctx.deps.writer.active(id, now) ?? []);
      return pageNewestFirst(about.filter(accept).map(decisionView), q.limit, q.cursor);
    },
  );

  app.post<{ Body: ManualBody }>(
    '/decisions',
    { config: { role: 'admin' }, schema: { tags: ['decisions'], summary: 'Add a manual block (admin); it replaces an automatic one for the same target', security, body: blockBody, response: { 201: withWarnings(decisionSchema), 409: errorSchema, ...v1Errors } } },
    async (request, reply) => {
      const input = manualInput(request.body, ctx.now(), ctx.config.manualExpirySeconds);
      checkPeerTarget(input, request.body.force === true, { insideNetworks: ctx.deps.insideNetworks ?? [], minNetworkPrefixLength: ctx.config.minNetworkPrefixLength });
      const warnings = await siteWarnings(ctx, input.target.site);
      const [stored] = await ctx.reader.get([input.target.blockId]);
      const decision = manualBlock(input, stored);
      const allows = (await ctx.reader.get(coveringAllowIds(decision))).filter((a) => a.expiresMs > input.nowMs && allowCovers(a, decision));
      if (allows.length > 0) throw new ApiError(409, `${decision.id} is allowlisted by ${allows.map((a) => a.id).join(', ')}: delete that entry first`);
      await ctx.deps.writer.replace(decision);
      request.log.info({ id: decision.id, author: decision.author, expiresMs: decision.expiresMs }, 'manual block added');
      ctx.deps.notifier?.notify(overruleEvent('block-added', decisionView(decision), [], ctx.now()));
      return reply.code(201).send({ ...decisionView(decision), warnings });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/decisions/:id',
    { config: { role: 'admin' }, schema: { tags: ['decisions'], summary: 'Remove a decision: unblock (admin)', security, params: idParams, response: { 200: { type: 'object', properties: { removed: decisionSchema }, required: ['removed'] }, 404: errorSchema, ...v1Errors } } },
    async (request) => {
      const { id } = request.params;
      if (isAllowId(id)) throw notFound(`${id} is an allowlist entry: DELETE /v1/allowlist/${encodeURIComponent(id)}`);
      const [stored] = await ctx.reader.get([id]);
      if (!stored || stored.action !== Action.ACTION_BLOCK || !(await ctx.deps.writer.remove(id))) throw notFound(`no decision ${id}`);
      request.log.info({ id }, 'decision removed (unblock)');
      ctx.deps.notifier?.notify(overruleEvent('decision-deleted', decisionView(stored), [], ctx.now()));
      return { removed: decisionView(stored) };
    },
  );
}
