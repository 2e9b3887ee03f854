import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthRegistry } from './health.js';

/** A telemetry endpoint that cannot be served; the message names the config key and the cause. */
export class TelemetryError extends Error {}

export interface TelemetryServerOptions {
  host: string;
  port: number;
  health: HealthRegistry;
  /** Answers GET /metrics (the Prometheus exporter's handler). */
  metrics: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface TelemetryServer {
  /** The bound port (the chosen one when port 0 was asked for). */
  port: number;
  close(): Promise<void>;
}

const LISTEN_CAUSES: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** Routes one request; anything but GET/HEAD of the three paths is answered, never thrown. */
function route(options: TelemetryServerOptions, request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  // The path only: Prometheus and probes may add query strings, which carry nothing here.
  const path = (request.url ?? '/').split('?', 1)[0];
  switch (path) {
    case '/metrics':
      options.metrics(request, response);
      return;
    case '/health/live':
      json(response, 200, { status: 'live' });
      return;
    case '/health/ready': {
      const readiness = options.health.ready();
      json(response, readiness.ok ? 200 : 503, { status: readiness.ok ? 'ready' : 'not ready', components: readiness.components });
      return;
    }
    default:
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /health/live or /health/ready\n');
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(body)}\n`);
}

/** Starts the one HTTP server of the telemetry module: /metrics, /health/live, /health/ready. */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const server: Server = createServer((request, response) => route(options, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const cause = LISTEN_CAUSES[error.code ?? ''] ?? error.message;
      reject(new TelemetryError(`telemetry.listen: cannot listen on ${options.host}:${options.port}: ${cause}`, { cause: error }));
    });
    server.listen({ host: options.host, port: options.port }, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection must not hold the port after close().
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
