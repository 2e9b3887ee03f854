import { allowId, decisionId } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { FastifyInstance } from 'fastify';
import { formatIp } from '@p2pwall/common/correlate';
import type { BrainDecision } from '../../decide/decision.js';
import type { ApiContext } from '../context.js';
import { allowView, decisionView } from '../convert.js';
import { ipInput } from '../input.js';
import { hostSchema, site, v1Errors } from '../schemas.js';
import type { HostView } from '../views.js';

/** GET /v1/hosts/:ip — what one inside host did: its incidents, the decisions about it, its current lock. */

const { Scope, Action } = p2pwall.v1;
const INCIDENTS_SHOWN = 20;

/** Host decisions (locks and allow entries) about `ip` at `site`, or at every site. */
async function hostDecisions(ctx: ApiContext, ip: string, site: string | undefined): Promise<BrainDecision[]> {
  if (site !== undefined) {
    const id = decisionId.host(site, ip);
    return ctx.reader.get([id, allowId(id)]);
  }
  // the ids from memory's index (brought up to date first), the decisions fresh from Redis
  await ctx.deps.writer.catchUp();
  const found = await ctx.reader.get(ctx.deps.writer.idsAbout(ip));
  return found.filter((d) => d.scope === Scope.SCOPE_HOST && formatIp(d.ip) === ip);
}

export function hostRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { ip: string }; Querystring: { site?: string } }>(
    '/hosts/:ip',
    {
      schema: {
        tags: ['hosts'],
        summary: 'What one inside host did: incidents, decisions, current lock',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { ip: { type: 'string', maxLength: 64 } }, required: ['ip'] },
        querystring: { type: 'object', additionalProperties: false, properties: { site } },
        response: { 200: hostSchema, ...v1Errors },
      },
    },
    async (request): Promise<HostView> => {
      const { ip } = ipInput('params/ip', request.params.ip);
      const site = request.query.site;
      const now = ctx.now();
      const [decisions, incidents] = await Promise.all([hostDecisions(ctx, ip, site), ctx.deps.incidents.list({ host: ip, limit: INCIDENTS_SHOWN, ...(site === undefined ? {} : { site }) })]);
      const active = decisions.filter((d) => d.expiresMs > now);
      return {
        ip,
        site: site ?? '',
        incidents: incidents.items,
        decisions: active.map(decisionView),
        locks: active.filter((d) => d.action === Action.ACTION_BLOCK && !d.simulated).map(decisionView),
        allowed: active.filter((d) => d.action === Action.ACTION_ALLOW).map(allowView),
      };
    },
  );
}
