/**
 * Telemetry of a p2pwall service (issue 6 §3): one module for the sensor and the brain.
 *
 * Call `startTelemetry` before anything else, so the health endpoints answer while the service is
 * still connecting. It serves, on ONE HTTP server at `telemetry.listen` (default 127.0.0.1:9464):
 *   GET /metrics        Prometheus text of every instrument made with `telemetry.meter`
 *   GET /health/live    200 {"status":"live"} while the event loop answers
 *   GET /health/ready   200 when every registered component is ready, else 503 with each one's state
 * and, when `telemetry.otlp.endpoint` is set, pushes metrics every `intervalSeconds` and spans in
 * batches over OTLP/HTTP to `<endpoint>/v1/metrics` and `<endpoint>/v1/traces`. With no endpoint
 * nothing leaves the process. Traces cross services through `injectTraceparent`/`extractContext`
 * (propagation.ts); spans are for steps (publish, ingest, decision, blocklist update), never per packet.
 */
import { diag, DiagLogLevel, type Meter, type Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from '../logging.js';
import { TELEMETRY_DEFAULTS, type TelemetryConfig } from './config.js';
import { diagLogger } from './diag.js';
import { HealthRegistry } from './health.js';
import { startTelemetryServer, type TelemetryServer } from './server.js';

export interface TelemetryOptions {
  /** `service.name` of every metric and span: p2pwall-sensor, p2pwall-brain. */
  serviceName: string;
  serviceVersion: string;
  /** Instance attributes (site, gateway, ...): resource attributes, and a label on every Prometheus series. */
  attributes?: Record<string, string>;
  /** The `telemetry` section of the service's configuration; `enabled` defaults to true. */
  config: Omit<TelemetryConfig, 'enabled'> & { enabled?: boolean };
  /** Components /health/ready waits for, not ready until they report (`health.setReady`). */
  components?: string[];
  /** Receives every finished span at once, besides OTLP (tests use an InMemorySpanExporter). */
  spanExporter?: SpanExporter;
  /** Export failures and SDK warnings go here; without it the SDK stays silent. */
  logger?: Logger;
}

export interface Telemetry {
  meter: Meter;
  tracer: Tracer;
  health: HealthRegistry;
  /** The bound port of the HTTP server; null when telemetry is disabled. */
  port: number | null;
  /** Collects and exports now (OTLP metrics and queued spans); failures are logged, never thrown. */
  forceFlush(): Promise<void>;
  /** Stops the server and the exporters after a last export; safe to call twice. */
  close(): Promise<void>;
}

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'object' && reason !== null && 'error' in reason) return describe(reason.error);
  return String(reason);
}

export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const config: TelemetryConfig = { ...options.config, enabled: options.config.enabled ?? TELEMETRY_DEFAULTS.enabled };
  // The SDK (metrics, traces, exporters) is loaded here, not when @p2pwall/common is imported: it
  // doubles the package's import time, which every command-line tool would pay for nothing.
  const [{ createProviders }, { installContextManager }] = await Promise.all([import('./providers.js'), import('./context.js')]);
  installContextManager();
  if (options.logger) diag.setLogger(diagLogger(options.logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });

  const health = new HealthRegistry();
  health.expect(...(options.components ?? []));
  const { meterProvider, tracerProvider, prometheus } = createProviders({
    serviceName: options.serviceName,
    serviceVersion: options.serviceVersion,
    attributes: options.attributes ?? {},
    config,
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
  });
  const shutdownProviders = () => Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]).then(() => undefined);

  let server: TelemetryServer | null = null;
  if (prometheus !== null) {
    try {
      server = await startTelemetryServer({ host: config.listen.host, port: config.listen.port, health, metrics: (request, response) => prometheus.getMetricsRequestHandler(request, response) });
    } catch (error) {
      await shutdownProviders();
      if (options.logger) diag.disable();
      throw error;
    }
  }

  let closed: Promise<void> | undefined;
  return {
    meter: meterProvider.getMeter(options.serviceName, options.serviceVersion),
    tracer: tracerProvider.getTracer(options.serviceName, options.serviceVersion),
    health,
    port: server?.port ?? null,
    async forceFlush() {
      // A failed export is reported (to the logger, when given) rather than thrown: telemetry
      // trouble must never take the service's own work down with it.
      const results = await Promise.allSettled([meterProvider.forceFlush(), tracerProvider.forceFlush()]);
      for (const result of results) if (result.status === 'rejected') diag.error(`telemetry flush failed: ${describe(result.reason)}`);
    },
    close() {
      closed ??= (async () => {
        await server?.close();
        await shutdownProviders();
        // The diag channel is process-wide: it must not outlive the logger it writes to.
        if (options.logger) diag.disable();
      })();
      return closed;
    },
  };
}
