import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_KEYS, SUBJECTS } from '@p2pwall/common';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../../src/config.js';
import { decodeDecision } from '../../src/decide/decision.js';
import type { SinkConfig } from '../../src/notify/config.js';
import { verifySignature } from '../../src/notify/signature.js';
import { encodeBatch, flow, startBrainRig, type BatchSpec, type BrainRig } from '../support.js';
import { parseRfc5424 } from './parse.js';
import { startHttpReceiver, startStreamSyslog, startUdpSyslog, type HttpReceiver, type SyslogReceiver } from './receivers.js';

/**
 * The real brain (its own nats-server and redis-server) with a webhook and two syslog sinks
 * pointing at receivers started here: a summary batch identifying a FastTrack client, published
 * to JetStream as a sensor does, becomes a decision and a new-incident notification at every
 * receiver within a second of the decision (measured and printed); the host seen through a second
 * gateway is an escalation; an operator's allow entry and its removal are overrules.
 */

const ADMIN = 'admin-token-for-notify-tests-01';
const SECRET = 'webhook-secret-for-brain-test-01';
const HOST = '192.168.1.5';

let rig: BrainRig;
let webhook: HttpReceiver;
let udp: SyslogReceiver;
let tcp: SyslogReceiver;

beforeAll(async () => {
  [webhook, udp, tcp] = await Promise.all([startHttpReceiver(), startUdpSyslog(), startStreamSyslog()]);
  rig = await startBrainRig({
    tokens: { read: [], admin: [ADMIN] },
    adjust: (config) => {
      // the webhook's URL and key from files, as from a mounted secret
      config.notifications.sinks = [
        sinkConfig({ name: 'soc', type: 'webhook', urlFile: keyFile('url', `${webhook.url}\n`), secretFile: keyFile('key', `${SECRET}\n`) }),
        sinkConfig({ name: 'siem-udp', type: 'syslog', events: ['incident-opened'], syslog: { host: '127.0.0.1', port: udp.port } }),
        sinkConfig({ name: 'siem-tcp', type: 'syslog', syslog: { transport: 'tcp', host: '127.0.0.1', port: tcp.port, format: 'cef' } }),
      ];
    },
  });
}, 60_000);

afterAll(async () => {
  await rig?.stop();
  await Promise.all([webhook?.close(), udp?.close(), tcp?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-notify-'));
function keyFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** A sink as the config loader fills it in (every default), with these keys. */
function sinkConfig(keys: Record<string, unknown>): SinkConfig {
  const [sink] = loadBrainConfig(undefined, { P2PWALL_BRAIN_NOTIFICATIONS__SINKS: JSON.stringify([{ queue: { maxEvents: 100, firstRetrySeconds: 0.1, maxRetrySeconds: 1, maxAgeSeconds: 60 }, rateLimit: { perMinute: 600, burst: 50 }, ...keys }]) }).notifications.sinks;
  return sink!;
}

async function publish(spec: BatchSpec): Promise<void> {
  await jetstream(rig.nc).publish(SUBJECTS.summaries(spec.site ?? 'site-a', spec.gateway ?? 'gw1'), encodeBatch(spec), { msgID: `${spec.gateway ?? 'gw1'}:${spec.instance ?? 'inst-1'}:${spec.sequence ?? 1}` });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const kinds = (receiver: HttpReceiver) => receiver.items.map((r) => (JSON.parse(r.body) as { kind: string }).kind);

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${rig.base}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('notifications from the real brain', () => {
  it('a new P2P host: decision, then the webhook and both syslog receivers within a second of it', async () => {
    const now = Date.now();
    const publishedAt = Date.now();
    await publish({ created: now, clients: [{ host: HOST, ts: now }], peers: [{ ip: '198.51.100.9', port: 1214, from: HOST, ts: now }], flows: [flow({ host: HOST, to: '198.51.100.9', port: 1214, proto: 'udp', app: 'fasttrack', rules: ['fasttrack/udp-ping'], ts: now })] });
    const lock = await until('the host lock', async () => {
      const bytes = await rig.redis.hgetBuffer(REDIS_KEYS.decisions, `host:site-a:${HOST}`);
      return bytes ? decodeDecision(bytes) : undefined;
    });
    const [request] = await webhook.waitFor(1);
    const [udpMessage] = await udp.waitFor(1);
    const [tcpMessage] = await tcp.waitFor(1);
    const decidedAt = lock.createdMs;
    const latency = { webhook: request!.atMs - decidedAt, udp: udpMessage!.atMs - decidedAt, tcp: tcpMessage!.atMs - decidedAt, publishToWebhook: request!.atMs - publishedAt };
    console.log(`new-incident notification after the decision: webhook ${latency.webhook} ms, syslog/udp ${latency.udp} ms, syslog/tcp ${latency.tcp} ms (publish → webhook ${latency.publishToWebhook} ms)`);
    for (const ms of [latency.webhook, latency.udp, latency.tcp]) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(1000);
    }
    const body = JSON.parse(request!.body) as { kind: string; incident: { host: string; site: string; protocol: string; rule: string; decisions: string[] } };
    expect(verifySignature(SECRET, request!.headers['x-p2pwall-signature'] as string, request!.headers['x-p2pwall-timestamp'] as string, request!.body, Date.now() / 1000)).toBe(true);
    expect(body.kind).toBe('incident-opened');
    expect(body.incident).toMatchObject({ host: HOST, site: 'site-a', protocol: 'fasttrack', rule: 'fasttrack/udp-ping' });
    expect(body.incident.decisions).toContain(`host:site-a:${HOST}`);
    const incidents = await api('GET', `/v1/incidents?host=${HOST}`);
    expect((incidents.json['items'] as { id: string }[])[0]!.id).toBe((body.incident as unknown as { id: string }).id);
    expect(parseRfc5424(udpMessage!.text).sd['p2pwall@32473']).toMatchObject({ event: 'incident-opened', host: HOST });
    expect(parseRfc5424(tcpMessage!.text).msg).toMatch(/^CEF:0\|p2pwall\|brain\|[^|]+\|incident-opened\|/);
  });

  it('the same host through a second gateway: an escalation; more evidence of the same episode: no second new-incident', async () => {
    const now = Date.now();
    await publish({ gateway: 'gw2', created: now, clients: [{ host: HOST, ts: now }], flows: [flow({ host: HOST, to: '203.0.113.7', port: 3531, proto: 'udp', app: 'fasttrack', rules: ['fasttrack/udp-ping'], ts: now })] });
    await webhook.waitFor(2, 5000);
    const escalation = JSON.parse(webhook.items[1]!.body) as { kind: string; reasons: string[] };
    expect(escalation.kind).toBe('incident-escalated');
    expect(escalation.reasons).toEqual(['seen at 2 gateways (gw1, gw2)']);
    await publish({ sequence: 2, created: now + 1, clients: [{ host: HOST, ts: now + 1 }] });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(kinds(webhook)).toEqual(['incident-opened', 'incident-escalated']);
    expect(udp.items.length).toBe(1); // siem-udp wants new incidents only
  });

  it('an operator allows the host and removes the entry: two overrules, naming the author and what was suspended and restored', async () => {
    const added = await api('POST', '/v1/allowlist', { scope: 'host', value: HOST, site: 'site-a', reason: 'the build server', author: 'carol' });
    expect(added.status).toBe(201);
    await webhook.waitFor(3);
    const removed = await api('DELETE', `/v1/allowlist/${encodeURIComponent(added.json['id'] as string)}`);
    expect(removed.status).toBe(200);
    await webhook.waitFor(4);
    const [allow, unallow] = webhook.items.slice(2).map((r) => JSON.parse(r.body) as { kind: string; overrule: { action: string; author: string; affected: string[] } });
    expect(allow).toMatchObject({ kind: 'operator-overrule', overrule: { action: 'allow-added', author: 'carol', affected: [`host:site-a:${HOST}`] } });
    expect(unallow).toMatchObject({ kind: 'operator-overrule', overrule: { action: 'allow-removed', affected: [`host:site-a:${HOST}`] } });
    const cef = await tcp.waitFor(4);
    expect(cef.map((m) => parseRfc5424(m.text).msgId)).toEqual(['incident-opened', 'incident-escalated', 'operator-overrule', 'operator-overrule']);
  });

  it('an operator deletes a decision (unblock): an overrule', async () => {
    const id = 'endpoint:198.51.100.9:1214';
    expect((await api('DELETE', `/v1/decisions/${encodeURIComponent(id)}`)).status).toBe(200);
    await webhook.waitFor(5);
    expect(JSON.parse(webhook.items[4]!.body)).toMatchObject({ kind: 'operator-overrule', overrule: { action: 'decision-deleted', id, scope: 'endpoint', value: '198.51.100.9:1214' } });
  });
});
