import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, nanos, type ConnectionOptions } from '@nats-io/transport-node';
import { ConfigError, REDIS_KEYS, STREAMS, SUBJECTS, type Logger } from '@p2pwall/common';
import { capturedLog, makeNatsOperator, makeTestCertificates, startNats, startRedis, type NatsOperator, type NatsSecurity, type RedisSecurity, type TestCertificates } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSensorConfig, type NatsUplinkConfig, type RedisUplinkConfig } from '../../src/config.js';
import { Batcher } from '../../src/uplink/batcher.js';
import { BlocklistFollower } from '../../src/uplink/blocklist.js';
import { Publisher } from '../../src/uplink/publisher.js';
import { Uplink } from '../../src/uplink/uplink.js';

/**
 * The uplink against servers that demand credentials and TLS, as in production: real
 * nats-server and redis-server, throwaway certificates from openssl, JWT creds signed locally.
 * Wrong credentials must be logged as such, and the sensor must go on (buffering summaries,
 * keeping its blocklist), never throw.
 */

const SITE = 'site-a';
const GATEWAY = 'gw-1';
/** The ACL the README recommends for sensors: read the blocklist, nothing else. */
const SENSOR_ACL = ['resetkeys', '~p2pwall:v1:*', 'resetchannels', '-@all', '+@read', '+@transaction', '+@connection', '+info'];

let certs: TestCertificates;
let operator: NatsOperator;
let dir: string;
beforeAll(async () => {
  certs = await makeTestCertificates();
  operator = makeNatsOperator();
  dir = mkdtempSync(join(tmpdir(), 'p2pwall-secure-'));
});
afterAll(() => {
  certs?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

const capture = () => capturedLog('test');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const noTls = { ca: null, cert: null, key: null };
function natsConfig(servers: string[], overrides: Partial<NatsUplinkConfig> = {}): NatsUplinkConfig {
  return { servers, user: null, password: null, token: null, credsFile: null, tls: noTls, maxBacklogBatches: 100, batchMaxFlows: 500, batchMaxDelayMs: 250, batchMaxEventDelayMs: 20, heartbeatSeconds: 5, ...overrides };
}

function batches(count: number): p2pwall.v1.ISummaryBatch[] {
  const batcher = new Batcher({ sensor: { site: SITE, gateway: GATEWAY, queue: 0, instance: 'secure' }, maxFlows: 1 });
  return Array.from({ length: count }, (_, i) => batcher.add({ flow: { insideIp: Uint8Array.of(192, 168, 1, i + 1), insidePort: 40000 + i, protocol: 6 } }, 1000 + i)!);
}

/** A secured nats-server with the stream, and a reader logged in with `login`. */
async function natsWith(security: NatsSecurity, login: Partial<ConnectionOptions>): Promise<{ url: string; jsm: JetStreamManager }> {
  const server = await startNats({ security });
  cleanups.push(() => server.cleanup());
  const nc = await connect({ servers: server.url, ...login });
  cleanups.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAMS.summaries, subjects: [SUBJECTS.allSummaries, SUBJECTS.allHeartbeats], duplicate_window: nanos(120_000) });
  return { url: server.url, jsm };
}

function publisher(config: NatsUplinkConfig, logger: Logger): Publisher {
  const started = Publisher.start({ config, site: SITE, gateway: GATEWAY, instance: 'secure', logger });
  cleanups.push(() => started.stop());
  return started;
}

const storedBatches = async (jsm: JetStreamManager): Promise<number> => (await jsm.streams.info(STREAMS.summaries)).state.messages;

/** Publishes three batches with `good` and expects them stored; then `bad` is refused with `message`, keeping its batches. */
async function publishesOnlyWith(url: string, jsm: JetStreamManager, good: Partial<NatsUplinkConfig>, bad: Partial<NatsUplinkConfig>, message: RegExp): Promise<void> {
  const ok = publisher(natsConfig([url], good), capture().logger);
  for (const batch of batches(3)) ok.enqueue(batch);
  expect(await ok.drain(10_000)).toBe(true);
  expect(ok.stats).toMatchObject({ published: 3, connectErrors: 0 });
  expect(await storedBatches(jsm)).toBe(3);

  const { logger, lines } = capture();
  const refused = publisher(natsConfig([url], bad), logger);
  for (const batch of batches(3)) expect(() => refused.enqueue(batch)).not.toThrow();
  await until('refusal logged', () => lines.some((line) => message.test(line.msg)));
  const line = lines.find((l) => message.test(l.msg))!;
  expect(line.level).toBe('error');
  expect(refused.stats).toMatchObject({ published: 0, backlog: 3, connected: false });
  expect(refused.stats.connectErrors).toBeGreaterThanOrEqual(1);
  expect(await storedBatches(jsm)).toBe(3);
}

describe('uplink to NATS with credentials and TLS (real nats-server)', () => {
  const REFUSED = /^NATS refused the uplink credentials/;

  it('user/password: publishes when right; a wrong password is logged as refused and batches wait', async () => {
    const { url, jsm } = await natsWith({ user: { name: 'sensor', password: 's3cret' } }, { user: 'sensor', pass: 's3cret' });
    await publishesOnlyWith(url, jsm, { user: 'sensor', password: 's3cret' }, { user: 'sensor', password: 'wrong' }, REFUSED);
  });

  it('token: publishes with it, is refused with another one', async () => {
    const { url, jsm } = await natsWith({ token: 'tok-123' }, { token: 'tok-123' });
    await publishesOnlyWith(url, jsm, { token: 'tok-123' }, { token: 'tok-456' }, REFUSED);
  });

  it('TLS: the server certificate is verified against uplink.nats.tls.ca; another CA fails, logged as a TLS failure', async () => {
    const { url, jsm } = await natsWith({ tls: { cert: certs.serverCert, key: certs.serverKey } }, { tls: { caFile: certs.ca } });
    expect(url.startsWith('tls://')).toBe(true);
    await publishesOnlyWith(url, jsm, { tls: { ca: certs.ca, cert: null, key: null } }, { tls: { ca: certs.otherCa, cert: null, key: null } }, /^TLS with NATS failed/);
  });

  it('mutual TLS plus user/password: the client certificate is presented', async () => {
    const mtls = { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey };
    const { url, jsm } = await natsWith({ user: { name: 'sensor', password: 'pw' }, tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verifyClients: true } }, { user: 'sensor', pass: 'pw', tls: mtls });
    const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    await publishesOnlyWith(url, jsm, { user: 'sensor', password: 'pw', tls }, { user: 'sensor', password: 'nope', tls }, REFUSED);
  });

  it('creds file (decentralized JWT auth): publishes; creds of an account the server does not trust are refused', async () => {
    const creds = file('sensor.creds', operator.userCreds('sensor'));
    const stranger = file('stranger.creds', operator.strangerCreds('stranger'));
    const { url, jsm } = await natsWith({ operator }, { authenticator: credsAuthenticator(new TextEncoder().encode(operator.userCreds('reader'))) });
    await publishesOnlyWith(url, jsm, { credsFile: creds }, { credsFile: stranger }, REFUSED);
  });

  it('a creds file removed after the config was loaded: a counted, logged connect error, no throw', async () => {
    const { url } = await natsWith({ operator }, { authenticator: credsAuthenticator(new TextEncoder().encode(operator.userCreds('reader'))) });
    const { logger, lines } = capture();
    const p = publisher(natsConfig([url], { credsFile: join(dir, 'gone.creds') }), logger);
    p.enqueue(batches(1)[0]!);
    await until('logged', () => lines.some((l) => l.level === 'error' && /^a file of uplink\.nats/.test(l.msg) && /cannot read the NATS credentials file .*gone\.creds/.test(l.err ?? '')));
    expect(p.stats).toMatchObject({ backlog: 1, published: 0 });
  });
});

/** What the brain writes: decision, version and change in one transaction. */
async function upsert(redis: Redis, id: string, last: number): Promise<void> {
  const decision: p2pwall.v1.IDecision = { id, scope: p2pwall.v1.Scope.SCOPE_IP, ip: Uint8Array.of(203, 0, 113, last), action: p2pwall.v1.Action.ACTION_BLOCK, origin: p2pwall.v1.Origin.ORIGIN_CORRELATION, createdMs: 1 };
  const version = Number((await redis.get(REDIS_KEYS.blocklistVersion)) ?? 0) + 1;
  await redis
    .multi()
    .hset(REDIS_KEYS.decisions, id, Buffer.from(p2pwall.v1.Decision.encode(decision).finish()))
    .set(REDIS_KEYS.blocklistVersion, version)
    .xadd(REDIS_KEYS.blocklistChanges, '*', 'c', Buffer.from(p2pwall.v1.BlocklistChange.encode({ version, kind: p2pwall.v1.ChangeKind.CHANGE_KIND_UPSERT, decision }).finish()))
    .exec();
}

/** A secured redis-server and the brain's side of it (an admin connection that writes decisions). */
async function redisWith(security: RedisSecurity, admin: RedisOptions): Promise<{ url: string; admin: Redis }> {
  const server = await startRedis({ security });
  cleanups.push(() => server.cleanup());
  const redis = new Redis(server.url.replace(/\/\/:[^@]*@/, '//'), { maxRetriesPerRequest: null, ...admin });
  redis.on('error', () => undefined);
  cleanups.push(() => redis.disconnect());
  return { url: server.url.replace(/\/\/:[^@]*@/, '//'), admin: redis };
}

function redisConfig(url: string, overrides: Partial<RedisUplinkConfig> = {}): RedisUplinkConfig {
  return { url, username: null, password: null, tls: noTls, snapshotFile: null, ...overrides };
}

async function follow(config: RedisUplinkConfig, logger: Logger = capture().logger): Promise<BlocklistFollower> {
  const follower = await BlocklistFollower.start({ config, logger, onUpsert: () => undefined, onRemove: () => undefined, blockMs: 200, startTimeoutMs: 2000, retryDelayMs: 100 });
  cleanups.push(() => follower.stop());
  return follower;
}

const ids = (follower: BlocklistFollower): string[] => follower.decisions().map((d) => d.id).sort();

describe('blocklist follower with Redis credentials and TLS (real redis-server)', () => {
  it('requirepass: follows with the password; a wrong one is logged as refused and the snapshot file is enforced', async () => {
    const { url, admin } = await redisWith({ password: 'pw' }, { password: 'pw' });
    await upsert(admin, 'a', 1);
    const snapshotFile = join(dir, 'requirepass.snapshot');
    const follower = await follow(redisConfig(url, { password: 'pw', snapshotFile }));
    expect(ids(follower)).toEqual(['a']);
    await upsert(admin, 'b', 2);
    await until('live change', () => follower.version === 2);
    await follower.stop();

    const { logger, lines } = capture();
    const refused = await follow(redisConfig(url, { password: 'wrong', snapshotFile }), logger);
    expect(ids(refused)).toEqual(['a', 'b']); // the last blocklist, from the file
    expect(refused.stats).toMatchObject({ connected: false, fileLoads: 1 });
    await until('refusal logged', () => lines.some((l) => l.level === 'error' && /^Redis refused the uplink credentials/.test(l.msg)));
    expect(lines.find((l) => /^Redis refused/.test(l.msg))?.err).toMatch(/WRONGPASS/);
  });

  it('ACL user with read-only rights (the README ACL): follows; that user cannot write; a wrong password is refused', async () => {
    const { url, admin } = await redisWith({ users: [{ name: 'brain', password: 'bpw' }, { name: 'sensor', password: 'spw', rules: SENSOR_ACL }] }, { username: 'brain', password: 'bpw' });
    await upsert(admin, 'a', 1);
    const follower = await follow(redisConfig(url, { username: 'sensor', password: 'spw' }));
    expect(ids(follower)).toEqual(['a']);
    await upsert(admin, 'b', 2);
    await until('live change', () => follower.version === 2);
    expect(follower.stats.redisErrors).toBe(0);

    const sensorLogin = new Redis(url, { username: 'sensor', password: 'spw', maxRetriesPerRequest: 0 });
    cleanups.push(() => sensorLogin.disconnect());
    await expect(sensorLogin.hset(REDIS_KEYS.decisions, 'x', 'y')).rejects.toThrow(/NOPERM/);

    const { logger, lines } = capture();
    const refused = await follow(redisConfig(url, { username: 'sensor', password: 'brainpw' }), logger);
    expect(refused.stats.connected).toBe(false);
    await until('refusal logged', () => lines.some((l) => /^Redis refused the uplink credentials/.test(l.msg)));
  });

  it('mutual TLS with a password: follows over rediss://; a client trusting another CA fails, logged as TLS', async () => {
    const tlsFiles = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    const { url, admin } = await redisWith(
      { password: 'pw', tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verifyClients: true } },
      { password: 'pw', tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } },
    );
    expect(url.startsWith('rediss://')).toBe(true);
    await upsert(admin, 'a', 1);
    const follower = await follow(redisConfig(url, { password: 'pw', tls: tlsFiles }));
    expect(ids(follower)).toEqual(['a']);
    await upsert(admin, 'b', 2);
    await until('live change', () => follower.version === 2);

    const { logger, lines } = capture();
    const refused = await follow(redisConfig(url, { password: 'pw', tls: { ...tlsFiles, ca: certs.otherCa } }), logger);
    expect(refused.stats.connected).toBe(false);
    await until('TLS failure logged', () => lines.some((l) => l.level === 'error' && /^TLS with Redis failed/.test(l.msg)));
  });
});

describe('the whole uplink from sensor.yaml, over TLS with creds and an ACL user', () => {
  it('heartbeats reach JetStream and decisions come back from Redis', async () => {
    const creds = file('uplink.creds', operator.userCreds('sensor'));
    const nats = await natsWith({ operator, tls: { cert: certs.serverCert, key: certs.serverKey } }, { tls: { caFile: certs.ca }, authenticator: credsAuthenticator(new TextEncoder().encode(operator.userCreds('reader'))) });
    const { url: redisUrl, admin } = await redisWith(
      { users: [{ name: 'brain', password: 'bpw' }, { name: 'sensor', password: 'spw', rules: SENSOR_ACL }], tls: { cert: certs.serverCert, key: certs.serverKey } },
      { username: 'brain', password: 'bpw', tls: { ca: readFileSync(certs.ca) } },
    );
    await upsert(admin, 'peer-1', 9);
    mkdirSync(join(dir, 'uplink'), { recursive: true });
    const yaml = [
      `site: ${SITE}`,
      `gateway: ${GATEWAY}`,
      'storefile: null',
      'uplink:',
      '  nats:',
      `    servers: [${nats.url}]`,
      `    credsFile: ${creds}`,
      `    tls: { ca: ${certs.ca} }`,
      '    heartbeatSeconds: 1',
      '  redis:',
      `    url: ${redisUrl}`,
      '    username: sensor',
      '    password: spw',
      `    tls: { ca: ${certs.ca} }`,
      `    snapshotFile: ${join(dir, 'uplink', 'blocklist.snapshot')}`,
    ].join('\n');
    const config = loadSensorConfig(file('sensor.yaml', `${yaml}\n`), {});
    const upserts: string[] = [];
    const { logger, lines } = capture();
    const uplink = await Uplink.start(config, { logger, identity: { queue: 0, instance: 'yaml' }, onUpsert: (d) => upserts.push(d.id), onRemove: () => undefined, stats: () => ({ queues: [], packets: 0, dropped: 0, flows: 0, peers: 0, clients: 0 }) });
    cleanups.push(() => uplink?.stop(0));
    expect(upserts).toEqual(['peer-1']);
    await until('heartbeat stored', async () => (await storedBatches(nats.jsm)) > 0, 5000);
    await upsert(admin, 'peer-2', 10);
    await until('decision followed', () => upserts.includes('peer-2'));
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('the config loader names the key of every unusable security setting', () => {
    const problems = (yaml: string): string[] => {
      try {
        loadSensorConfig(file('bad.yaml', `site: a\ngateway: g\n${yaml}`), {});
        return [];
      } catch (error) {
        if (error instanceof ConfigError) return [...error.problems];
        throw error;
      }
    };
    const notCreds = file('not.creds', 'hello\n');
    expect(problems(`uplink:\n  nats:\n    servers: [tls://127.0.0.1:4222]\n    user: u\n    password: p\n    token: t\n    tls: { cert: ${certs.clientCert} }\n`)).toEqual([
      'uplink.nats.token: cannot be combined with uplink.nats.user; choose one of user/password, token and credsFile',
      'uplink.nats.tls.key: cert and key go together',
    ]);
    expect(problems(`uplink:\n  nats:\n    servers: [nats://127.0.0.1:4222]\n    credsFile: ${notCreds}\n    tls: { ca: ${dir} }\n`)).toEqual([
      `uplink.nats.credsFile: ${notCreds} is not a PEM NATS credentials file (JWT and nkey seed)`,
      `uplink.nats.tls.ca: cannot read ${dir} (EISDIR)`,
    ]);
    expect(problems(`uplink:\n  redis:\n    url: rediss://127.0.0.1:6380\n    username: sensor\n    tls: { ca: ${certs.clientKey}, key: ${certs.ca}, cert: ${certs.clientCert} }\n`)).toEqual([
      'uplink.redis.password: required with uplink.redis.username (an ACL user logs in with a password)',
      `uplink.redis.tls.ca: ${certs.clientKey} is not a PEM certificate`,
      `uplink.redis.tls.key: ${certs.ca} is not a PEM private key`,
    ]);
  });
});
