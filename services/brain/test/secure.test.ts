import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { connectionFailure, REDIS_KEYS, SUBJECTS, type Logger } from '@p2pwall/common';
import { capturedLog, makeNatsOperator, makeTestCertificates, startNats, startRedis, type CapturedLine, type NatsOperator, type NatsSecurity, type RedisSecurity, type TestCertificates } from '@p2pwall/lab';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../src/config.js';
import { BrainService } from '../src/ingest/serve.js';
import { encodeBatch } from './support.js';

/**
 * `p2pwall-brain serve` against a nats-server and a redis-server that demand credentials and
 * TLS, configured through brain.yaml as an operator would: summaries in, decisions out. Wrong
 * credentials stop the start with an error that says so.
 */

/** The ACL the README recommends for the brain: the p2pwall keys, data and script commands only. */
const BRAIN_ACL = ['resetkeys', '~p2pwall:v1:*', 'resetchannels', '-@all', '+@read', '+@write', '+@scripting', '+@transaction', '+@connection', '+info'];

let certs: TestCertificates;
let operator: NatsOperator;
let dir: string;
beforeAll(async () => {
  certs = await makeTestCertificates();
  operator = makeNatsOperator();
  dir = mkdtempSync(join(tmpdir(), 'p2pwall-brain-secure-'));
});
afterAll(() => {
  certs?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

const capture = () => {
  const { logger, lines } = capturedLog('brain-test');
  return { log: logger, lines };
};

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let files = 0;
function file(text: string, name = `f${(files += 1)}`): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

interface Servers {
  natsUrl: string;
  redisUrl: string;
  /** The sensor's side: publishes summaries, logged in as the test says. */
  publisher: ConnectionOptions;
  /** An admin connection to read what the brain wrote. */
  admin: Redis;
}

async function servers(nats: NatsSecurity, redis: RedisSecurity, publisher: Partial<ConnectionOptions>, admin: RedisOptions): Promise<Servers> {
  const [natsServer, redisServer] = await Promise.all([startNats({ security: nats }), startRedis({ security: redis })]);
  cleanups.push(() => natsServer.cleanup(), () => redisServer.cleanup());
  const redisUrl = redisServer.url.replace(/\/\/:[^@]*@/, '//');
  const adminRedis = new Redis(redisUrl, { maxRetriesPerRequest: null, ...admin });
  adminRedis.on('error', () => undefined);
  cleanups.push(() => adminRedis.disconnect());
  return { natsUrl: natsServer.url, redisUrl, publisher: { servers: natsServer.url, ...publisher }, admin: adminRedis };
}

/** Starts a brain from brain.yaml text (the nats and redis sections; the rest stays default). */
async function serve(yaml: string, log: Logger = capture().log): Promise<BrainService> {
  // The HTTP API is not what this tests (test/api/ covers it).
  const config = loadBrainConfig(file(`${yaml}\nstream: { storage: memory }\nblocklist: { sweepSeconds: 1 }\napi: { enabled: false }\n`, `brain-${(files += 1)}.yaml`), {});
  const brain = new BrainService(config, log);
  cleanups.push(() => brain.stop());
  await brain.start();
  return brain;
}

/** A sensor's summary with a client and a peer: the brain must write both decisions. */
async function summaryBecomesDecisions(s: Servers): Promise<void> {
  const nc = await connect(s.publisher);
  cleanups.push(() => nc.close());
  await jetstream(nc).publish(SUBJECTS.summaries('site-a', 'gw1'), encodeBatch({ clients: [{ host: '192.168.1.5' }], peers: [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }] }), { msgID: 'secure:1' });
  await until('decisions in Redis', async () => (await s.admin.hlen(REDIS_KEYS.decisions)) === 2);
  expect((await s.admin.hkeys(REDIS_KEYS.decisions)).sort()).toEqual(['endpoint:198.51.100.9:1214', 'host:site-a:192.168.1.5']);
}

describe('p2pwall-brain serve with NATS and Redis credentials and TLS (real servers)', () => {
  it('NATS user/password and Redis requirepass', async () => {
    const s = await servers({ user: { name: 'brain', password: 'npw' } }, { password: 'rpw' }, { user: 'brain', pass: 'npw' }, { password: 'rpw' });
    await serve(`nats: { servers: [${s.natsUrl}], user: brain, password: npw }\nredis: { url: "${s.redisUrl}", password: rpw }`);
    await summaryBecomesDecisions(s);
  });

  it('NATS token and a Redis ACL user with only the rights the README lists', async () => {
    const s = await servers({ token: 'ntok' }, { users: [{ name: 'brain', password: 'bpw', rules: BRAIN_ACL }, { name: 'admin', password: 'apw' }] }, { token: 'ntok' }, { username: 'admin', password: 'apw' });
    await serve(`nats: { servers: [${s.natsUrl}], token: ntok }\nredis: { url: "${s.redisUrl}", username: brain, password: bpw }`);
    await summaryBecomesDecisions(s);
    expect(await s.admin.exists(REDIS_KEYS.epoch)).toBe(1);
  });

  it('NATS creds file over mutual TLS, and Redis over mutual TLS with an ACL user', async () => {
    const serverTls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verifyClients: true };
    const s = await servers(
      { operator, tls: serverTls },
      { users: [{ name: 'brain', password: 'bpw' }], tls: serverTls },
      { authenticator: credsAuthenticator(new TextEncoder().encode(operator.userCreds('sensor'))), tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } },
      { username: 'brain', password: 'bpw', tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } },
    );
    expect(s.natsUrl.startsWith('tls://') && s.redisUrl.startsWith('rediss://')).toBe(true);
    const creds = file(operator.userCreds('brain'), 'brain.creds');
    const tls = `{ enabled: true, ca: ${certs.ca}, cert: ${certs.clientCert}, key: ${certs.clientKey} }`;
    await serve(`nats: { servers: [${s.natsUrl}], creds: ${creds}, tls: ${tls} }\nredis: { url: "${s.redisUrl}", username: brain, password: bpw, tls: ${tls} }`);
    await summaryBecomesDecisions(s);
  });

  it('wrong credentials or an untrusted server certificate: start fails, and says why', async () => {
    const s = await servers({ user: { name: 'brain', password: 'npw' }, tls: { cert: certs.serverCert, key: certs.serverKey } }, { password: 'rpw' }, { user: 'brain', pass: 'npw', tls: { caFile: certs.ca } }, { password: 'rpw' });
    const good = { nats: `nats: { servers: [${s.natsUrl}], user: brain, password: npw, tls: { enabled: true, ca: ${certs.ca} } }`, redis: `redis: { url: "${s.redisUrl}", password: rpw }` };
    const attempt = async (yaml: string): Promise<{ error: unknown; lines: CapturedLine[] }> => {
      const { log, lines } = capture();
      const error = await serve(yaml, log).then(() => null, (e: unknown) => e);
      return { error, lines };
    };

    const natsPassword = await attempt(`${good.nats.replace('password: npw', 'password: nope')}\n${good.redis}`);
    expect(connectionFailure(natsPassword.error)).toBe('credentials');
    expect(String(natsPassword.error)).toMatch(/Authorization Violation/);

    const natsCa = await attempt(`${good.nats.replace(certs.ca, certs.otherCa)}\n${good.redis}`);
    expect(connectionFailure(natsCa.error)).toBe('tls');

    const redisPassword = await attempt(`${good.nats}\n${good.redis.replace('password: rpw', 'password: nope')}`);
    expect(redisPassword.error).not.toBeNull();
    expect(redisPassword.lines.some((l) => /WRONGPASS/.test(String(l['cause'] ?? '')))).toBe(true);

    // And with everything right, it serves.
    await serve(`${good.nats}\n${good.redis}`);
    await summaryBecomesDecisions(s);
  });
});
