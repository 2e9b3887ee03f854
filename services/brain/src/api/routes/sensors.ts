import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { sensorView } from '../convert.js';
import { sensorSchema, v1Errors } from '../schemas.js';
import type { SensorView } from '../views.js';

/** GET /v1/sensors: every sensor's last heartbeat, how old it is, and how far its blocklist lags. */
export function sensorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const response = { type: 'object', properties: { items: { type: 'array', items: sensorSchema }, blocklistVersion: { type: 'integer' } }, required: ['items', 'blocklistVersion'] };
  app.get('/sensors', { schema: { tags: ['sensors'], summary: 'Sensors: last heartbeat, version, mode, queue drops, blocklist lag', security: [{ bearer: [] }], response: { 200: response, ...v1Errors } } }, async () => {
    const [beats, blocklistVersion] = await Promise.all([ctx.reader.heartbeats(), ctx.reader.blocklistVersion()]);
    const now = ctx.now();
    const items: SensorView[] = beats.map((beat) => sensorView(beat, blocklistVersion, now, ctx.config.sensorStaleSeconds)).sort((a, b) => a.name.localeCompare(b.name));
    return { items, blocklistVersion };
  });
}
