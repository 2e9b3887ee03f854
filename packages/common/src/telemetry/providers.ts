import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { otlpSignalUrl, type TelemetryConfig } from './config.js';

/** An exporter that never answers must not hold a shutdown for long. */
const OTLP_TIMEOUT_MS = 5_000;

export interface ProviderOptions {
  serviceName: string;
  serviceVersion: string;
  attributes: Record<string, string>;
  config: TelemetryConfig;
  spanExporter?: SpanExporter;
}

export interface Providers {
  meterProvider: MeterProvider;
  tracerProvider: TracerProvider;
  /** The /metrics source; null when telemetry is disabled. */
  prometheus: PrometheusExporter | null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The metric and trace providers of one service. Built from the small SDK packages rather than
 * @opentelemetry/sdk-node, which registers global providers and auto-instrumentation and would
 * start the Prometheus exporter on a port of its own: here nothing is global, so two services can
 * share a process (tests), and /metrics lives on the same server as the health endpoints.
 * The configuration alone decides whether and where data is exported: OTEL_* variables cannot
 * switch export on (the OTLP exporters still take OTEL_EXPORTER_OTLP_* as fallbacks for what the
 * configuration leaves unset, such as extra headers, once an endpoint is configured).
 */
export function createProviders(options: ProviderOptions): Providers {
  const { config } = options;
  const resource: Resource = resourceFromAttributes({
    ...options.attributes,
    [ATTR_SERVICE_NAME]: options.serviceName,
    [ATTR_SERVICE_VERSION]: options.serviceVersion,
  });
  const instanceKeys = Object.keys(options.attributes);

  const readers: IMetricReader[] = [];
  let prometheus: PrometheusExporter | null = null;
  if (config.enabled) {
    prometheus = new PrometheusExporter({
      preventServerStart: true,
      // One meter per service: the scope label would only repeat the service name on every series.
      withoutScopeInfo: true,
      // Instance attributes (site, gateway) label every series, so sums by site need no join with target_info.
      ...(instanceKeys.length > 0 ? { withResourceConstantLabels: new RegExp(`^(${instanceKeys.map(escapeRegExp).join('|')})$`) } : {}),
    });
    readers.push(prometheus);
  }
  const spanProcessors: SpanProcessor[] = [];
  if (options.spanExporter) spanProcessors.push(new SimpleSpanProcessor({ exporter: options.spanExporter }));

  const endpoint = config.enabled ? config.otlp.endpoint : null;
  if (endpoint !== null) {
    const intervalMs = config.otlp.intervalSeconds * 1000;
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: otlpSignalUrl(endpoint, 'metrics'), headers: config.otlp.headers, timeoutMillis: OTLP_TIMEOUT_MS }),
        exportIntervalMillis: intervalMs,
        exportTimeoutMillis: Math.min(intervalMs, OTLP_TIMEOUT_MS),
      }),
    );
    spanProcessors.push(
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: otlpSignalUrl(endpoint, 'traces'), headers: config.otlp.headers, timeoutMillis: OTLP_TIMEOUT_MS }),
      }),
    );
  }
  return {
    meterProvider: new MeterProvider({ resource, readers }),
    tracerProvider: new TracerProvider({ resource, spanProcessors }),
    prometheus,
  };
}
