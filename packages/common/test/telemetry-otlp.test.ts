import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.js';
import { startTelemetry } from '../src/telemetry/start.js';

/** A real OTLP/HTTP receiver stand-in: records each request, answers 200 as a collector does. */
interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
const received: Received[] = [];
let receiver: Server;

/** The parts of an OTLP/JSON export request the tests read. */
interface OtlpBody {
  resourceMetrics?: { resource: OtlpResource; scopeMetrics: { metrics: { name: string; sum?: { dataPoints: unknown[] } }[] }[] }[];
  resourceSpans?: { resource: OtlpResource; scopeSpans: { spans: { name: string }[] }[] }[];
}
interface OtlpResource {
  attributes: { key: string; value: { stringValue?: string } }[];
}
function serviceName(body: OtlpBody): string | undefined {
  const resource = body.resourceMetrics?.[0]?.resource ?? body.resourceSpans?.[0]?.resource;
  return resource?.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue;
}
let endpoint: string;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen({ host: '127.0.0.1', port: 0 }, resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

describe('telemetry: OTLP export', () => {
  it('with an endpoint, a forced flush posts metrics and spans to <endpoint>/v1/metrics and /v1/traces with the configured headers', async () => {
    received.length = 0;
    const telemetry = await startTelemetry({
      serviceName: 'p2pwall-otlp-test',
      serviceVersion: '0.1.0',
      attributes: { site: 'a' },
      config: { listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: `${endpoint}/`, headers: { 'x-p2pwall-token': 'secret-1' }, intervalSeconds: 3600 } },
    });
    try {
      telemetry.meter.createCounter('p2pwall_otlp_test_decisions').add(5, { origin: 'signature' });
      telemetry.tracer.startSpan('blocklist update').end();
      await telemetry.forceFlush();
    } finally {
      await telemetry.close();
    }
    const metrics = received.filter((request) => request.path === '/v1/metrics');
    const traces = received.filter((request) => request.path === '/v1/traces');
    expect(metrics.length).toBeGreaterThanOrEqual(1);
    expect(traces).toHaveLength(1);
    for (const request of [...metrics, ...traces]) {
      expect(request.method).toBe('POST');
      expect(request.headers['x-p2pwall-token']).toBe('secret-1');
      // The -http exporters speak OTLP/JSON, which every OTLP/HTTP receiver (port 4318) accepts.
      expect(request.headers['content-type']).toBe('application/json');
      expect(serviceName(JSON.parse(request.body.toString('utf8')) as OtlpBody)).toBe('p2pwall-otlp-test');
    }
    const exported = metrics.flatMap((request) => (JSON.parse(request.body.toString('utf8')) as OtlpBody).resourceMetrics?.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)) ?? []);
    const decisions = exported.find((metric) => metric.name === 'p2pwall_otlp_test_decisions');
    expect(decisions?.sum?.dataPoints).toEqual([expect.objectContaining({ asDouble: 5, attributes: [{ key: 'origin', value: { stringValue: 'signature' } }] })]);
    const spans = (JSON.parse(traces[0]?.body.toString('utf8') ?? '{}') as OtlpBody).resourceSpans?.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)) ?? [];
    expect(spans.map((span) => span.name)).toEqual(['blocklist update']);
  });

  it('without an endpoint nothing is sent, even when OTEL_EXPORTER_OTLP_ENDPOINT points at a receiver', async () => {
    received.length = 0;
    const saved = process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = endpoint;
    try {
      const telemetry = await startTelemetry({
        serviceName: 'p2pwall-otlp-test',
        serviceVersion: '0.1.0',
        config: { listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 1 } },
      });
      telemetry.meter.createCounter('p2pwall_otlp_test_decisions').add(1);
      telemetry.tracer.startSpan('blocklist update').end();
      await telemetry.forceFlush();
      // Longer than the export interval would be, had a periodic reader been made.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await telemetry.close();
    } finally {
      if (saved === undefined) delete process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
      else process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = saved;
    }
    expect(received).toEqual([]);
  });

  it('an unreachable receiver is logged as an error of the telemetry component, and nothing throws', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const lines: string[] = [];
    const logger = createLogger({ name: 'p2pwall-otlp-test', destination: { write: (line: string) => lines.push(line) } });
    const telemetry = await startTelemetry({
      serviceName: 'p2pwall-otlp-test',
      serviceVersion: '0.1.0',
      config: { listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: `http://127.0.0.1:${deadPort}`, headers: {}, intervalSeconds: 3600 } },
      logger,
    });
    telemetry.meter.createCounter('p2pwall_otlp_test_decisions').add(1);
    telemetry.tracer.startSpan('blocklist update').end();
    // Each export retries until its 5 s timeout: this test waits, it does not spin.
    await telemetry.forceFlush();
    await telemetry.close();
    const errors = lines.map((line) => JSON.parse(line) as { level: string; component?: string; msg: string }).filter((entry) => entry.level === 'error');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]?.component).toBe('telemetry');
    expect(errors.map((entry) => entry.msg)).toContain('PeriodicExportingMetricReader: metrics export failed (error Error: connect ECONNREFUSED 127.0.0.1:' + deadPort + ')');
    expect(errors.map((entry) => entry.msg)).toContain('telemetry flush failed: Error: connect ECONNREFUSED 127.0.0.1:' + deadPort);
  });
});
