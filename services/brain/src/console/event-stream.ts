import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { LiveEvent, LiveEvents } from './live-events.js';

/**
 * GET /v1/events/stream: server-sent events of new incidents and decisions for the web console.
 * Authenticated by the bearer header like every /v1 route (the console reads it with fetch(), not
 * EventSource, which cannot send headers). The reply is hijacked: it lives as long as the client
 * and is not bound by the request timeout. A comment line every heartbeatMs keeps proxies from
 * closing an idle stream and tells a dead client apart; a client that does not read (its socket
 * buffer above MAX_BUFFERED_BYTES) is dropped rather than buffered without end.
 */

export const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED_BYTES = 256 * 1024;

/** One event as SSE text: `event:` names its type, `data:` holds it as one line of JSON. */
export function sseMessage(event: LiveEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export function eventStreamRoute(app: FastifyInstance, events: LiveEvents, heartbeatMs = HEARTBEAT_MS): void {
  // Streams never end on their own: a brain that stops ends them, or closing the server would wait on them for ever.
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const raw of open) raw.destroy();
  });
  app.get('/events/stream', { config: { longLived: true }, schema: { tags: ['console'], summary: 'Server-sent events: new incidents and decisions as this brain records them (text/event-stream)', security: [{ bearer: [] }] } }, (_request, reply) => {
    const raw = reply.raw;
    let stop = (): void => undefined;
    const write = (text: string): void => {
      if (raw.writableLength > MAX_BUFFERED_BYTES) {
        stop();
        raw.destroy();
        return;
      }
      raw.write(text);
    };
    const unsubscribe = events.subscribe((event) => write(sseMessage(event)));
    if (!unsubscribe) {
      void reply.code(503).header('retry-after', '30').send({ statusCode: 503, error: 'Service Unavailable', message: `${events.maxListeners} live event streams are open already (api.console.maxStreams): close a console tab or retry later` });
      return;
    }
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-accel-buffering': 'no' });
    // `retry`: how long a browser that follows the standard waits before reconnecting
    raw.write('retry: 3000\n: connected\n\n');
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    stop = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    // held until its socket closes: a response the client has left may keep its socket open
    open.add(raw);
    raw.socket?.once('close', () => open.delete(raw));
    // the response's 'close': the client went away (the request's own 'close' comes as soon as it has been read)
    raw.once('close', stop);
  });
}
