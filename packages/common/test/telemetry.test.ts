import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS } from '../src/telemetry/buckets.js';
import { TelemetryError } from '../src/telemetry/server.js';
import { startTelemetry, type Telemetry, type TelemetryOptions } from '../src/telemetry/start.js';

const open: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((telemetry) => telemetry.close()));
});

async function start(overrides: Partial<TelemetryOptions> = {}): Promise<Telemetry & { url: string }> {
  const telemetry = await startTelemetry({
    serviceName: 'p2pwall-test',
    serviceVersion: '0.1.0',
    config: { listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } },
    ...overrides,
  });
  open.push(telemetry);
  return Object.assign(telemetry, { url: `http://127.0.0.1:${telemetry.port}` });
}

function listenNet(host: string, port: number): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

const closeNet = (server: NetServer) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('telemetry: /metrics', () => {
  it('serves a counter and a histogram with their labels and values, and the instance labels on every series', async () => {
    const telemetry = await start({ attributes: { site: 'a', gateway: 'gw1' } });
    const packets = telemetry.meter.createCounter('p2pwall_test_packets', { description: 'packets judged' });
    packets.add(3, { verdict: 'drop', reason: 'signature' });
    packets.add(2, { verdict: 'accept', reason: 'benign' });
    packets.add(1, { verdict: 'drop', reason: 'signature' });
    const latency = telemetry.meter.createHistogram('p2pwall_test_propagation_seconds', { unit: 's', advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_SECONDS] } });
    latency.record(0.02);
    latency.record(0.3);

    const response = await fetch(`${telemetry.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const lines = text.split('\n');
    expect(lines).toContain('# TYPE p2pwall_test_packets_total counter');
    expect(lines).toContain('p2pwall_test_packets_total{verdict="drop",reason="signature",site="a",gateway="gw1"} 4');
    expect(lines).toContain('p2pwall_test_packets_total{verdict="accept",reason="benign",site="a",gateway="gw1"} 2');
    expect(lines).toContain('# TYPE p2pwall_test_propagation_seconds histogram');
    expect(lines).toContain('p2pwall_test_propagation_seconds_count{site="a",gateway="gw1"} 2');
    expect(lines).toContain('p2pwall_test_propagation_seconds_sum{site="a",gateway="gw1"} 0.32');
    expect(lines).toContain('p2pwall_test_propagation_seconds_bucket{site="a",gateway="gw1",le="0.01"} 0');
    expect(lines).toContain('p2pwall_test_propagation_seconds_bucket{site="a",gateway="gw1",le="0.025"} 1');
    expect(lines).toContain('p2pwall_test_propagation_seconds_bucket{site="a",gateway="gw1",le="0.5"} 2');
    expect(lines).toContain('p2pwall_test_propagation_seconds_bucket{site="a",gateway="gw1",le="+Inf"} 2');
    expect(text).toMatch(/^target_info\{.*service_name="p2pwall-test".*service_version="0.1.0".*\} 1$/m);
    // No scope label: one meter per service would only repeat the service name.
    expect(text).not.toContain('otel_scope_name');
  });

  it('answers other paths and methods without crashing: 404, 405', async () => {
    const telemetry = await start();
    expect((await fetch(`${telemetry.url}/nothing`)).status).toBe(404);
    const post = await fetch(`${telemetry.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${telemetry.url}/metrics?x=1`)).status).toBe(200);
  });
});

describe('telemetry: health', () => {
  it('is live at once; ready flips 503 -> 200 as the expected components report ready, and back', async () => {
    const telemetry = await start({ components: ['nats', 'redis'] });
    const live = await fetch(`${telemetry.url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'live' });

    const ready = async () => {
      const response = await fetch(`${telemetry.url}/health/ready`);
      return { status: response.status, body: (await response.json()) as unknown };
    };
    expect(await ready()).toEqual({ status: 503, body: { status: 'not ready', components: { nats: { ok: false, detail: 'starting' }, redis: { ok: false, detail: 'starting' } } } });
    telemetry.health.setReady('nats', true, 'connected to 127.0.0.1:4222');
    expect(await ready()).toEqual({ status: 503, body: { status: 'not ready', components: { nats: { ok: true, detail: 'connected to 127.0.0.1:4222' }, redis: { ok: false, detail: 'starting' } } } });
    telemetry.health.setReady('redis', true);
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready', components: { nats: { ok: true, detail: 'connected to 127.0.0.1:4222' }, redis: { ok: true } } } });
    telemetry.health.setReady('redis', false, 'connection lost');
    expect((await ready()).status).toBe(503);
  });
});

describe('telemetry: the port', () => {
  it('close() frees the port, and a second close() is harmless', async () => {
    const telemetry = await start();
    const port = telemetry.port as number;
    // A keep-alive connection from a scrape must not hold the port.
    expect((await fetch(`${telemetry.url}/metrics`)).status).toBe(200);
    await telemetry.close();
    await telemetry.close();
    const again = await listenNet('127.0.0.1', port);
    await closeNet(again);
  });

  it('a port already in use is a clear TelemetryError naming the key and the address', async () => {
    const taken = await listenNet('127.0.0.1', 0);
    const port = (taken.address() as { port: number }).port;
    try {
      const attempt = startTelemetry({ serviceName: 'p2pwall-test', serviceVersion: '0.1.0', config: { listen: { host: '127.0.0.1', port }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } } });
      await expect(attempt).rejects.toThrow(TelemetryError);
      await expect(attempt).rejects.toThrow(`telemetry.listen: cannot listen on 127.0.0.1:${port}: address already in use`);
    } finally {
      await closeNet(taken);
    }
  });

  it('disabled: no server, and the instruments and the health registry still work', async () => {
    const telemetry = await start({ config: { enabled: false, listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } } });
    expect(telemetry.port).toBeNull();
    telemetry.meter.createCounter('p2pwall_test_packets').add(1);
    telemetry.health.setReady('nats', true);
    expect(telemetry.health.ready().ok).toBe(true);
    await telemetry.forceFlush();
  });
});
