import { isAllowId, originName } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { FastifyInstance } from 'fastify';
import { formatIp } from '../../correlate/address.js';
import { allowCovers, coveringAllowIds } from '../../decide/allow-entries.js';
import type { BrainDecision } from '../../decide/decision.js';
import type { ApiContext } from '../context.js';
import { ACTIONS, decisionView, SCOPES } from '../convert.js';
import { ApiError, notFound } from '../errors.js';
import { manualInput, peerInput, type ManualBody } from '../input.js';
import { manualBlock } from '../manual.js';
import { pageListing, pageNewestFirst } from '../page.js';
import { action, blockBody, cursor, decisionSchema, errorSchema, limit, origin, pageSchema, scope, site, v1Errors } from '../schemas.js';
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
  action: ActionName;
  simulated?: boolean;
  limit: number;
  cursor?: string;
}

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scope,
    origin,
    site: { ...site, description: 'decisions about this site: host decisions of the site, and others with evidence from it' },
    value: { type: 'string', maxLength: 64, description: 'ip (every decision about the address) or ip:port' },
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
export function decisionMatches(d: BrainDecision, q: Omit<ListQuery, 'limit' | 'cursor'>, value: { ip: string; port: number } | undefined, nowMs: number): boolean {
  if (d.expiresMs <= nowMs || d.action !== ACTIONS[q.action]) return false;
  if (q.scope !== undefined && d.scope !== SCOPES[q.scope]) return false;
  if (q.origin !== undefined && (originName(d.origin) ?? 'correlation') !== q.origin) return false;
  if (q.simulated !== undefined && d.simulated !== q.simulated) return false;
  if (q.site !== undefined && d.site !== q.site && !d.evidence.sites.includes(q.site)) return false;
  if (value !== undefined) {
    if (formatIp(d.ip) !== value.ip) return false;
    if (value.port !== 0 && (d.scope !== Scope.SCOPE_ENDPOINT || d.port !== value.port)) return false;
  }
  return true;
}

export function decisionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>(
    '/decisions',
    { schema: { tags: ['decisions'], summary: 'Active decisions (blocks by default), newest first', security, querystring: listQuery, response: { 200: pageSchema(decisionSchema), ...v1Errors } } },
    async (request) => {
      const q = request.query;
      const value = q.value === undefined ? undefined : peerInput('querystring/value', q.value);
      const now = ctx.now();
      const wanted = value && { ip: value.address.ip, port: value.port };
      await ctx.deps.writer.catchUp();
      const accept = (d: BrainDecision): boolean => decisionMatches(d, q, wanted, now);
      if (wanted === undefined) return pageListing(ctx.deps.writer, q.limit, q.cursor, accept, decisionView);
      // one address: its few decisions by memory's index, not a walk of the whole listing
      const about = ctx.deps.writer.idsAbout(wanted.ip).flatMap((id) => ctx.deps.writer.active(id, now) ?? []);
      return pageNewestFirst(about.filter(accept).map(decisionView), q.limit, q.cursor);
    },
  );

  app.post<{ Body: ManualBody }>(
    '/decisions',
    { config: { role: 'admin' }, schema: { tags: ['decisions'], summary: 'Add a manual block (admin); it replaces an automatic one for the same target', security, body: blockBody, response: { 201: decisionSchema, 409: errorSchema, ...v1Errors } } },
    async (request, reply) => {
      const input = manualInput(request.body, ctx.now());
      const [stored] = await ctx.reader.get([input.target.blockId]);
      const decision = manualBlock(input, stored);
      const allows = (await ctx.reader.get(coveringAllowIds(decision))).filter((a) => a.expiresMs > input.nowMs && allowCovers(a, decision));
      if (allows.length > 0) throw new ApiError(409, `${decision.id} is allowlisted by ${allows.map((a) => a.id).join(', ')}: delete that entry first`);
      await ctx.deps.writer.replace(decision);
      request.log.info({ id: decision.id, author: decision.author, expiresMs: decision.expiresMs }, 'manual block added');
      return reply.code(201).send(decisionView(decision));
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
      return { removed: decisionView(stored) };
    },
  );
}
