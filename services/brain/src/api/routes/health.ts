import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/** Probes for orchestrators: no token needed, no data shown. */

const status = { type: 'object', properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } }, required: ['status'] };

export function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/health/live', { schema: { tags: ['health'], summary: 'The process answers (no token needed)', response: { 200: status } } }, async () => ({ status: 'live' }));

  app.get('/health/ready', { schema: { tags: ['health'], summary: 'Redis and NATS are connected (no token needed); 503 otherwise', response: { 200: status, 503: status } } }, async (_request, reply) => {
    const checks = await ctx.deps.ready();
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
}
