import { isAllowId } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { FastifyInstance } from 'fastify';
import { formatIp } from '@p2pwall/common/correlate';
import { allowCovers, coveredBlockIds } from '../../decide/allow-entries.js';
import { SuspendedBlocks } from '../../decide/suspended-blocks.js';
import type { BrainDecision } from '../../decide/decision.js';
import { overruleEvent } from '../../notify/overrule.js';
import type { ApiContext } from '../context.js';
import { allowView } from '../convert.js';
import { badInput, notFound } from '../errors.js';
import { manualInput, peerInput, type ManualBody } from '../input.js';
import { allowEntry } from '../manual.js';
import { pageListing } from '../page.js';
import { siteWarnings } from './decisions.js';
import { allowBody, allowSchema, withWarnings, cursor, errorSchema, limit, pageSchema, scope, site, v1Errors } from '../schemas.js';
import type { AllowView, ScopeName } from '../views.js';

/**
 * The operators' allowlist: ALLOW decisions in the shared blocklist. Adding an entry suspends the
 * blocks it covers (off the blocklist, so the sensors unlock the host or unblock the peer at
 * once); deleting it, or its expiry, puts them back.
 */

interface ListQuery {
  scope?: ScopeName;
  site?: string;
  value?: string;
  limit: number;
  cursor?: string;
}

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { scope, site, value: { type: 'string', maxLength: 64, description: 'ip or ip:port' }, limit, cursor },
};

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 300, description: 'URL-encoded entry id (allow:...)' } }, required: ['id'] };
const security = [{ bearer: [] }];
const { Action, Scope } = p2pwall.v1;

/** The blocks an allow entry lifts, as stored now. */
async function coveredBlocks(ctx: ApiContext, allow: BrainDecision): Promise<BrainDecision[]> {
  const { ids, endpointPrefixes } = coveredBlockIds(allow);
  const ip = formatIp(allow.ip);
  if (endpointPrefixes.length > 0 && ip !== undefined) {
    // the endpoint blocks of the address, by memory's index (brought up to date first), read fresh from Redis
    await ctx.deps.writer.catchUp();
    ids.push(...ctx.deps.writer.idsAbout(ip).filter((id) => endpointPrefixes.some((prefix) => id.startsWith(prefix))));
  }
  const found = await ctx.reader.get([...new Set(ids)]);
  return found.filter((block) => allowCovers(allow, block));
}

const allowAddedSchema = (() => {
  const schema = withWarnings(allowSchema);
  return {
    ...schema,
    properties: {
      ...(schema['properties'] as object),
      suspended: { type: 'array', items: { type: 'string' }, description: 'ids of the blocks this entry suspends' },
      throughNetworks: { type: 'array', items: { type: 'string' }, description: 'ids of the network blocks this entry lets its address or endpoint through (they stay for the rest of the network)' },
    },
  };
})();

/**
 * Why there are no network allow entries: an allow entry also keeps every sensor's engine from
 * learning the peers it covers and the brain from deciding blocks of them, and both look entries
 * up by address, not by range. The brain's static allowlist already takes networks.
 */
export const NETWORK_ALLOW_REFUSAL =
  'allow entries name one address, endpoint or host, not a network; to never block a whole outside network, list it in the brain config allowlist.endpoints (CIDR); to lift a network block, delete it (p2pwall decisions delete)';

const suspendedBlocks = (ctx: ApiContext): SuspendedBlocks => new SuspendedBlocks(ctx.deps.redis, ctx.reader, ctx.deps.writer, ctx.now);

export function allowlistRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>(
    '/allowlist',
    { schema: { tags: ['allowlist'], summary: 'Active allowlist entries, newest first', security, querystring: listQuery, response: { 200: pageSchema(allowSchema), ...v1Errors } } },
    async (request) => {
      const q = request.query;
      const value = q.value === undefined ? undefined : peerInput('querystring/value', q.value);
      const now = ctx.now();
      const wanted = (view: AllowView): boolean => (q.scope === undefined || view.scope === q.scope) && (q.site === undefined || view.site === q.site) && (value === undefined || view.value === value.text || view.value === value.address.ip);
      await ctx.deps.writer.catchUp();
      return pageListing(ctx.deps.writer, q.limit, q.cursor, (d) => d.action === Action.ACTION_ALLOW && d.expiresMs > now && wanted(allowView(d)), allowView);
    },
  );

  app.post<{ Body: ManualBody }>(
    '/allowlist',
    { config: { role: 'admin' }, schema: { tags: ['allowlist'], summary: 'Allow a host, endpoint or address (admin); the blocks it covers are suspended (listed in `suspended`) until it is deleted or expires', security, body: allowBody, response: { 201: allowAddedSchema, ...v1Errors } } },
    async (request, reply) => {
      if (request.body.scope === 'network') throw badInput('body/scope', NETWORK_ALLOW_REFUSAL);
      // An allow entry is a standing exception: it lasts until deleted unless given an expiry.
      const allow = allowEntry(manualInput(request.body, ctx.now()));
      const warnings = await siteWarnings(ctx, allow.site);
      // The entry first: a brain that sees new evidence between the two steps already finds it.
      await ctx.deps.writer.replace(allow);
      // Suspended, not deleted: deleting the entry (or its expiry) puts them back.
      const suspended = await suspendedBlocks(ctx).suspend(allow, await coveredBlocks(ctx, allow));
      // Network blocks are not suspended: the sensors let the entry's address or endpoint through them.
      const throughNetworks = allow.scope === Scope.SCOPE_HOST ? [] : ctx.deps.writer.networkIdsCovering(allow.ip).sort();
      request.log.info({ id: allow.id, author: allow.author, suspended, throughNetworks }, 'allowlist entry added');
      ctx.deps.notifier?.notify(overruleEvent('allow-added', allowView(allow), suspended, ctx.now()));
      return reply.code(201).send({ ...allowView(allow), warnings, suspended, throughNetworks });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/allowlist/:id',
    { config: { role: 'admin' }, schema: { tags: ['allowlist'], summary: 'Remove an allowlist entry (admin); the blocks it suspended come back (listed in `restored`) if still unexpired', security, params: idParams, response: { 200: { type: 'object', properties: { removed: allowSchema, restored: { type: 'array', items: { type: 'string' } } }, required: ['removed', 'restored'] }, 404: errorSchema, ...v1Errors } } },
    async (request) => {
      const { id } = request.params;
      if (!isAllowId(id)) throw notFound(`${id} is not an allowlist entry (their ids start with allow:)`);
      const [stored] = await ctx.reader.get([id]);
      if (!stored || stored.action !== Action.ACTION_ALLOW || !(await ctx.deps.writer.remove(id))) throw notFound(`no allowlist entry ${id}`);
      const restored = await suspendedBlocks(ctx).restore(id);
      request.log.info({ id, restored }, 'allowlist entry removed');
      ctx.deps.notifier?.notify(overruleEvent('allow-removed', allowView(stored), restored, ctx.now()));
      return { removed: allowView(stored), restored };
    },
  );
}
