import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { eveLines, incidentAlert, incidentEve } from '../incidents-eve.js';
import { errorSchema, v1Errors } from '../schemas.js';
import { NEXT_CURSOR_HEADER } from './incidents-csv.js';
import { listIncidents, listQuery, type ListQuery } from './incident-listing.js';

/**
 * The brain's event export as Suricata EVE JSON (one object a line, for SIEMs and EVE readers):
 * GET /v1/incidents.eve, an alert per incident of the listing (its filters, limit and cursor;
 * the next cursor in a header, as for CSV), and GET /v1/incidents/:id/eve, one incident's alert
 * and its sample flows.
 */

const NDJSON = 'application/x-ndjson; charset=utf-8';
const security = [{ bearer: [] }];
const text = { 200: { type: 'string', description: 'EVE JSON lines' } };

export function incidentsEveRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>(
    '/incidents.eve',
    { schema: { tags: ['incidents'], summary: `Incidents as Suricata EVE JSON lines (an alert each); the same filters as /v1/incidents, the next cursor in the ${NEXT_CURSOR_HEADER} header`, security, querystring: listQuery, response: { ...text, ...v1Errors } } },
    async (request, reply) => {
      const page = await listIncidents(ctx, request.query);
      if (page.nextCursor !== null) reply.header(NEXT_CURSOR_HEADER, page.nextCursor);
      return reply.header('content-type', NDJSON).send(eveLines(page.items.map(incidentAlert)));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/incidents/:id/eve',
    { schema: { tags: ['incidents'], summary: 'One incident as Suricata EVE JSON lines: its alert, then its sample flows (flow events)', security, params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] }, response: { ...text, 404: errorSchema, ...v1Errors } } },
    async (request, reply) => {
      const incident = await ctx.deps.incidents.get(request.params.id);
      if (!incident) throw notFound(`no incident ${request.params.id}`);
      return reply.header('content-type', NDJSON).send(eveLines(incidentEve(incident)));
    },
  );
}
