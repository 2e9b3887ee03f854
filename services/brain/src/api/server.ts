import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import { LogLimiter, packageVersion, type Logger } from '@p2pwall/common';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { BrainConfig } from '../config.js';
import { InvalidCursorError } from '../incidents/store.js';
import type { ApiRequestObserver } from '../telemetry/api-metrics.js';
import { authenticate, loadTokens, permits, type Role, type TokenSet } from './auth.js';
import { BlocklistReader } from './blocklist-reader.js';
import type { ApiContext, ApiDeps } from './context.js';
import { ApiError, errorView, formatSchemaErrors } from './errors.js';
import { RequestLimiter } from './limits.js';
import { BadCursorError } from './page.js';
import { allowlistRoutes } from './routes/allowlist.js';
import { decisionRoutes } from './routes/decisions.js';
import { healthRoutes } from './routes/health.js';
import { hostRoutes } from './routes/hosts.js';
import { incidentRoutes } from './routes/incidents.js';
import { peerRoutes } from './routes/peers.js';
import { sensorRoutes } from './routes/sensors.js';
import { eventStreamRoute } from '../console/event-stream.js';
import { sessionRoute } from '../console/session.js';
import { consoleFileRoutes, defaultConsoleDir, loadConsoleFiles } from '../console/static-files.js';

/**
 * The brain's HTTP API (fastify). Health probes and /openapi.json are public (they hold no data);
 * everything under /v1 needs `Authorization: Bearer <token>`: a read token, or an admin token for
 * the routes that change the blocklist (route config `role: 'admin'`).
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; read when absent. */
    role?: Role;
    /** A stream bounded by a limit of its own (api.console.maxStreams): it holds no maxConcurrent slot. */
    longLived?: boolean;
  }
}

export type ApiConfig = BrainConfig['api'];

/** What the brain's telemetry learns from the API; every hook is optional (tests build the API without). */
export interface ApiHooks {
  /** Called once per answered request (p2pwall_brain_api_request_seconds). */
  observeRequest?: ApiRequestObserver;
}

function v1Plugin(ctx: ApiContext, tokens: TokenSet, limiter: RequestLimiter) {
  return async (v1: FastifyInstance): Promise<void> => {
    // onRequest: before the body is read, so nobody without a token makes the brain parse anything.
    v1.addHook('onRequest', async (request, reply) => {
      const auth = authenticate(tokens, request.headers.authorization);
      if ('error' in auth) {
        const message = { missing: 'an Authorization: Bearer <token> header is required', malformed: 'the Authorization header must be "Bearer <token>"', unknown: 'unknown token' }[auth.error];
        return reply.code(401).header('www-authenticate', 'Bearer realm="p2pwall"').send(errorView(401, message));
      }
      const needed = request.routeOptions.config.role ?? 'read';
      if (!permits(auth.role, needed)) return reply.code(403).send(errorView(403, `this route needs an ${needed} token; a ${auth.role} token was given`));
      // Limits: one token cannot take more than its rate, all of them together no more than maxConcurrent at once.
      const rate = limiter.admitToken(auth.key, ctx.now());
      if (!rate.allowed) return reply.code(429).header('retry-after', String(rate.retryAfterSeconds)).send(errorView(429, `this token made more than ${ctx.config.limits.perTokenPerSecond} requests a second (api.limits.perTokenPerSecond): retry after ${rate.retryAfterSeconds} s`));
      if (request.routeOptions.config.longLived) return undefined;
      const release = limiter.enter();
      if (!release) return reply.code(503).header('retry-after', '1').send(errorView(503, `the brain is answering ${ctx.config.limits.maxConcurrent} requests already (api.limits.maxConcurrent): retry in a moment`));
      // 'close' comes once the answer is sent, and also when the client goes away first
      reply.raw.once('close', release);
      // The blocklist lives in Redis: without it, say so at once rather than let the request wait.
      if (ctx.deps.redis.status !== 'ready') return reply.code(503).send(errorView(503, 'Redis is not connected: try again later'));
      return undefined;
    });
    incidentRoutes(v1, ctx);
    decisionRoutes(v1, ctx);
    allowlistRoutes(v1, ctx);
    hostRoutes(v1, ctx);
    peerRoutes(v1, ctx);
    sensorRoutes(v1, ctx);
    sessionRoute(v1, tokens);
    if (ctx.deps.events) eventStreamRoute(v1, ctx.deps.events);
  };
}

/** Timed-out and failed requests are logged at most this often per route (every one is counted: p2pwall_brain_api_request_seconds). */
const PROBLEM_LOG_INTERVAL_MS = 60_000;

/**
 * Builds the API (not listening yet). Throws ApiConfigError when no token is configured or a token
 * file cannot be read.
 */
export function buildApi(deps: ApiDeps, config: ApiConfig, log: Logger, hooks: ApiHooks = {}): FastifyInstance {
  const tokens = loadTokens(config);
  const limiter = new RequestLimiter(config.limits);
  // A storm of slow or failing requests must not write a line each: one a minute per kind and route, with the count left out since.
  const problemLog = new LogLimiter(PROBLEM_LOG_INTERVAL_MS);
  const logLine = (kind: string, request: { routeOptions: { url?: string } }): { leftOut: number } | undefined => problemLog.take(`${kind} ${request.routeOptions.url ?? 'unmatched'}`, Date.now());
  const ctx: ApiContext = { deps, config, reader: new BlocklistReader(deps.redis), now: deps.now ?? Date.now };
  const https = config.tls.cert !== null && config.tls.key !== null ? { https: { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } } : {};
  // With `https` fastify's instance is typed for an https.Server; the routes use nothing that differs.
  const app = fastify({
    ...https,
    // As fastify's base logger type: the instance type then matches the FastifyInstance the routes take.
    loggerInstance: log.child({ component: 'api' }) as FastifyBaseLogger,
    // One line per request at info would drown the brain's own log; requests are logged at debug below.
    logController: new LogController({ disableRequestLogging: true }),
    // Decision ids (allow:host:<site>:<ipv6>) are longer than fastify's default of 100.
    routerOptions: { maxParamLength: 300 },
    bodyLimit: 64 * 1024,
    // A request must arrive within the timeout (slow senders hold no socket for long) and be answered
    // within it: its handler is told through request.signal, the client gets 503.
    requestTimeout: config.limits.requestTimeoutSeconds * 1000,
    handlerTimeout: config.limits.requestTimeoutSeconds * 1000,
    schemaErrorFormatter: formatSchemaErrors,
    // Unknown fields are rejected (schemas say additionalProperties: false), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      // packageVersion reads the package.json one folder above the module it is given: name one in src/ (dist/).
      info: { title: 'p2pwall brain API', version: packageVersion(new URL('../cli.js', import.meta.url).href), description: 'Incidents, decisions, allowlist, hosts, peers and sensors of p2pwall. /openapi.json and /health/* need no token; every /v1 route needs a bearer token (admin for changes).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    let status = error instanceof ApiError ? error.statusCode : (error.statusCode ?? 500);
    let message = error.message;
    if (error instanceof BadCursorError || error instanceof InvalidCursorError) {
      status = 400;
      message = `querystring/cursor: ${error.message}`;
    }
    if ((error as { code?: string }).code === 'FST_ERR_HANDLER_TIMEOUT') {
      const line = logLine('timeout', request);
      if (line) request.log.warn({ url: request.url.slice(0, 300), timeoutSeconds: config.limits.requestTimeoutSeconds, leftOut: line.leftOut }, 'API request timed out');
      return reply.code(503).header('retry-after', '1').send(errorView(503, `not answered within ${config.limits.requestTimeoutSeconds} s (api.limits.requestTimeoutSeconds): try again later`));
    }
    if (status >= 500) {
      const line = logLine('failed', request);
      if (line) request.log.error({ err: error, url: request.url.slice(0, 300), leftOut: line.leftOut }, 'API request failed');
      message = 'internal error (the brain log has the details)';
    }
    return reply.code(status).send(errorView(status, message));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorView(404, `no route ${request.method} ${request.url.split('?')[0]}`)));
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'API request');
    // The route template, never the URL: ids and query strings would make a series per request.
    hooks.observeRequest?.({ method: request.method, route: request.routeOptions.url ?? 'unmatched', statusCode: reply.statusCode, seconds: reply.elapsedTime / 1000 });
  });

  // Routes go in plugins registered after swagger, so its onRoute hook sees every one of them.
  app.register(async (root) => {
    root.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    healthRoutes(root, ctx);
    const consoleDir = config.console.dir ?? defaultConsoleDir();
    if (config.console.enabled) consoleFileRoutes(root, loadConsoleFiles(consoleDir), consoleDir);
  });
  app.register(v1Plugin(ctx, tokens, limiter), { prefix: '/v1' });
  return app;
}

/** Builds the API and listens on api.listen; the bound port is `server.address()` (port 0 picks one). */
export async function startApi(deps: ApiDeps, config: ApiConfig, log: Logger, hooks: ApiHooks = {}): Promise<FastifyInstance> {
  const app = buildApi(deps, config, log, hooks);
  await app.listen({ host: config.listen.host, port: config.listen.port }); // fastify logs "Server listening at ..."
  return app;
}

/** The port the API listens on. */
export function apiPort(app: FastifyInstance): number {
  const address = app.server.address();
  return address !== null && typeof address === 'object' ? address.port : 0;
}
