import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, listenHostProblem, loadConfig, redactSecrets, redactUrlPasswords, type ConfigSchema } from '../src/config.js';

/** Configuration loading under hostile or careless input: YAML bombs, secrets in messages, listen hosts. */

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-config-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(text: string): string {
  const path = join(dir, `c${(files += 1)}.yaml`);
  writeFileSync(path, text);
  return path;
}

const schema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    redis: { type: 'object', additionalProperties: false, default: {}, properties: { url: { type: 'string', default: 'redis://127.0.0.1:6379' }, password: { type: ['string', 'null'], default: null } } },
    nats: { type: 'object', additionalProperties: false, default: {}, properties: { token: { type: ['string', 'null'], default: null }, servers: { type: 'array', items: { type: 'string' }, default: [] }, port: { type: 'integer', default: 4222 } } },
    list: { type: 'array', default: [] },
  },
};

function problems(path: string, check?: (config: unknown) => string[]): string {
  try {
    loadConfig({ path, schema, envPrefix: 'P2PWALL_TEST_', env: {}, ...(check ? { check } : {}) });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('the configuration was accepted');
}

describe('YAML bombs', () => {
  it('a "billion laughs" file gets a ConfigError that says why, at once', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const previous = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    const start = performance.now();
    const message = problems(file(`list:\n  - ${levels.join('\n  - ')}\n`));
    expect(performance.now() - start).toBeLessThan(2000);
    expect(message).toMatch(/aliases expand too far/);
  });

  it('a few aliases are fine, within the bound of values', () => {
    const config = loadConfig<{ list: unknown[] }>({ path: file('list:\n  - &x [1, 2]\n  - *x\n  - *x\n'), schema, envPrefix: 'P2PWALL_TEST_', env: {} });
    expect(config.list).toEqual([[1, 2], [1, 2], [1, 2]]);
  });

  it('a file past the size bound is refused before it is parsed', () => {
    expect(problems(file(`list: [${'1,'.repeat(600_000)}1]\n`))).toMatch(/larger than 1048576 characters/);
  });
});

describe('secrets in messages', () => {
  it('a wrong-typed secret is not echoed; a URL with a password is shown without it', () => {
    const message = problems(file('redis:\n  url: 5\n  password: [hunter2-secret]\nnats:\n  token: {value: tok-secret-123}\n  servers: ["nats://alice:nats-secret@10.0.0.1:4222", 7]\n'));
    expect(message).toContain('redis.password: must be string,null');
    expect(message).toContain('nats.token: must be string,null');
    expect(message).not.toMatch(/hunter2-secret|tok-secret-123|nats-secret/);
    const fromCheck = problems(file('redis:\n  url: redis://bob:redis-secret@db:6379\n'), (c) => [`redis.url: cannot use ${(c as { redis: { url: string } }).redis.url}`]);
    expect(fromCheck).toBe(`${join(dir, `c${files}.yaml`)}: redis.url: cannot use redis://bob:(redacted)@db:6379`);
  });

  it('redactSecrets hides secret keys and URL passwords anywhere in a configuration, and says whether one is set', () => {
    expect(redactSecrets({ uplink: { redis: { url: 'rediss://u:p4ss@h:6380/0', password: 'pw', username: 'u' }, nats: { servers: ['nats://t0k@h', 'tls://a:b@h:4222'], token: null, user: 'x' } }, api: { tokens: { read: ['r'], admin: [] } } })).toEqual({
      uplink: { redis: { url: 'rediss://u:(redacted)@h:6380/0', password: '(redacted)', username: 'u' }, nats: { servers: ['nats://t0k@h', 'tls://a:(redacted)@h:4222'], token: null, user: 'x' } },
      api: { tokens: { read: '(redacted)', admin: '(redacted)' } },
    });
    expect(redactUrlPasswords('see redis://:only-pass@h:1 and http://plain/x')).toBe('see redis://:(redacted)@h:1 and http://plain/x');
  });
});

describe('listen hosts', () => {
  it('takes IP addresses and host names, and refuses anything else naming the key', () => {
    for (const ok of ['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'brain.example.org']) expect(listenHostProblem('api.listen.host', ok)).toBeNull();
    for (const bad of ['', 'http://0.0.0.0', '0.0.0.0:8080', 'a b', 'host_name', '-x', 'x'.repeat(300)]) expect(listenHostProblem('api.listen.host', bad)).toMatch(/^api\.listen\.host: ".*" is not an IP address or a host name$/);
  });
});
