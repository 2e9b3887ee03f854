import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { sensorView } from '../convert.js';
import { pageByName } from '../page.js';
import { cursor, limit, sensorSchema, v1Errors } from '../schemas.js';
import type { SensorView } from '../views.js';

interface SensorsQuery {
  limit: number;
  cursor?: string;
}

/** GET /v1/sensors: sensors by name, a page at a time: each one's last heartbeat, how old it is, and how far its blocklist lags. */
export function sensorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const response = { type: 'object', properties: { items: { type: 'array', items: sensorSchema }, nextCursor: { type: ['string', 'null'] }, blocklistVersion: { type: 'integer' } }, required: ['items', 'nextCursor', 'blocklistVersion'] };
  const querystring = { type: 'object', additionalProperties: false, properties: { limit, cursor } };
  app.get<{ Querystring: SensorsQuery }>('/sensors', { schema: { tags: ['sensors'], summary: 'Sensors by name: last heartbeat, version, mode, queue drops, blocklist lag', security: [{ bearer: [] }], querystring, response: { 200: response, ...v1Errors } } }, async (request) => {
    const [beats, blocklistVersion] = await Promise.all([ctx.reader.heartbeats(), ctx.reader.blocklistVersion()]);
    const now = ctx.now();
    const views: SensorView[] = beats.map((beat) => sensorView(beat, blocklistVersion, now, ctx.config.sensorStaleSeconds));
    return { ...pageByName(views, request.query.limit, request.query.cursor), blocklistVersion };
  });
}
