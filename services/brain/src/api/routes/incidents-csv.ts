import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { incidentsCsv } from '../incidents-csv.js';
import { v1Errors } from '../schemas.js';
import { listIncidents, listQuery, type ListQuery } from './incident-listing.js';

/**
 * GET /v1/incidents.csv: the listing of GET /v1/incidents (the same filters, limit and cursor) as
 * CSV for spreadsheets and reports. The next page's cursor, when there is one, is in the
 * `P2pwall-Next-Cursor` header (a CSV has no room for it).
 */

export const NEXT_CURSOR_HEADER = 'p2pwall-next-cursor';

export function incidentsCsvRoute(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListQuery }>(
    '/incidents.csv',
    {
      schema: {
        tags: ['incidents'],
        summary: `Incidents as CSV (RFC 4180, a header row; cells that a spreadsheet would run as a formula start with '); the same filters as /v1/incidents, the next cursor in the ${NEXT_CURSOR_HEADER} header`,
        security: [{ bearer: [] }],
        querystring: listQuery,
        produces: ['text/csv'],
        response: { 200: { type: 'string', description: 'text/csv' }, ...v1Errors },
      },
    },
    async (request, reply) => {
      const page = await listIncidents(ctx, request.query);
      if (page.nextCursor !== null) reply.header(NEXT_CURSOR_HEADER, page.nextCursor);
      return reply
        .header('content-type', 'text/csv; charset=utf-8; header=present')
        .header('content-disposition', 'attachment; filename="incidents.csv"')
        .send(incidentsCsv(page.items));
    },
  );
}
