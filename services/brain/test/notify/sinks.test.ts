import { createLogger, startTelemetry } from '@p2pwall/common';
import { makeTestCertificates, parseMetrics, sumOf, type TestCertificates } from '@p2pwall/lab';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../../src/config.js';
import type { SinkConfig } from '../../src/notify/config.js';
import type { NotificationEvent } from '../../src/notify/events.js';
import { NotificationSink } from '../../src/notify/sink.js';
import { verifySignature } from '../../src/notify/signature.js';
import { registerNotificationMetrics } from '../../src/telemetry/notify-metrics.js';
import { openedEvent, overrule } from './fixtures.js';
import { parseCef, parseRfc5424 } from './parse.js';
import { freePort, startHttpReceiver, startStreamSyslog, startUdpSyslog, type HttpReceiver, type SyslogReceiver } from './receivers.js';

/**
 * Each kind of sink against a real receiver started here (node:http, node:dgram, node:net,
 * node:tls with certificates made by openssl): what arrives is parsed as the standard says, the
 * signature verified as a receiver would, retries seen from the receiver's side.
 */

const log = createLogger({ name: 'notify-test', level: 'error' });
const SECRET = 'webhook-secret-for-tests-0001';
const sinks: NotificationSink[] = [];
const receivers: { close(): Promise<void> }[] = [];
let certs: TestCertificates;

beforeAll(async () => {
  certs = await makeTestCertificates();
}, 60_000);
afterAll(() => certs?.cleanup());
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((sink) => sink.close(0)));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

/** A sink as brain.yaml would configure it (every default filled in by the real loader). */
function sink(config: Record<string, unknown>): NotificationSink {
  const [loaded] = loadBrainConfig(undefined, { P2PWALL_BRAIN_NOTIFICATIONS__SINKS: JSON.stringify([{ name: 'test', queue: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.2 }, ...config }]) }).notifications.sinks as [SinkConfig];
  const made = new NotificationSink(loaded, { version: '0.1.0', source: 'brain-test', log });
  sinks.push(made);
  return made;
}

async function http(port?: number): Promise<HttpReceiver> {
  const receiver = await startHttpReceiver(port);
  receivers.push(receiver);
  return receiver;
}

async function syslog(start: () => Promise<SyslogReceiver>): Promise<SyslogReceiver> {
  const receiver = await start();
  receivers.push(receiver);
  return receiver;
}

const count = (s: NotificationSink, kind: NotificationEvent['kind'], outcome: string) => s.counts.get(`${kind}|${outcome}`) ?? 0;
const event = (n: number): NotificationEvent => openedEvent({ id: `site-a-test-${n}`, host: `192.168.1.${n}` });
const until = async (probe: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('webhook sink (real HTTP receiver)', () => {
  it('POSTs the JSON event with a signature the receiver verifies, and event and delivery headers', async () => {
    const receiver = await http();
    const s = sink({ type: 'webhook', url: receiver.url, secret: SECRET });
    s.accept(openedEvent());
    const [request] = await receiver.waitFor(1);
    const headers = request!.headers;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-p2pwall-event']).toBe('incident-opened');
    expect(headers['x-p2pwall-delivery']).toBe(openedEvent().eventId);
    expect(verifySignature(SECRET, headers['x-p2pwall-signature'] as string, headers['x-p2pwall-timestamp'] as string, request!.body, Date.now() / 1000)).toBe(true);
    expect(verifySignature('another-secret-0000000', headers['x-p2pwall-signature'] as string, headers['x-p2pwall-timestamp'] as string, request!.body, Date.now() / 1000)).toBe(false);
    expect(JSON.parse(request!.body)).toMatchObject({ version: 1, kind: 'incident-opened', source: 'brain-test', incident: { host: '192.168.1.5', site: 'site-a' } });
    await until(() => count(s, 'incident-opened', 'sent') === 1);
  });

  it('retries after a 500 (each attempt signed afresh, the same delivery id) until the receiver takes it', async () => {
    const receiver = await http();
    receiver.answers.push(500, 503);
    const s = sink({ type: 'webhook', url: receiver.url, secret: SECRET });
    s.accept(openedEvent());
    const requests = await receiver.waitFor(3);
    expect(requests.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(new Set(requests.map((r) => r.headers['x-p2pwall-delivery'])).size).toBe(1);
    for (const r of requests) expect(verifySignature(SECRET, r.headers['x-p2pwall-signature'] as string, r.headers['x-p2pwall-timestamp'] as string, r.body, Date.now() / 1000)).toBe(true);
    await until(() => count(s, 'incident-opened', 'sent') === 1);
    expect(count(s, 'incident-opened', 'failed')).toBe(2);
  });

  it('gives up on a receiver that does not answer within timeoutSeconds, and retries', async () => {
    const receiver = await http();
    receiver.answers.push(0);
    const s = sink({ type: 'webhook', url: receiver.url, timeoutSeconds: 0.3 });
    s.accept(openedEvent());
    const requests = await receiver.waitFor(2);
    expect(requests.map((r) => r.status)).toEqual([0, 200]);
    expect(requests[1]!.atMs - requests[0]!.atMs).toBeGreaterThanOrEqual(250); // the timeout (300 ms, counted from before the request left), not at once
    await until(() => count(s, 'incident-opened', 'sent') === 1);
    expect(count(s, 'incident-opened', 'failed')).toBe(1);
  });

  it('keeps events while the receiver is down and delivers them in order when it comes back', async () => {
    const port = await freePort();
    const s = sink({ type: 'webhook', url: `http://127.0.0.1:${port}/hook` });
    for (const n of [1, 2, 3]) s.accept(event(n));
    await until(() => count(s, 'incident-opened', 'failed') >= 3);
    expect(s.queued).toBe(3);
    const receiver = await http(port);
    const requests = await receiver.waitFor(3);
    expect(requests.map((r) => (JSON.parse(r.body) as { incident: { host: string } }).incident.host)).toEqual(['192.168.1.1', '192.168.1.2', '192.168.1.3']);
    await until(() => s.queued === 0);
    expect(count(s, 'incident-opened', 'sent')).toBe(3);
  });

  it('a full queue drops the oldest waiting event, counted; a 4xx is not retried (rejected, counted)', async () => {
    const port = await freePort();
    const s = sink({ type: 'webhook', url: `http://127.0.0.1:${port}/hook`, queue: { maxEvents: 2, firstRetrySeconds: 0.05, maxRetrySeconds: 0.1 } });
    for (const n of [1, 2, 3, 4, 5]) s.accept(event(n));
    expect(count(s, 'incident-opened', 'dropped-full')).toBe(3);
    expect(s.queued).toBe(2);
    const receiver = await http(port);
    receiver.answers.push(400);
    const requests = await receiver.waitFor(2);
    await until(() => s.queued === 0);
    expect(requests.map((r) => r.status)).toEqual([400, 200]);
    expect((JSON.parse(requests[1]!.body) as { incident: { host: string } }).incident.host).toBe('192.168.1.5');
    expect(count(s, 'incident-opened', 'rejected')).toBe(1);
    expect(count(s, 'incident-opened', 'sent')).toBe(1);
  });

  it('drops, counted, an event not delivered within queue.maxAgeSeconds; at close what is left is counted as shutdown', async () => {
    const port = await freePort();
    const s = sink({ type: 'webhook', url: `http://127.0.0.1:${port}/hook`, queue: { maxAgeSeconds: 1, firstRetrySeconds: 0.05, maxRetrySeconds: 0.1 } });
    s.accept(event(1));
    await until(() => count(s, 'incident-opened', 'expired') === 1, 5000);
    expect(s.queued).toBe(0);
    expect(count(s, 'incident-opened', 'failed')).toBeGreaterThan(3);
    s.accept(event(2));
    s.accept(event(3));
    await s.close(0);
    expect(count(s, 'incident-opened', 'shutdown')).toBe(2);
    s.accept(event(4));
    expect(count(s, 'incident-opened', 'shutdown')).toBe(3);
  });

  it('sends the same event once within the dedup window and no more than the rate allows; both counted', async () => {
    const receiver = await http();
    const s = sink({ type: 'webhook', url: receiver.url, rateLimit: { perMinute: 0.01, burst: 2 }, dedupSeconds: 60 });
    s.accept(event(1));
    s.accept({ ...event(1), eventId: 'another-id' }); // the same host's new incident again
    s.accept(event(2));
    s.accept(event(3));
    await receiver.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.items.length).toBe(2);
    expect(count(s, 'incident-opened', 'deduplicated')).toBe(1);
    expect(count(s, 'incident-opened', 'rate-limited')).toBe(1);
  });

  it('leaves out the events it does not want', async () => {
    const receiver = await http();
    const s = sink({ type: 'webhook', url: receiver.url, events: ['operator-overrule'] });
    s.accept(openedEvent());
    s.accept(overrule());
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body)).toMatchObject({ kind: 'operator-overrule', overrule: { action: 'allow-added', author: 'alice' } });
    expect(receiver.items.length).toBe(1);
  });
});

describe('Slack and Teams sinks (real HTTP receiver)', () => {
  it('Slack gets text and blocks; Teams an Adaptive Card message', async () => {
    const receiver = await http();
    sink({ name: 'slack', type: 'slack', url: receiver.url }).accept(openedEvent());
    const [slack] = await receiver.waitFor(1);
    const slackBody = JSON.parse(slack!.body) as { text: string; blocks: { type: string }[] };
    expect(slackBody.text).toBe('New P2P host 192.168.1.5 at site-a: fasttrack (fasttrack/udp-ping: KaZaA)');
    expect(slackBody.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
    expect(slack!.headers['x-p2pwall-signature']).toBeUndefined();
    sink({ name: 'teams', type: 'teams', url: receiver.url }).accept(overrule());
    const [, teams] = await receiver.waitFor(2);
    expect(JSON.parse(teams!.body)).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard' } }] });
  });
});

describe('syslog sink (real listeners)', () => {
  it('UDP: one RFC 5424 datagram per event', async () => {
    const receiver = await syslog(startUdpSyslog);
    sink({ type: 'syslog', syslog: { host: '127.0.0.1', port: receiver.port } }).accept(openedEvent());
    const [message] = await receiver.waitFor(1);
    const parsed = parseRfc5424(message!.text);
    expect(parsed).toMatchObject({ facility: 16, severity: 5, appName: 'p2pwall-brain', msgId: 'incident-opened', hostname: 'brain-test', bom: true });
    expect(parsed.sd['p2pwall@32473']).toMatchObject({ event: 'incident-opened', host: '192.168.1.5', site: 'site-a', protocol: 'fasttrack' });
  });

  it('TCP: octet-counted CEF messages; a dropped connection is made again', async () => {
    const receiver = await syslog(() => startStreamSyslog());
    const s = sink({ type: 'syslog', syslog: { transport: 'tcp', host: '127.0.0.1', port: receiver.port, format: 'cef' } });
    s.accept(openedEvent());
    const [first] = await receiver.waitFor(1);
    const cef = parseCef(parseRfc5424(first!.text).msg);
    expect(cef).toMatchObject({ vendor: 'p2pwall', product: 'brain', signatureId: 'incident-opened', severity: '7' });
    expect(cef.extensions).toMatchObject({ src: '192.168.1.5', cs2: 'site-a', app: 'fasttrack' });
    expect(parseRfc5424(first!.text).bom).toBe(false);
    receiver.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    s.accept(overrule());
    const [, second] = await receiver.waitFor(2);
    expect(parseCef(parseRfc5424(second!.text).msg).extensions).toMatchObject({ act: 'allow-added', suser: 'alice' });
    expect(receiver.connections).toBe(2);
  });

  it('TLS: RFC 5425 to a receiver whose certificate the configured CA signed; an unknown CA is refused and retried', async () => {
    const receiver = await syslog(() => startStreamSyslog({ cert: certs.serverCert, key: certs.serverKey }));
    const good = sink({ name: 'tls-good', type: 'syslog', syslog: { transport: 'tls', host: '127.0.0.1', port: receiver.port, tls: { ca: certs.ca } } });
    const bad = sink({ name: 'tls-bad', type: 'syslog', syslog: { transport: 'tls', host: '127.0.0.1', port: receiver.port, tls: { ca: certs.otherCa } } });
    good.accept(openedEvent());
    bad.accept(overrule());
    const [message] = await receiver.waitFor(1);
    expect(parseRfc5424(message!.text).msgId).toBe('incident-opened');
    await until(() => count(bad, 'operator-overrule', 'failed') >= 2);
    expect(receiver.items.length).toBe(1);
  });
});

describe('p2pwall_brain_notifications on /metrics', () => {
  it('counts each outcome per sink and kind, and the queue', async () => {
    const port = await freePort();
    const s = sink({ name: 'soc', type: 'webhook', url: `http://127.0.0.1:${port}/hook`, rateLimit: { perMinute: 0.01, burst: 2 } });
    const telemetry = await startTelemetry({ serviceName: 'p2pwall-brain', serviceVersion: '0.1.0', config: { listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } }, components: [], logger: log });
    try {
      registerNotificationMetrics(telemetry.meter, [s]);
      s.accept(event(1));
      s.accept(event(1));
      s.accept(event(2));
      s.accept(event(3));
      await until(() => count(s, 'incident-opened', 'failed') >= 1);
      const samples = parseMetrics(await (await fetch(`http://127.0.0.1:${telemetry.port}/metrics`)).text());
      const series = (outcome: string) => sumOf(samples, 'p2pwall_brain_notifications_total', { sink: 'soc', kind: 'incident-opened', outcome });
      expect(series('deduplicated')).toBe(1);
      expect(series('rate-limited')).toBe(1);
      expect(series('failed')).toBeGreaterThanOrEqual(1);
      expect(sumOf(samples, 'p2pwall_brain_notification_queue', { sink: 'soc' })).toBe(2);
    } finally {
      await telemetry.close();
    }
  });
});
