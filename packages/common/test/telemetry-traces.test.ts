import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { extractContext, injectTraceparent } from '../src/telemetry/propagation.js';
import { startTelemetry, type Telemetry } from '../src/telemetry/start.js';

const open: Telemetry[] = [];
afterAll(async () => {
  await Promise.all(open.map((telemetry) => telemetry.close()));
});

async function service(name: string): Promise<{ telemetry: Telemetry; spans: InMemorySpanExporter }> {
  const spans = new InMemorySpanExporter();
  const telemetry = await startTelemetry({
    serviceName: name,
    serviceVersion: '0.1.0',
    // Traces need no HTTP server; disabled also shows the in-memory exporter works without one.
    config: { enabled: false, listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } },
    spanExporter: spans,
  });
  open.push(telemetry);
  return { telemetry, spans };
}

describe('telemetry: traces across services through message headers', () => {
  it('a span in service B, parented on headers injected in service A, joins A\'s trace', async () => {
    const sensor = await service('p2pwall-sensor');
    const brain = await service('p2pwall-brain');

    // Service A: the publish span is active across an await, as in a real publisher.
    const headers = new Map<string, string>();
    await sensor.telemetry.tracer.startActiveSpan('summaries publish', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      injectTraceparent((name, value) => headers.set(name, value));
      span.end();
    });
    expect(headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // Service B: what a NATS consumer does with msg.headers.get (which answers '' when missing).
    const parent = extractContext((name) => headers.get(name) ?? '');
    const ingest = brain.telemetry.tracer.startSpan('summaries ingest', {}, parent);
    const decision = brain.telemetry.tracer.startSpan('decision', {}, trace.setSpan(context.active(), ingest));
    decision.end();
    ingest.end();

    const [publish] = sensor.spans.getFinishedSpans();
    const brainSpans = brain.spans.getFinishedSpans();
    expect(publish?.resource.attributes['service.name']).toBe('p2pwall-sensor');
    expect(brainSpans.map((span) => span.name)).toEqual(['decision', 'summaries ingest']);
    const ingested = brainSpans[1];
    expect(ingested?.resource.attributes['service.name']).toBe('p2pwall-brain');
    const traceId = publish?.spanContext().traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(brainSpans.map((span) => span.spanContext().traceId)).toEqual([traceId, traceId]);
    expect(ingested?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(ingested?.parentSpanContext?.isRemote).toBe(true);
    expect(brainSpans[0]?.parentSpanContext?.spanId).toBe(ingested?.spanContext().spanId);
  });

  it('missing or malformed traceparent: the span starts a trace of its own, nothing throws', async () => {
    const brain = await service('p2pwall-brain-2');
    for (const value of ['', 'garbage', '00-00000000000000000000000000000000-0000000000000000-01', '00-zz']) {
      const span = brain.telemetry.tracer.startSpan('summaries ingest', {}, extractContext((name) => (name === 'traceparent' ? value : undefined)));
      span.end();
    }
    const spans = brain.spans.getFinishedSpans();
    expect(spans).toHaveLength(4);
    for (const span of spans) expect(span.parentSpanContext).toBeUndefined();
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(4);
  });

  it('outside any span nothing is injected', () => {
    const headers = new Map<string, string>();
    injectTraceparent((name, value) => headers.set(name, value));
    expect(headers.size).toBe(0);
  });
});
