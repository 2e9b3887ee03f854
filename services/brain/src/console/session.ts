import type { FastifyInstance } from 'fastify';
import { authenticate, type TokenSet } from '../api/auth.js';

/**
 * GET /v1/session: the role of the token sent, so the console can hide what a read token may not
 * do (the API refuses it anyway). The /v1 hook has already refused unknown tokens.
 */
export function sessionRoute(app: FastifyInstance, tokens: TokenSet): void {
  const response = { type: 'object', properties: { role: { type: 'string', enum: ['read', 'admin'] } }, required: ['role'] };
  app.get('/session', { schema: { tags: ['console'], summary: 'The role of the bearer token sent (read or admin)', security: [{ bearer: [] }], response: { 200: response } } }, async (request) => {
    const auth = authenticate(tokens, request.headers.authorization);
    return { role: 'role' in auth ? auth.role : 'read' };
  });
}
