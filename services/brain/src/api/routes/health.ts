import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/** Probes for orchestrators: no token needed, no data shown. */

const status = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    checks: { type: 'object', additionalProperties: { type: 'boolean' } },
    warnings: { type: 'object', additionalProperties: { type: 'string' }, description: 'what an operator must hear that does not make the brain unready, e.g. incidentHistory (lost, or Redis without persistence); absent when none' },
  },
  required: ['status'],
};

export function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/health/live', { schema: { tags: ['health'], summary: 'The process answers (no token needed)', response: { 200: status } } }, async () => ({ status: 'live' }));

  app.get('/health/ready', { schema: { tags: ['health'], summary: 'Redis and NATS are connected (no token needed); 503 otherwise', response: { 200: status, 503: status } } }, async (_request, reply) => {
    const checks = await ctx.deps.ready();
    const ready = Object.values(checks).every(Boolean);
    const warnings = ctx.deps.warnings?.() ?? {};
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks, ...(Object.keys(warnings).length > 0 ? { warnings } : {}) });
  });
}
