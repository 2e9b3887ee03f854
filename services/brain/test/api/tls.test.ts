import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@p2pwall/common';
import { makeTestCertificates, startNats, startRedis, type NatsServer, type RedisServer, type TestCertificates } from '@p2pwall/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiTestConfig } from '../support.js';
import { loadBrainConfig, type BrainConfig } from '../../src/config.js';
import { BrainService } from '../../src/ingest/serve.js';
import { resolveToken } from '../../src/ctl/options.js';

/**
 * The API over HTTPS (api.tls, certificates made with openssl at test time), and the CLI's token
 * from a file or the environment instead of its command line.
 */

const log = createLogger({ name: 'tls-test', level: 'error' });
const READ = 'read-token-for-tls-tests-0001';
const CLI = fileURLToPath(new URL('../../dist/ctl/main.js', import.meta.url));

let nats: NatsServer;
let redisServer: RedisServer;
let certs: TestCertificates;
let brain: BrainService;
let port: number;

function brainConfig(): BrainConfig {
  const c = apiTestConfig({ nats: nats.url, redis: redisServer.url }, { read: [READ], admin: [] });
  c.api.tls = { cert: certs.serverCert, key: certs.serverKey };
  return c;
}

beforeAll(async () => {
  [nats, redisServer, certs] = await Promise.all([startNats(), startRedis(), makeTestCertificates()]);
  brain = new BrainService(brainConfig(), log);
  await brain.start();
  port = brain.apiPort() ?? 0;
}, 60_000);

afterAll(async () => {
  await brain?.stop();
  await nats?.cleanup();
  await redisServer?.cleanup();
  certs?.cleanup();
});

function httpsGet(path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: [ca], headers: { authorization: `Bearer ${READ}` } }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('P2PWALL_') && key !== 'NODE_EXTRA_CA_CERTS'));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

describe('API over HTTPS', () => {
  it('answers over TLS with the configured certificate; a client that does not trust its CA is refused', async () => {
    const ok = await httpsGet('/v1/sensors', readFileSync(certs.ca, 'utf8'));
    expect(ok.status).toBe(200);
    await expect(httpsGet('/v1/sensors', readFileSync(certs.otherCa, 'utf8'))).rejects.toThrow(/certificate/);
    // plain HTTP to the HTTPS port gets no answer
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  });

  it('the CLI reaches it over https, trusting the CA through NODE_EXTRA_CA_CERTS, with the token from a file', async () => {
    const tokenFile = join(certs.dir, 'token');
    writeFileSync(tokenFile, `# the read token\n\n${READ}\n`, { mode: 0o600 });
    const run = await cli(['sensors', '--json', '--url', `https://127.0.0.1:${port}`, '--token-file', tokenFile], { NODE_EXTRA_CA_CERTS: certs.ca });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ items: [] });
    const fromEnv = await cli(['sensors', '--json'], { NODE_EXTRA_CA_CERTS: certs.ca, P2PWALL_URL: `https://127.0.0.1:${port}`, P2PWALL_TOKEN_FILE: tokenFile });
    expect(fromEnv.code).toBe(0);
    const both = await cli(['sensors', '--url', `https://127.0.0.1:${port}`, '--token-file', tokenFile], { NODE_EXTRA_CA_CERTS: certs.ca, P2PWALL_TOKEN: READ });
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('not both');
    expect(both.stderr).not.toContain(READ);
  });
});

describe('the CLI token from a file', () => {
  const files: Record<string, string> = { '/t/ok': '# comment\n\n  abcdefghijklmnop  \nsecond\n', '/t/empty': '# nothing\n\n', '/t/spaced': 'abc def\n' };
  const read = (path: string): string => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return text;
  };

  it('takes the first line that is not blank or a comment; errors name the file and never the token', () => {
    expect(resolveToken({ tokenFile: '/t/ok' }, read)).toBe('abcdefghijklmnop');
    expect(resolveToken({ token: 'from-option' }, read)).toBe('from-option');
    expect(resolveToken({}, read)).toBeUndefined();
    expect(() => resolveToken({ tokenFile: '/t/missing' }, read)).toThrow('--token-file: cannot read /t/missing (no such file)');
    expect(() => resolveToken({ tokenFile: '/t/empty' }, read)).toThrow('holds no token');
    expect(() => resolveToken({ tokenFile: '/t/spaced' }, read)).toThrow(/white space$/);
    expect(() => resolveToken({ tokenFile: '/t/ok', token: 'x' }, read)).toThrow('not both');
  });
});

describe('api.tls in brain.yaml', () => {
  it('cert without key, or a file that is not PEM, is refused at load with the key named', () => {
    const yaml = (name: string, text: string): string => {
      const path = join(certs.dir, name);
      writeFileSync(path, text);
      return path;
    };
    expect(() => loadBrainConfig(yaml('a.yaml', `api:\n  tls:\n    cert: ${certs.serverCert}\n`), {})).toThrow(/api\.tls\.key: cert and key go together/);
    expect(() => loadBrainConfig(yaml('b.yaml', `api:\n  tls:\n    cert: ${certs.serverCert}\n    key: ${certs.ca}\n`), {})).toThrow(/api\.tls\.key: .* is not a PEM private key/);
    expect(loadBrainConfig(yaml('c.yaml', `api:\n  tls:\n    cert: ${certs.serverCert}\n    key: ${certs.serverKey}\n`), {}).api.tls.key).toBe(certs.serverKey);
  });
});
