import { createLogger, REDIS_KEYS, SUBJECTS } from '@p2pwall/common';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsServer, RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllowView, DecisionView, ErrorView, HostView, IncidentView, Page, PeerView, SensorView } from '../../src/api/views.js';
import { BlocklistWriter } from '../../src/blocklist/writer.js';
import type { BrainConfig } from '../../src/config.js';
import type { BrainDecision } from '../../src/decide/decision.js';
import { incidentUpdates, type IncidentFlow } from '../../src/incidents/evidence.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { BrainService } from '../../src/ingest/serve.js';
import { apiTestConfig, encodeBatch, ip, startBrainRig, type BrainRig } from '../support.js';

/**
 * The HTTP API of a real brain (BrainService with real nats-server and redis-server), over real
 * HTTP: authentication, every filter, manual blocks and allow entries reaching the change stream
 * the sensors follow, bad input, pagination, sensors, the OpenAPI document.
 */

const log = createLogger({ name: 'api-test', level: 'error' });
const READ = 'read-token-for-tests-0001';
const ADMIN = 'admin-token-for-tests-0001';
const { Scope, Origin, Action, ChangeKind, Mode, Transport } = p2pwall.v1;

let nats: NatsServer;
let redisServer: RedisServer;
let redis: Redis;
let nc: NatsConnection;
let base: string;
/** A second writer on the same Redis: decisions "another replica" wrote (fixtures through real code). */
let replica: BlocklistWriter;

let rig: BrainRig;

/** These tests are about what the routes answer, many in a row: the limits have tests of their own (load.test.ts). */
function noRateLimit(c: BrainConfig): void {
  c.api.limits = { ...c.api.limits, perTokenPerSecond: 100_000, perTokenBurst: 100_000 };
}

/** Another brain's config on the same servers. */
function brainConfig(): BrainConfig {
  const c = apiTestConfig({ nats: nats.url, redis: redisServer.url }, { read: [READ], admin: [ADMIN] });
  noRateLimit(c);
  return c;
}

beforeAll(async () => {
  rig = await startBrainRig({ tokens: { read: [READ], admin: [ADMIN] }, logger: log, adjust: noRateLimit });
  ({ nats, redisServer, redis, nc, base } = rig);
  replica = new BlocklistWriter(redis, { changesMaxLen: 100_000, minExtendMs: 0, evidenceMaxItems: 32 });
}, 60_000);

afterAll(async () => {
  await rig?.stop();
});

interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

async function call<T = unknown>(method: string, path: string, options: { token?: string | null; body?: unknown; rawBody?: string } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? ADMIN : options.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined || options.rawBody !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T, headers: response.headers };
}
const get = <T>(path: string, token?: string | null) => call<T>('GET', path, { token });
const post = <T>(path: string, body: unknown, token?: string | null) => call<T>('POST', path, { body, token });
const del = <T>(path: string, token?: string | null) => call<T>('DELETE', path, { token });

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The newest entry id of the change stream the sensors follow ('0' when empty). */
async function streamEnd(): Promise<string> {
  const last = await redis.xrevrange(REDIS_KEYS.blocklistChanges, '+', '-', 'COUNT', 1);
  return last[0]?.[0] ?? '0';
}

/** Changes appended after `after`, decoded as a sensor decodes them. */
async function changesAfter(after: string): Promise<p2pwall.v1.BlocklistChange[]> {
  const entries = await redis.xrangeBuffer(REDIS_KEYS.blocklistChanges, `(${after}`, '+');
  return entries.map(([, fields]) => p2pwall.v1.BlocklistChange.decode(fields[1]!));
}

const stored = async (id: string) => (await redis.hexists(REDIS_KEYS.decisions, id)) === 1;

function fixture(over: Partial<BrainDecision> & Pick<BrainDecision, 'id' | 'scope' | 'ip'>): BrainDecision {
  const now = Date.now();
  return {
    port: 0,
    site: '',
    origin: Origin.ORIGIN_SIGNATURE,
    action: Action.ACTION_BLOCK,
    reason: 'fixture',
    evidence: { hosts: [], sites: [], sensors: [], rules: [], count: 1, firstSeenMs: now, lastSeenMs: now },
    createdMs: now,
    expiresMs: now + 3_600_000,
    author: 'p2pwall-brain',
    simulated: false,
    transport: Transport.TRANSPORT_BOTH,
    ...over,
  };
}

describe('brain HTTP API (real brain, nats-server, redis-server; real HTTP)', () => {
  it('health and the OpenAPI document need no token; every /v1 route does; read tokens cannot change anything', async () => {
    expect(await get('/health/live', null)).toMatchObject({ status: 200, body: { status: 'live' } });
    expect(await get('/health/ready', null)).toMatchObject({ status: 200, body: { status: 'ready', checks: { redis: true, nats: true } } });

    const doc = await get<{ openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>> }>('/openapi.json', null);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.body.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.sort()).toEqual(
      [
        'GET /health/live',
        'GET /health/ready',
        'GET /v1/incidents',
        'GET /v1/incidents/{id}',
        'GET /v1/decisions',
        'POST /v1/decisions',
        'DELETE /v1/decisions/{id}',
        'GET /v1/allowlist',
        'POST /v1/allowlist',
        'DELETE /v1/allowlist/{id}',
        'GET /v1/incidents.csv',
        'POST /v1/incidents/{id}/acknowledge',
        'POST /v1/incidents/{id}/close',
        'POST /v1/incidents/{id}/reopen',
        'GET /v1/incidents.eve',
        'GET /v1/incidents/{id}/eve',
        'GET /v1/hosts/{ip}',
        'GET /v1/peers/{peer}',
        'GET /v1/sensors',
        'DELETE /v1/sensors/{name}',
        'GET /v1/session',
        'GET /v1/events/stream',
      ].sort(),
    );
    for (const [path, methods] of Object.entries(doc.body.paths)) {
      if (path.startsWith('/v1/')) for (const op of Object.values(methods)) expect(op.security, path).toEqual([{ bearer: [] }]);
    }

    const v1 = ['/v1/incidents', '/v1/incidents/x', '/v1/decisions', '/v1/allowlist', '/v1/hosts/192.168.1.5', '/v1/peers/203.0.113.1', '/v1/sensors', '/v1/session', '/v1/events/stream'];
    for (const path of v1) {
      const missing = await get<ErrorView>(path, null);
      expect(missing.status, path).toBe(401);
      expect(missing.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.stringMatching(/Bearer/) });
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await get(path, 'not-a-known-token-at-all')).status, path).toBe(401);
    }
    expect((await call('GET', '/v1/decisions', { token: null, body: undefined })).status).toBe(401);
    const basic = await fetch(`${base}/v1/decisions`, { headers: { authorization: `Basic ${Buffer.from(`x:${READ}`).toString('base64')}` } });
    expect(basic.status).toBe(401);

    const body = { scope: 'ip', value: '198.51.100.250', reason: 'read token tries' };
    const forbidden = await post<ErrorView>('/v1/decisions', body, READ);
    expect(forbidden).toMatchObject({ status: 403, body: { statusCode: 403, error: 'Forbidden', message: expect.stringMatching(/admin token/) } });
    expect((await post('/v1/allowlist', body, READ)).status).toBe(403);
    expect((await del('/v1/decisions/ip%3A198.51.100.250', READ)).status).toBe(403);
    expect((await del('/v1/allowlist/allow%3Aip%3A198.51.100.250', READ)).status).toBe(403);
    expect((await del('/v1/sensors/site-a%2Fgw1%2F0', READ)).status).toBe(403);
    expect(await stored('ip:198.51.100.250')).toBe(false);
    expect((await get('/v1/decisions', READ)).status).toBe(200);
    expect((await get('/v1/decisions', ADMIN)).status).toBe(200); // admin tokens can also read
    // an unauthenticated request never gets its body parsed
    expect((await call('POST', '/v1/decisions', { token: null, rawBody: '{not json' })).status).toBe(401);
  });

  it('a manual block goes to Redis and onto the change stream the sensors follow; delete unblocks the same way', async () => {
    const before = await streamEnd();
    const added = await post<DecisionView>('/v1/decisions', { scope: 'endpoint', value: '198.51.100.7:1214', reason: 'seen in the abuse report' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ id: 'endpoint:198.51.100.7:1214', scope: 'endpoint', value: '198.51.100.7:1214', ip: '198.51.100.7', port: 1214, site: '', origin: 'manual', action: 'block', reason: 'seen in the abuse report', author: 'api', simulated: false });
    // No expiry given: api.manualExpirySeconds (30 days) from now.
    expect(Date.parse(added.body.expires!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const changes = await changesAfter(before);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: ChangeKind.CHANGE_KIND_UPSERT, decisionId: 'endpoint:198.51.100.7:1214', decision: { scope: Scope.SCOPE_ENDPOINT, port: 1214, origin: Origin.ORIGIN_MANUAL, action: Action.ACTION_BLOCK } });
    expect(Buffer.from(changes[0]!.decision!.ip!)).toEqual(Buffer.from(ip('198.51.100.7')));
    expect(changes[0]!.version).toBe(Number(await redis.get(REDIS_KEYS.blocklistVersion)));

    const lock = await post<DecisionView>('/v1/decisions', { scope: 'host', value: '192.168.7.7', site: 'site-b', reason: 'help desk ticket 42', author: 'alice', expires: '10m' });
    expect(lock.status).toBe(201);
    expect(lock.body).toMatchObject({ id: 'host:site-b:192.168.7.7', scope: 'host', site: 'site-b', author: 'alice' });
    expect(Date.parse(lock.body.expires!) - Date.now()).toBeGreaterThan(590_000);
    expect(Date.parse(lock.body.expires!) - Date.now()).toBeLessThanOrEqual(600_000);
    const v6 = await post<DecisionView>('/v1/decisions', { scope: 'endpoint', value: '[2001:DB8:0::7]:6346', reason: 'gnutella peer', expires: '2099-01-01T00:00:00Z' });
    expect(v6.body).toMatchObject({ id: 'endpoint:[2001:db8::7]:6346', ip: '2001:db8::7', expires: '2099-01-01T00:00:00.000Z' });

    const mid = await streamEnd();
    const removed = await del<{ removed: DecisionView }>(`/v1/decisions/${encodeURIComponent('endpoint:198.51.100.7:1214')}`);
    expect(removed).toMatchObject({ status: 200, body: { removed: { id: 'endpoint:198.51.100.7:1214', origin: 'manual' } } });
    expect(await changesAfter(mid)).toMatchObject([{ kind: ChangeKind.CHANGE_KIND_REMOVE, decisionId: 'endpoint:198.51.100.7:1214' }]);
    expect(await stored('endpoint:198.51.100.7:1214')).toBe(false);
    expect((await del(`/v1/decisions/${encodeURIComponent(v6.body.id)}`)).status).toBe(200);
    expect((await del(`/v1/decisions/${encodeURIComponent('host:site-b:192.168.7.7')}`)).status).toBe(200);

    const again = await del<ErrorView>(`/v1/decisions/${encodeURIComponent('endpoint:198.51.100.7:1214')}`);
    expect(again).toMatchObject({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'no decision endpoint:198.51.100.7:1214' } });
  });

  it('a manual block for one transport has an id of its own beside the block for both, and reaches the sensors with its transport', async () => {
    const before = await streamEnd();
    const udp = await post<DecisionView>('/v1/decisions', { scope: 'endpoint', value: '198.51.100.8:1214', transport: 'udp', reason: 'udp flood from it' });
    expect(udp).toMatchObject({ status: 201, body: { id: 'endpoint:udp:198.51.100.8:1214', scope: 'endpoint', value: '198.51.100.8:1214', transport: 'udp', origin: 'manual', evidence: { rules: ['operator/manual'] } } });
    const both = await post<DecisionView>('/v1/decisions', { scope: 'endpoint', value: '198.51.100.8:1214', reason: 'and everything else' });
    expect(both.body).toMatchObject({ id: 'endpoint:198.51.100.8:1214', transport: 'both' });
    const tcpWhole = await post<DecisionView>('/v1/decisions', { scope: 'ip', value: '2001:db8::8', transport: 'tcp', reason: 'tcp only' });
    expect(tcpWhole.body).toMatchObject({ id: 'ip:tcp:2001:db8::8', transport: 'tcp' });
    const changes = await changesAfter(before);
    expect(changes.map((c) => [c.decisionId, c.decision!.transport])).toEqual([
      ['endpoint:udp:198.51.100.8:1214', Transport.TRANSPORT_UDP],
      ['endpoint:198.51.100.8:1214', Transport.TRANSPORT_BOTH],
      ['ip:tcp:2001:db8::8', Transport.TRANSPORT_TCP],
    ]);
    const why = await get<PeerView>('/v1/peers/198.51.100.8:1214', READ);
    expect(why.body.blocked).toBe(true);
    expect(why.body.decisions.map((d) => [d.id, d.transport]).sort()).toEqual([['endpoint:198.51.100.8:1214', 'both'], ['endpoint:udp:198.51.100.8:1214', 'udp']]);
    expect((await get<PeerView>('/v1/peers/2001:db8::8', READ)).body.decisions.map((d) => d.id)).toEqual(['ip:tcp:2001:db8::8']);
    expect((await del(`/v1/decisions/${encodeURIComponent('endpoint:udp:198.51.100.8:1214')}`)).status).toBe(200);
    expect(await stored('endpoint:udp:198.51.100.8:1214')).toBe(false);
    expect(await stored('endpoint:198.51.100.8:1214')).toBe(true); // unblocking UDP leaves the block for both
    for (const id of ['endpoint:198.51.100.8:1214', 'ip:tcp:2001:db8::8']) expect((await del(`/v1/decisions/${encodeURIComponent(id)}`)).status).toBe(200);
  });

  it('a manual block replaces the block the brain decided from a sensor, keeping its evidence', async () => {
    await jetstream(nc).publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch({ instance: 'api-test', sequence: 1, created: Date.now(), peers: [{ ip: '198.51.100.77', port: 1214, from: '192.168.1.77' }] }), { msgID: 'api-test:1' });
    const auto = await until('the brain decides', async () => (await get<Page<DecisionView>>('/v1/decisions?value=198.51.100.77:1214')).body.items[0]);
    expect(auto).toMatchObject({ origin: 'signature', author: 'p2pwall-brain', evidence: { hosts: ['site-a/192.168.1.77'], sites: ['site-a'] } });
    const manual = await post<DecisionView>('/v1/decisions', { scope: 'endpoint', value: '198.51.100.77:1214', reason: 'confirmed by the operator', author: 'bob' });
    expect(manual.body).toMatchObject({ origin: 'manual', author: 'bob', reason: 'confirmed by the operator', evidence: { hosts: ['site-a/192.168.1.77'], sites: ['site-a'] } });
    const why = await get<PeerView>('/v1/peers/198.51.100.77:1214', READ);
    expect(why.body).toMatchObject({ ip: '198.51.100.77', port: 1214, blocked: true, decisions: [{ id: 'endpoint:198.51.100.77:1214', origin: 'manual' }], hosts: ['site-a/192.168.1.77'], sites: ['site-a'] });
  });

  it('lists decisions with every filter, newest first, page by page', async () => {
    const now = Date.now();
    const fixtures = [
      fixture({ id: 'endpoint:203.0.113.21:1214', scope: Scope.SCOPE_ENDPOINT, ip: ip('203.0.113.21'), port: 1214, createdMs: now - 5000, evidence: { hosts: ['f1/10.1.0.1'], sites: ['f1'], sensors: [], rules: [], count: 1, firstSeenMs: 0, lastSeenMs: 0 } }),
      fixture({ id: 'endpoint:203.0.113.21:3531', scope: Scope.SCOPE_ENDPOINT, ip: ip('203.0.113.21'), port: 3531, createdMs: now - 4000, origin: Origin.ORIGIN_CORRELATION, evidence: { hosts: ['f2/10.2.0.1', 'f1/10.1.0.2'], sites: ['f1', 'f2'], sensors: [], rules: [], count: 2, firstSeenMs: 0, lastSeenMs: 0 } }),
      fixture({ id: 'ip:203.0.113.22', scope: Scope.SCOPE_IP, ip: ip('203.0.113.22'), createdMs: now - 3000, origin: Origin.ORIGIN_CORRELATION }),
      fixture({ id: 'host:f1:10.1.0.9', scope: Scope.SCOPE_HOST, ip: ip('10.1.0.9'), site: 'f1', createdMs: now - 2000 }),
      fixture({ id: 'host:f2:10.2.0.9', scope: Scope.SCOPE_HOST, ip: ip('10.2.0.9'), site: 'f2', createdMs: now - 1000, simulated: true }),
      fixture({ id: 'ip:203.0.113.23', scope: Scope.SCOPE_IP, ip: ip('203.0.113.23'), createdMs: now - 500, expiresMs: now - 1 }), // expired, not yet swept
      fixture({ id: 'allow:ip:203.0.113.24', scope: Scope.SCOPE_IP, ip: ip('203.0.113.24'), createdMs: now - 100, origin: Origin.ORIGIN_MANUAL, action: Action.ACTION_ALLOW }),
    ];
    for (const d of fixtures) await replica.replace(d);
    const ids = async (query: string) => {
      const answer = await get<Page<DecisionView>>(`/v1/decisions?${query}`, READ);
      expect(answer.status, query).toBe(200);
      return answer.body.items.map((d) => d.id).filter((id) => fixtures.some((f) => f.id === id));
    };
    const blocks = ['host:f2:10.2.0.9', 'host:f1:10.1.0.9', 'ip:203.0.113.22', 'endpoint:203.0.113.21:3531', 'endpoint:203.0.113.21:1214'];
    expect(await ids('limit=1000')).toEqual(blocks);
    expect(await ids('scope=endpoint&limit=1000')).toEqual(['endpoint:203.0.113.21:3531', 'endpoint:203.0.113.21:1214']);
    expect(await ids('scope=host')).toEqual(['host:f2:10.2.0.9', 'host:f1:10.1.0.9']);
    expect(await ids('origin=correlation')).toEqual(['ip:203.0.113.22', 'endpoint:203.0.113.21:3531']);
    expect(await ids('origin=signature&limit=1000')).toEqual(['host:f2:10.2.0.9', 'host:f1:10.1.0.9', 'endpoint:203.0.113.21:1214']);
    // A site's list is what it enforces: its own host locks and every block that holds at all sites.
    expect(await ids('site=f1')).toEqual(['host:f1:10.1.0.9', 'ip:203.0.113.22', 'endpoint:203.0.113.21:3531', 'endpoint:203.0.113.21:1214']);
    expect(await ids('site=f2')).toEqual(['host:f2:10.2.0.9', 'ip:203.0.113.22', 'endpoint:203.0.113.21:3531', 'endpoint:203.0.113.21:1214']);
    expect(await ids('range=203.0.113.20/31')).toEqual(['endpoint:203.0.113.21:3531', 'endpoint:203.0.113.21:1214']);
    expect(await ids(`since=${encodeURIComponent(new Date(now - 3500).toISOString())}&until=${encodeURIComponent(new Date(now - 1500).toISOString())}`)).toEqual(['host:f1:10.1.0.9', 'ip:203.0.113.22']);
    expect(await ids('value=203.0.113.21')).toEqual(['endpoint:203.0.113.21:3531', 'endpoint:203.0.113.21:1214']);
    expect(await ids('value=203.0.113.21:1214')).toEqual(['endpoint:203.0.113.21:1214']);
    expect(await ids('value=10.1.0.9')).toEqual(['host:f1:10.1.0.9']);
    expect(await ids('simulated=true')).toEqual(['host:f2:10.2.0.9']);
    expect(await ids('simulated=false&scope=host')).toEqual(['host:f1:10.1.0.9']);
    expect(await ids('action=allow')).toEqual(['allow:ip:203.0.113.24']);
    expect(await ids('scope=ip&origin=correlation&value=203.0.113.22')).toEqual(['ip:203.0.113.22']);

    // pages of 2 through everything: each decision once, in order
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Answer<Page<DecisionView>> = await get<Page<DecisionView>>(`/v1/decisions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, READ);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((d) => d.id));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 100);
    const all = (await get<Page<DecisionView>>('/v1/decisions?limit=1000', READ)).body.items.map((d) => d.id);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));
    expect(await get('/v1/decisions?cursor=bm90LWEtY3Vyc29y', READ)).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^querystring\/cursor: /) } });
  });

  it('an allow entry lifts the blocks it covers at once (through the change stream), blocks manual blocks, and can be removed', async () => {
    await replica.replace(fixture({ id: 'host:site-a:192.168.3.5', scope: Scope.SCOPE_HOST, ip: ip('192.168.3.5'), site: 'site-a' }));
    await replica.replace(fixture({ id: 'host:site-b:192.168.3.5', scope: Scope.SCOPE_HOST, ip: ip('192.168.3.5'), site: 'site-b' }));
    for (const port of [1214, 3531]) await replica.replace(fixture({ id: `endpoint:203.0.113.31:${port}`, scope: Scope.SCOPE_ENDPOINT, ip: ip('203.0.113.31'), port }));
    await replica.replace(fixture({ id: 'ip:203.0.113.31', scope: Scope.SCOPE_IP, ip: ip('203.0.113.31') }));
    await replica.replace(fixture({ id: 'endpoint:203.0.113.32:1214', scope: Scope.SCOPE_ENDPOINT, ip: ip('203.0.113.32'), port: 1214 }));
    await replica.replace(fixture({ id: 'endpoint:203.0.113.3:1214', scope: Scope.SCOPE_ENDPOINT, ip: ip('203.0.113.3'), port: 1214 })); // a prefix of .31, not covered

    const before = await streamEnd();
    const host = await post<AllowView>('/v1/allowlist', { scope: 'host', value: '192.168.3.5', site: 'site-a', reason: 'the build server', author: 'carol' });
    expect(host).toMatchObject({ status: 201, body: { id: 'allow:host:site-a:192.168.3.5', scope: 'host', value: '192.168.3.5', site: 'site-a', reason: 'the build server', author: 'carol', expires: null } });
    expect(await changesAfter(before)).toMatchObject([
      { kind: ChangeKind.CHANGE_KIND_UPSERT, decisionId: 'allow:host:site-a:192.168.3.5', decision: { action: Action.ACTION_ALLOW, origin: Origin.ORIGIN_MANUAL, scope: Scope.SCOPE_HOST, site: 'site-a' } },
      { kind: ChangeKind.CHANGE_KIND_REMOVE, decisionId: 'host:site-a:192.168.3.5' },
    ]);
    expect(await stored('host:site-b:192.168.3.5')).toBe(true); // another site's lock stays

    const mid = await streamEnd();
    const whole = await post<AllowView>('/v1/allowlist', { scope: 'ip', value: '203.0.113.31', reason: 'partner network', expires: '7d' });
    expect(whole.status).toBe(201);
    const lifted = (await changesAfter(mid)).filter((c) => c.kind === ChangeKind.CHANGE_KIND_REMOVE).map((c) => c.decisionId).sort();
    expect(lifted).toEqual(['endpoint:203.0.113.31:1214', 'endpoint:203.0.113.31:3531', 'ip:203.0.113.31']);
    expect(await stored('endpoint:203.0.113.3:1214')).toBe(true);
    expect(await stored('endpoint:203.0.113.32:1214')).toBe(true);

    const endpoint = await post<AllowView>('/v1/allowlist', { scope: 'endpoint', value: '203.0.113.32:1214', reason: 'game server' });
    expect(endpoint.body.id).toBe('allow:endpoint:203.0.113.32:1214');
    expect(await stored('endpoint:203.0.113.32:1214')).toBe(false);

    const list = await get<Page<AllowView>>('/v1/allowlist', READ);
    expect(list.body.items.map((a) => a.id)).toEqual(expect.arrayContaining(['allow:host:site-a:192.168.3.5', 'allow:ip:203.0.113.31', 'allow:endpoint:203.0.113.32:1214']));
    expect((await get<Page<AllowView>>('/v1/allowlist?scope=host&site=site-a', READ)).body.items.map((a) => a.id)).toEqual(['allow:host:site-a:192.168.3.5']);
    expect((await get<Page<AllowView>>('/v1/allowlist?value=203.0.113.31', READ)).body.items.map((a) => a.id)).toEqual(['allow:ip:203.0.113.31']);

    const hostView = await get<HostView>('/v1/hosts/192.168.3.5', READ);
    expect(hostView.body).toMatchObject({ ip: '192.168.3.5', site: '', locks: [{ id: 'host:site-b:192.168.3.5' }], allowed: [{ id: 'allow:host:site-a:192.168.3.5' }] });
    expect((await get<HostView>('/v1/hosts/192.168.3.5?site=site-a', READ)).body).toMatchObject({ site: 'site-a', locks: [], allowed: [{ id: 'allow:host:site-a:192.168.3.5' }] });
    expect((await get<PeerView>('/v1/peers/203.0.113.31:1214', READ)).body).toMatchObject({ blocked: false, decisions: [], allowed: [{ id: 'allow:ip:203.0.113.31' }] });

    const refused = await post<ErrorView>('/v1/decisions', { scope: 'endpoint', value: '203.0.113.31:6346', reason: 'try to block an allowed address' });
    expect(refused).toMatchObject({ status: 409, body: { error: 'Conflict', message: expect.stringMatching(/allowlisted by allow:ip:203\.0\.113\.31/) } });
    expect((await del<ErrorView>(`/v1/decisions/${encodeURIComponent('allow:ip:203.0.113.31')}`)).status).toBe(404);

    const end = await streamEnd();
    const removed = await del<{ removed: AllowView }>(`/v1/allowlist/${encodeURIComponent('allow:ip:203.0.113.31')}`);
    // The blocks the entry suspended come back, on the same change stream the sensors follow.
    const restored = ['endpoint:203.0.113.31:1214', 'endpoint:203.0.113.31:3531', 'ip:203.0.113.31'];
    expect(removed).toMatchObject({ status: 200, body: { removed: { id: 'allow:ip:203.0.113.31', reason: 'partner network' }, restored } });
    const afterDelete = await changesAfter(end);
    expect(afterDelete[0]).toMatchObject({ kind: ChangeKind.CHANGE_KIND_REMOVE, decisionId: 'allow:ip:203.0.113.31' });
    expect(afterDelete.slice(1).map((c) => [c.kind, c.decisionId]).sort()).toEqual(restored.map((id) => [ChangeKind.CHANGE_KIND_UPSERT, id]));
    expect((await del(`/v1/allowlist/${encodeURIComponent('allow:ip:203.0.113.31')}`)).status).toBe(404);
    expect((await del(`/v1/allowlist/${encodeURIComponent('host:site-b:192.168.3.5')}`)).status).toBe(404);
    expect((await post('/v1/decisions', { scope: 'endpoint', value: '203.0.113.31:6346', reason: 'now it may be blocked' })).status).toBe(201);
  });

  it('bad input gets a 400 whose message names the field; unknown ids and routes a 404', async () => {
    const bad = async (method: 'GET' | 'POST', path: string, body: unknown, field: string) => {
      const answer = await call<ErrorView>(method, path, { body });
      expect(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body.statusCode).toBe(400);
      expect(answer.body.error).toBe('Bad Request');
      expect(answer.body.message, JSON.stringify(body)).toMatch(new RegExp(`^${field}: `));
      return answer.body.message;
    };
    const block = { scope: 'endpoint', value: '198.51.100.99:1214', reason: 'r' };
    for (const path of ['/v1/decisions', '/v1/allowlist']) {
      expect(await bad('POST', path, { ...block, value: '198.51.100.999:1214' }, 'body/value')).toMatch(/not an IPv4 or IPv6 address/);
      expect(await bad('POST', path, { ...block, value: '198.51.100.99:70000' }, 'body/value')).toMatch(/out of range 1\.\.65535/);
      expect(await bad('POST', path, { ...block, value: '198.51.100.99:0' }, 'body/value')).toMatch(/out of range/);
      expect(await bad('POST', path, { ...block, value: '198.51.100.99' }, 'body/value')).toMatch(/needs a port/);
      expect(await bad('POST', path, { ...block, scope: 'ip', value: '198.51.100.99:80' }, 'body/value')).toMatch(/scope endpoint/);
      expect(await bad('POST', path, { ...block, scope: 'subnet' }, 'body/scope')).toMatch(/must be one of endpoint, ip, host/);
      expect(await bad('POST', path, { ...block, scope: 'host', value: '192.168.1.5' }, 'body/site')).toMatch(/needs the site/);
      expect(await bad('POST', path, { ...block, scope: 'host', value: '192.168.1.5', site: 'Site A' }, 'body/site')).toMatch(/pattern/);
      expect(await bad('POST', path, { ...block, expires: 'tomorrow' }, 'body/expires')).toMatch(/not a time/);
      expect(await bad('POST', path, { ...block, expires: '-5m' }, 'body/expires')).toMatch(/not a time/);
      expect(await bad('POST', path, { ...block, expires: '2020-01-01T00:00:00Z' }, 'body/expires')).toMatch(/not in the future/);
      expect(await bad('POST', path, { scope: 'ip', value: '198.51.100.99' }, 'body/reason')).toMatch(/is required/);
      expect(await bad('POST', path, { ...block, reason: '' }, 'body/reason')).toMatch(/fewer than 1/);
      expect(await bad('POST', path, { ...block, reason: 'x'.repeat(501) }, 'body/reason')).toMatch(/more than 500/);
      expect(await bad('POST', path, { ...block, colour: 'red' }, 'body/colour')).toMatch(/not a known field/);
      expect(await bad('POST', path, [block], 'body')).toMatch(/must be object/);
    }
    expect(await bad('POST', '/v1/decisions', { ...block, transport: 'sctp' }, 'body/transport')).toMatch(/must be one of tcp, udp, both/);
    expect(await bad('POST', '/v1/decisions', { ...block, transport: 'UDP' }, 'body/transport')).toMatch(/must be one of tcp, udp, both/);
    expect(await bad('POST', '/v1/decisions', { ...block, scope: 'host', value: '192.168.1.5', site: 'site-a', transport: 'udp' }, 'body/transport')).toMatch(/a host lock holds for every transport/);
    expect(await bad('POST', '/v1/allowlist', { ...block, transport: 'udp' }, 'body/transport')).toMatch(/not a known field/);
    const invalidJson = await call<ErrorView>('POST', '/v1/decisions', { rawBody: '{"scope":' });
    expect(invalidJson).toMatchObject({ status: 400, body: { statusCode: 400, message: expect.stringMatching(/JSON/) } });
    expect(await stored('endpoint:198.51.100.99:1214')).toBe(false);

    expect(await bad('GET', '/v1/decisions?limit=0', undefined, 'querystring/limit')).toMatch(/>= 1/);
    expect(await bad('GET', '/v1/decisions?limit=1001', undefined, 'querystring/limit')).toMatch(/<= 1000/);
    expect(await bad('GET', '/v1/incidents?limit=abc', undefined, 'querystring/limit')).toMatch(/integer/);
    expect(await bad('GET', '/v1/decisions?scope=subnet', undefined, 'querystring/scope')).toMatch(/one of/);
    expect(await bad('GET', '/v1/decisions?origin=magic', undefined, 'querystring/origin')).toMatch(/one of/);
    expect(await bad('GET', '/v1/decisions?value=nope', undefined, 'querystring/value')).toMatch(/not an address/);
    expect(await bad('GET', '/v1/decisions?simulated=maybe', undefined, 'querystring/simulated')).toMatch(/boolean/);
    expect(await bad('GET', '/v1/decisions?sort=id', undefined, 'querystring/sort')).toMatch(/not a known field/);
    expect(await bad('GET', '/v1/incidents?since=yesterday', undefined, 'querystring/since')).toMatch(/not a time/);
    expect(await bad('GET', '/v1/incidents?until=2026-02-30', undefined, 'querystring/until')).toMatch(/not a time/);
    expect(await bad('GET', '/v1/incidents?since=1h&until=2h', undefined, 'querystring/until')).toMatch(/before since/);
    expect(await bad('GET', '/v1/incidents?host=192.168.1', undefined, 'querystring/host')).toMatch(/not an IPv4/);
    expect(await bad('GET', '/v1/incidents?peer=203.0.113.1:99999', undefined, 'querystring/peer')).toMatch(/out of range/);
    expect(await bad('GET', '/v1/incidents?site=A', undefined, 'querystring/site')).toMatch(/pattern/);
    expect(await bad('GET', '/v1/hosts/not-an-ip', undefined, 'params/ip')).toMatch(/not an IPv4/);
    expect(await bad('GET', '/v1/hosts/192.168.1.5?site=Nope!', undefined, 'querystring/site')).toMatch(/pattern/);
    expect(await bad('GET', '/v1/peers/203.0.113.1:0', undefined, 'params/peer')).toMatch(/out of range/);

    expect(await get<ErrorView>('/v1/incidents/no-such-incident', READ)).toMatchObject({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'no incident no-such-incident' } });
    expect((await del(`/v1/decisions/${encodeURIComponent('ip:198.51.100.98')}`)).status).toBe(404);
    expect(await get<ErrorView>('/v2/decisions', READ)).toMatchObject({ status: 404, body: { error: 'Not Found', message: 'no route GET /v2/decisions' } });
  });

  it('lists sensors from their heartbeats: version, mode, age, queue drops and blocklist lag', async () => {
    const now = Date.now();
    const version = Number(await redis.get(REDIS_KEYS.blocklistVersion));
    const beat = (site: string, sentMs: number, applied: number) =>
      p2pwall.v1.Heartbeat.encode({ sensor: { site, gateway: 'gw1', queue: 0, instance: `i-${site}` }, version: '0.1.0', mode: Mode.MODE_ENFORCE, sentMs, startedMs: now - 60_000, queues: [{ queue: 0, queueTotal: 2, queueDropped: 5, userDropped: 1 }], packets: 1000, dropped: 40, blocklistVersion: applied, backlogBatches: 0, shedBatches: 3 }).finish();
    await jetstream(nc).publish(SUBJECTS.heartbeats('sensor-fresh', 'gw1'), beat('sensor-fresh', now, version - 2));
    await jetstream(nc).publish(SUBJECTS.heartbeats('sensor-old', 'gw1'), beat('sensor-old', now - 120_000, version));
    const sensors = await until('both heartbeats', async () => {
      const answer = await get<{ items: SensorView[]; blocklistVersion: number }>('/v1/sensors', READ);
      return answer.body.items.filter((s) => s.site.startsWith('sensor-')).length === 2 ? answer.body : undefined;
    });
    expect(sensors.blocklistVersion).toBeGreaterThanOrEqual(version); // the sweep may remove an expired fixture meanwhile
    const [fresh, old] = sensors.items.filter((s) => s.site.startsWith('sensor-'));
    expect(fresh).toMatchObject({ name: 'sensor-fresh/gw1/0', gateway: 'gw1', version: '0.1.0', mode: 'enforce', stale: false, packets: 1000, dropped: 40, shedBatches: 3, queues: [{ queue: 0, total: 2, queueDropped: 5, userDropped: 1 }], blocklistVersion: version - 2 });
    expect(fresh!.blocklistLag).toBe(sensors.blocklistVersion - (version - 2));
    expect(fresh!.ageSeconds).toBeLessThan(10);
    expect(old).toMatchObject({ name: 'sensor-old/gw1/0', stale: true, blocklistVersion: version });
    expect(old!.ageSeconds).toBeGreaterThanOrEqual(120);
  });

  it('pages sensors by name: limit and cursor; a cursor of another list is refused', async () => {
    const beat = (gateway: string) => p2pwall.v1.Heartbeat.encode({ sensor: { site: 'paged', gateway, queue: 0, instance: 'i' }, version: '0.1.0', sentMs: Date.now() }).finish();
    for (const gateway of ['gw3', 'gw1', 'gw2']) await redis.hset(REDIS_KEYS.sensors, `paged/${gateway}/0`, Buffer.from(beat(gateway)));
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer: { body: { items: SensorView[]; nextCursor: string | null; blocklistVersion: number } } = await get('/v1/sensors?limit=2' + (cursor ? `&cursor=${cursor}` : ''), READ);
      expect(answer.body.items.length).toBeLessThanOrEqual(2);
      expect(typeof answer.body.blocklistVersion).toBe('number');
      names.push(...answer.body.items.map((s) => s.name));
      cursor = answer.body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 100);
    expect(names.filter((n) => n.startsWith('paged/'))).toEqual(['paged/gw1/0', 'paged/gw2/0', 'paged/gw3/0']);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect((await get<ErrorView>(`/v1/sensors?cursor=${Buffer.from(JSON.stringify(['2026', 'x'])).toString('base64url')}`, READ)).status).toBe(400);
  });

  it('incidents: filters, cursor pagination, one incident with samples; hosts and peers show them', async () => {
    const config = brainConfig();
    const store = new IncidentStore(redis, { quietMs: config.incidents.quietSeconds * 1000, retentionMs: 86_400_000, maxSamples: 3, listItems: 5 });
    const t0 = Date.now() - 3_600_000;
    const flow = (site: string, host: string, peer: string, ts: number, app = 'fasttrack'): IncidentFlow => ({ site, hostIp: host, insidePort: 40000, endpoint: peer, outsideIp: peer.split(':')[0]!, protocol: 17, app, rules: ['fasttrack/udp-ping'], firstSeenMs: ts - 10, lastSeenMs: ts, packetsOut: 1, packetsIn: 0, bytesOut: 40, bytesIn: 0, droppedPackets: 1, dropped: true, ongoing: false });
    const hosts = Array.from({ length: 7 }, (_, i) => `10.9.0.${i + 1}`);
    for (const [i, host] of hosts.entries()) {
      const site = i < 4 ? 'inc-a' : 'inc-b';
      await store.record(incidentUpdates({ gateway: i % 2 === 0 ? 'gw1' : 'gw2', flows: [flow(site, host, `203.0.113.${100 + (i % 3)}:1214`, t0 + i * 60_000)], clients: [], peers: [], decisions: [] }, 3));
    }
    const list = async (query: string) => {
      const answer = await get<Page<IncidentView>>(`/v1/incidents?${query}`, READ);
      expect(answer.status, query).toBe(200);
      return answer.body;
    };
    const ours = (page: Page<IncidentView>) => page.items.filter((i) => i.site.startsWith('inc-')).map((i) => i.host);

    const newestFirst = [...hosts].reverse();
    expect(ours(await list('limit=1000'))).toEqual(newestFirst);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page<IncidentView> = await list(`site=inc-a&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((i) => i.host));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(['10.9.0.4', '10.9.0.3', '10.9.0.2', '10.9.0.1']);
    expect(pages).toBe(2);
    expect(ours(await list('site=inc-b'))).toEqual(['10.9.0.7', '10.9.0.6', '10.9.0.5']);
    expect(ours(await list('gateway=gw2&limit=1000'))).toEqual(['10.9.0.6', '10.9.0.4', '10.9.0.2']);
    expect(ours(await list('host=10.9.0.3'))).toEqual(['10.9.0.3']);
    expect(ours(await list('protocol=fasttrack&site=inc-b'))).toEqual(['10.9.0.7', '10.9.0.6', '10.9.0.5']);
    expect(ours(await list('peer=203.0.113.100&limit=1000'))).toEqual(['10.9.0.7', '10.9.0.4', '10.9.0.1']);
    expect(ours(await list('peer=203.0.113.101:1214&limit=1000'))).toEqual(['10.9.0.5', '10.9.0.2']);
    expect(ours(await list(`since=${encodeURIComponent(new Date(t0 + 4 * 60_000).toISOString())}&limit=1000`))).toEqual(['10.9.0.7', '10.9.0.6', '10.9.0.5']);
    expect(ours(await list(`until=${encodeURIComponent(new Date(t0 + 60_000).toISOString())}&limit=1000`))).toEqual(['10.9.0.2', '10.9.0.1']);
    expect(ours(await list('since=30m&limit=1000'))).toEqual([]);
    expect(ours(await list('since=2h&until=30m&site=inc-a'))).toEqual(['10.9.0.4', '10.9.0.3', '10.9.0.2', '10.9.0.1']);
    expect(await get('/v1/incidents?cursor=AAAA', READ)).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^querystring\/cursor: /) } });

    const [first] = (await list('host=10.9.0.1')).items;
    expect(first!.samples).toBeUndefined();
    const one = await get<IncidentView>(`/v1/incidents/${encodeURIComponent(first!.id)}`, READ);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: first!.id, site: 'inc-a', host: '10.9.0.1', protocol: 'fasttrack', gateways: ['gw1'], evidence: [{ rule: 'fasttrack/udp-ping', count: 1 }], peers: { count: 1, sample: ['203.0.113.100:1214'] } });
    expect(one.body.samples).toMatchObject([{ gateway: 'gw1', peer: '203.0.113.100:1214', app: 'fasttrack', verdict: 'drop' }]);

    expect((await get<HostView>('/v1/hosts/10.9.0.5?site=inc-b', READ)).body.incidents.map((i) => i.host)).toEqual(['10.9.0.5']);
    const peer = await get<PeerView>('/v1/peers/203.0.113.102', READ);
    expect(peer.body).toMatchObject({ ip: '203.0.113.102', port: 0, blocked: false, hosts: ['inc-a/10.9.0.3', 'inc-b/10.9.0.6'], sites: ['inc-a', 'inc-b'] });
  });

  it('readiness follows NATS: 503 while it is down, ready again once it is back', async () => {
    await nats.stop();
    try {
      const down = await until('not ready', async () => {
        const answer = await get<{ status: string; checks: Record<string, boolean> }>('/health/ready', null);
        return answer.status === 503 ? answer.body : undefined;
      });
      // the test's redis-server keeps no append-only file: the brain warns, without being unready for it
      expect(down).toEqual({ status: 'not ready', checks: { redis: true, nats: false }, warnings: { incidentHistory: expect.stringContaining('(appendonly no)') } });
      expect((await get('/health/live', null)).status).toBe(200);
      expect((await get('/v1/decisions', READ)).status).toBe(200); // queries need Redis only
    } finally {
      await nats.restart();
    }
    await until('ready again', async () => (await get('/health/ready', null)).status === 200, 20_000);
  });
});

describe('brain HTTP API configuration', () => {
  it('the brain refuses to start an API without a token, naming the keys; api.enabled: false runs without one', async () => {
    const c = brainConfig();
    c.api.tokens = { read: [], admin: [] };
    const open = new BrainService(c, log);
    await expect(open.start()).rejects.toThrow(/no token configured.*api\.enabled: false/);
    await open.stop();
    c.api.enabled = false;
    const without = new BrainService(c, log);
    await without.start();
    expect(without.apiPort()).toBeUndefined();
    await without.stop();
  });
});
