import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { SUBJECTS } from '@p2pwall/common';
import { until } from '@p2pwall/lab';
import { fastify } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStreamRoute, sseMessage } from '../src/console/event-stream.js';
import { LiveEvents } from '../src/console/live-events.js';
import { consoleFileRoutes, CONTENT_SECURITY_POLICY, loadConsoleFiles } from '../src/console/static-files.js';
import { httpGet, openStream } from './console-http.js';
import { encodeBatch, flow, startBrainRig, type BrainRig } from './support.js';

/** The brain's side of the web console: its files, the token's role, the live stream. The console itself is tested in Chromium (console/test/). */

const READ = 'console-read-token-0123456789';
const ADMIN = 'console-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'p2pwall-console-'));
const build = join(dir, 'dist');
mkdirSync(join(build, 'assets'), { recursive: true });
writeFileSync(join(build, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>');
writeFileSync(join(build, 'assets', 'index-abc123.js'), 'console.log("console")');
writeFileSync(join(build, 'notes.md'), 'not served: no type of the console');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('console files', () => {
  it('serves the build from memory: index.html no-cache, hashed assets immutable, both under the strict policy; nothing else', async () => {
    const files = loadConsoleFiles(build);
    expect([...files.keys()].sort()).toEqual(['/assets/index-abc123.js', '/index.html']);
    const app = fastify();
    consoleFileRoutes(app, files);
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'self'; script-src 'self';/);
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    const asset = await app.inject({ url: '/assets/index-abc123.js' });
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['x-content-type-options']).toBe('nosniff');
    expect((await app.inject({ url: '/notes.md' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/../index.html' })).statusCode).not.toBe(500);
    await app.close();
  });

  it('without a build, / says how to make one', async () => {
    const app = fastify();
    consoleFileRoutes(app, loadConsoleFiles(join(dir, 'missing')));
    const answer = await app.inject({ url: '/' });
    expect(answer.statusCode).toBe(404);
    expect(answer.json()).toMatchObject({ message: expect.stringContaining('npm run build') });
    await app.close();
  });
});

describe('live events', () => {
  it('a bounded number of listeners; a listener that throws is dropped, the others still hear', () => {
    const events = new LiveEvents(2);
    const heard: string[] = [];
    const off = events.subscribe(() => {
      throw new Error('broken client');
    });
    expect(off).toBeDefined();
    expect(events.subscribe((event) => heard.push(event.type))).toBeDefined();
    expect(events.subscribe(() => undefined)).toBeUndefined();
    events.publish({ type: 'decision', id: 'endpoint:198.51.100.7:1214', action: 'block' });
    expect(heard).toEqual(['decision']);
    expect(events.listening).toBe(1);
    expect(sseMessage({ type: 'incident', ids: ['site-a-1'] })).toBe('event: incident\ndata: {"type":"incident","ids":["site-a-1"]}\n\n');
  });

  it('the stream sends heartbeats and lets the listener go when the client leaves', async () => {
    const events = new LiveEvents(4);
    const app = fastify();
    eventStreamRoute(app, events, 50);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    const stream = await openStream(`http://127.0.0.1:${address.port}/events/stream`);
    expect(stream.contentType).toBe('text/event-stream; charset=utf-8');
    expect(await stream.until(/: heartbeat\n\n: heartbeat\n\n/, 2000)).toMatch(/^retry: 3000\n: connected\n\n(: heartbeat\n\n){2}/);
    expect(events.listening).toBe(1);
    stream.close();
    await until('the listener removed', 2000, () => (events.listening === 0 ? true : undefined));
    await app.close();
  });
});

describe('console routes of a running brain', () => {
  let rig: BrainRig | undefined;
  beforeAll(async () => {
    rig = await startBrainRig({
      tokens: { read: [READ], admin: [ADMIN] },
      adjust: (config) => {
        config.api.console.dir = build;
        config.api.console.maxStreams = 2;
      },
    });
  }, 30_000);
  afterAll(async () => rig?.stop());

  it('GET /v1/session tells the token its role; without one it is refused', async () => {
    expect(JSON.parse((await httpGet(`${rig!.base}/v1/session`, READ)).body)).toEqual({ role: 'read' });
    expect(JSON.parse((await httpGet(`${rig!.base}/v1/session`, ADMIN)).body)).toEqual({ role: 'admin' });
    expect((await httpGet(`${rig!.base}/v1/session`)).status).toBe(401);
    expect((await httpGet(`${rig!.base}/`)).status).toBe(200);
  });

  it('the live stream pushes the incident and the decisions a batch makes; at most maxStreams at once, a slot freed when a client leaves', async () => {
    const url = `${rig!.base}/v1/events/stream`;
    expect((await httpGet(url)).status).toBe(401);
    expect((await httpGet(url, 'wrong-token-0123456789')).status).toBe(401);
    const stream = await openStream(url, READ);
    const other = await openStream(url, ADMIN);
    expect([stream.status, other.status]).toEqual([200, 200]);
    const refused = await httpGet(url, READ);
    expect(refused.status).toBe(503);
    expect((JSON.parse(refused.body) as { message: string }).message).toContain('api.console.maxStreams');

    const now = Date.now();
    await jetstream(rig!.nc).publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch({ instance: 'console', sequence: 1, created: now, clients: [{ host: '192.168.1.5', ts: now }], peers: [{ ip: '198.51.100.7', port: 1214, from: '192.168.1.5', ts: now }], flows: [flow({ host: '192.168.1.5', to: '198.51.100.7', port: 1214, app: 'fasttrack', rules: ['fasttrack/udp-ping'], ts: now })] }), { msgID: 'console:1' });
    const text = await stream.until(/event: incident\n[\s\S]*event: decision\n[\s\S]*event: decision\n|event: decision\n[\s\S]*event: incident\n/, 10_000);
    expect(text).toMatch(/event: incident\ndata: \{"type":"incident","ids":\["site-a-[^"]+"\]\}\n\n/);
    expect(text).toContain('event: decision\ndata: {"type":"decision","id":"endpoint:198.51.100.7:1214","action":"block"}\n\n');
    expect(await stream.until(/host:site-a:192\.168\.1\.5/, 5000)).toContain('"id":"host:site-a:192.168.1.5"');
    expect(await other.until(/endpoint:198\.51\.100\.7:1214/, 5000)).toContain('"action":"block"');

    stream.close();
    other.close();
    const again = await until('a stream slot freed', 5000, async () => {
      const next = await openStream(url, READ);
      if (next.status === 200) return next;
      next.close();
      return undefined;
    }, 100);
    again.close();
  });
});
