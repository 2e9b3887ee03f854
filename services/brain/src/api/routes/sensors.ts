import type { FastifyInstance } from 'fastify';
import { forgetSensor } from '../../ingest/heartbeats.js';
import type { ApiContext } from '../context.js';
import { sensorView } from '../convert.js';
import { notFound } from '../errors.js';
import { pageByName } from '../page.js';
import { cursor, errorSchema, limit, sensorSchema, v1Errors } from '../schemas.js';
import type { SensorView } from '../views.js';

interface SensorsQuery {
  limit: number;
  cursor?: string;
}

/**
 * GET /v1/sensors: sensors by name, a page at a time: each one's last heartbeat, how old it is, and
 * how far its blocklist lags. DELETE /v1/sensors/:name (admin): retire a sensor from the list.
 */
export function sensorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const response = { type: 'object', properties: { items: { type: 'array', items: sensorSchema }, nextCursor: { type: ['string', 'null'] }, blocklistVersion: { type: 'integer' } }, required: ['items', 'nextCursor', 'blocklistVersion'] };
  const querystring = { type: 'object', additionalProperties: false, properties: { limit, cursor } };
  app.get<{ Querystring: SensorsQuery }>('/sensors', { schema: { tags: ['sensors'], summary: 'Sensors by name: last heartbeat, version, mode, queue drops, blocklist lag', security: [{ bearer: [] }], querystring, response: { 200: response, ...v1Errors } } }, async (request) => {
    const [beats, blocklistVersion] = await Promise.all([ctx.reader.heartbeats(), ctx.reader.blocklistVersion()]);
    const now = ctx.now();
    const views: SensorView[] = beats.map((beat) => sensorView(beat, blocklistVersion, now, ctx.config.sensorStaleSeconds));
    return { ...pageByName(views, request.query.limit, request.query.cursor), blocklistVersion };
  });

  const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 5, maxLength: 200, description: 'site/gateway/queue, URL-encoded' } } };
  app.delete<{ Params: { name: string } }>(
    '/sensors/:name',
    { config: { role: 'admin' }, schema: { tags: ['sensors'], summary: 'Forget a sensor (admin): it leaves the sensors list until it sends a heartbeat again', security: [{ bearer: [] }], params: nameParams, response: { 200: { type: 'object', properties: { removed: sensorSchema }, required: ['removed'] }, 404: errorSchema, ...v1Errors } } },
    async (request) => {
      const { name } = request.params;
      const [beat, blocklistVersion] = await Promise.all([ctx.reader.heartbeat(name), ctx.reader.blocklistVersion()]);
      // read, then removed: a heartbeat arriving in between puts a running sensor back, as it should
      if (!beat || !(await forgetSensor(ctx.deps.redis, name))) throw notFound(`no sensor ${name} in the sensors list (names are site/gateway/queue, as p2pwall sensors shows them)`);
      const removed = sensorView(beat, blocklistVersion, ctx.now(), ctx.config.sensorStaleSeconds);
      request.log.info({ sensor: name, state: removed.state }, 'sensor forgotten: removed from the sensors list');
      return { removed };
    },
  );
}
