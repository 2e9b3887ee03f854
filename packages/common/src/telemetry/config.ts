import { listenHostProblem, type ConfigSchema } from '../config.js';

/** The `telemetry` key of sensor.yaml and brain.yaml (both services embed the same schema). */
export interface TelemetryConfig {
  /** false: no HTTP server (no /metrics, no health endpoints) and no export; instruments still work. */
  enabled: boolean;
  /** Where /metrics, /health/live and /health/ready are served; port 0 picks a free port. */
  listen: { host: string; port: number };
  otlp: {
    /** Base URL of an OTLP/HTTP receiver (http://collector:4318); /v1/metrics and /v1/traces are appended. null: no export. */
    endpoint: string | null;
    /** Sent with every export, for example an authorization header of a hosted collector. */
    headers: Record<string, string>;
    /** How often metrics are pushed; traces leave in batches of their own. */
    intervalSeconds: number;
  };
}

export const TELEMETRY_DEFAULTS: TelemetryConfig = {
  enabled: true,
  // Loopback: on a bare-metal gateway every address includes the internet side. A scraper
  // elsewhere needs the host set on purpose (the Helm chart sets the pod's address).
  listen: { host: '127.0.0.1', port: 9464 },
  otlp: { endpoint: null, headers: {}, intervalSeconds: 15 },
};

const D = TELEMETRY_DEFAULTS;

/** JSON schema of TelemetryConfig, with defaults, for loadConfig (embed it as the `telemetry` key). */
export const TELEMETRY_CONFIG_SCHEMA: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'metrics (Prometheus), health endpoints and OTLP export',
  properties: {
    enabled: { type: 'boolean', default: D.enabled, description: 'false: no metrics/health HTTP server and no export' },
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, default: D.listen.host, description: 'address of /metrics, /health/live and /health/ready' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: D.listen.port, description: '9464 is the port registered for OpenTelemetry Prometheus exporters; 0 picks a free one' },
      },
    },
    otlp: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        endpoint: { type: ['string', 'null'], default: D.otlp.endpoint, description: 'OTLP/HTTP base URL (http://collector:4318); null: no export' },
        // patternProperties: every value a string (ConfigSchema types additionalProperties as a boolean).
        headers: { type: 'object', patternProperties: { '.*': { type: 'string' } }, default: {}, description: 'headers sent with every export' },
        intervalSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: D.otlp.intervalSeconds, description: 'metrics export interval' },
      },
    },
  },
};

/**
 * Checks the schema cannot express: the OTLP endpoint must be an http(s) URL without a query,
 * because the signal paths are appended to it. Each problem names its key under `section`.
 */
export function telemetryConfigProblems(config: TelemetryConfig, section = 'telemetry'): string[] {
  const host = listenHostProblem(`${section}.listen.host`, config.listen.host);
  return [...(host === null ? [] : [host]), ...otlpEndpointProblems(config, section)];
}

function otlpEndpointProblems(config: TelemetryConfig, section: string): string[] {
  const endpoint = config.otlp.endpoint;
  if (endpoint === null) return [];
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return [`${section}.otlp.endpoint: ${JSON.stringify(endpoint)} is not a URL (expected http://host:4318)`];
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return [`${section}.otlp.endpoint: must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`];
  if (url.search !== '' || url.hash !== '') return [`${section}.otlp.endpoint: must not carry a query or fragment (/v1/metrics and /v1/traces are appended), got ${JSON.stringify(endpoint)}`];
  return [];
}

/** The URL of one OTLP signal under the configured base URL, as OTEL_EXPORTER_OTLP_ENDPOINT defines it. */
export function otlpSignalUrl(endpoint: string, signal: 'metrics' | 'traces'): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}
