import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { errorSchema, incidentSchema, pageSchema, v1Errors } from '../schemas.js';
import { listIncidents, listQuery, type ListQuery } from './incident-listing.js';
import { incidentsCsvRoute } from './incidents-csv.js';
import { incidentsEveRoutes } from './incidents-eve.js';
import { incidentWorkflowRoutes } from './incident-workflow.js';

/**
 * GET /v1/incidents (filters, cursor pagination) and GET /v1/incidents/:id (with sample flows);
 * the same listing as CSV (incidents-csv.ts) and EVE JSON (incidents-eve.ts), and the operators'
 * workflow (incident-workflow.ts).
 */

const security = [{ bearer: [] }];

export function incidentRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>(
    '/incidents',
    { schema: { tags: ['incidents'], summary: 'Incidents, newest first, with filters and cursor pagination', security, querystring: listQuery, response: { 200: pageSchema(incidentSchema), ...v1Errors } } },
    async (request) => listIncidents(ctx, request.query),
  );

  incidentsCsvRoute(app, ctx);
  incidentsEveRoutes(app, ctx);
  incidentWorkflowRoutes(app, ctx);

  app.get<{ Params: { id: string } }>(
    '/incidents/:id',
    { schema: { tags: ['incidents'], summary: 'One incident with its evidence and sample flows', security, params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] }, response: { 200: incidentSchema, 404: errorSchema, ...v1Errors } } },
    async (request) => {
      const incident = await ctx.deps.incidents.get(request.params.id);
      if (!incident) throw notFound(`no incident ${request.params.id}`);
      return incident;
    },
  );
}
