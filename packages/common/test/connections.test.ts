import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectionFailure, natsConnectionProblems, natsSecuritySettings, redisConnectionProblems, redisSecuritySettings, type NatsConnectionConfig, type RedisConnectionConfig } from '../src/connections.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-connections-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const CERT = file('cert.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const KEY = file('key.pem', '-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n');
const CREDS = file('u.creds', '-----BEGIN NATS USER JWT-----\neyJ0\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUAM\n------END USER NKEY SEED------\n');
const noTls = { ca: null, cert: null, key: null };

const nats = (overrides: Partial<NatsConnectionConfig> = {}): NatsConnectionConfig => ({ servers: ['nats://n:4222'], user: null, password: null, token: null, credsFile: null, tls: noTls, ...overrides });
const redis = (overrides: Partial<RedisConnectionConfig> = {}): RedisConnectionConfig => ({ url: 'redis://r:6379', username: null, password: null, tls: noTls, ...overrides });

describe('NATS and Redis connection settings', () => {
  it('a sound config has no problems; host:port alone is read as nats://', () => {
    expect(natsConnectionProblems(nats({ servers: ['n:4222', 'tls://n2:4222'], credsFile: CREDS, tls: { ca: CERT, cert: CERT, key: KEY } }), { section: 'nats' })).toEqual([]);
    expect(redisConnectionProblems(redis({ url: 'rediss://r:6380/1', username: 'u', password: 'p', tls: { ca: CERT, cert: CERT, key: KEY } }), 'redis')).toEqual([]);
  });

  it('one login method at a time, each problem naming its key as the service spells it', () => {
    expect(natsConnectionProblems(nats({ token: 't', credsFile: CREDS }), { section: 'nats', credsFile: 'creds' })).toEqual(['nats.creds: cannot be combined with nats.token; choose one of user/password, token and creds']);
    expect(natsConnectionProblems(nats({ credsFile: KEY }), { section: 'uplink.nats' })).toEqual([`uplink.nats.credsFile: ${KEY} is not a PEM NATS credentials file (JWT and nkey seed)`]);
  });

  it('NATS settings: login, the creds bytes, and TLS only when asked for', () => {
    expect(natsSecuritySettings(nats({ user: 'u', password: 'p' }))).toEqual({ user: 'u', pass: 'p' });
    expect(natsSecuritySettings(nats({ token: 't' }))).toEqual({ token: 't' });
    expect(Buffer.from(natsSecuritySettings(nats({ credsFile: CREDS })).creds!).toString()).toContain('BEGIN NATS USER JWT');
    expect(natsSecuritySettings(nats({ tls: { ca: CERT, cert: null, key: null } }))).toEqual({ tls: { caFile: CERT } });
    expect(natsSecuritySettings(nats({ tlsEnabled: true }))).toEqual({ tls: {} });
    expect(() => natsSecuritySettings(nats({ credsFile: join(dir, 'gone.creds') }))).toThrow(/cannot read the NATS credentials file .*gone\.creds: ENOENT/);
  });

  it('Redis settings: ACL login, TLS from rediss:// or files, PEM contents read', () => {
    expect(redisSecuritySettings(redis({ username: 'u', password: 'p' }))).toEqual({ username: 'u', password: 'p' });
    expect(redisSecuritySettings(redis({ url: 'rediss://r:6380' }))).toEqual({ tls: {} });
    const withFiles = redisSecuritySettings(redis({ tls: { ca: CERT, cert: CERT, key: KEY, rejectUnauthorized: false } }));
    expect(withFiles.tls?.key?.toString()).toContain('PRIVATE KEY');
    expect(withFiles.tls?.rejectUnauthorized).toBe(false);
    expect(redisSecuritySettings(redis({ tlsEnabled: true, tls: { ...noTls, rejectUnauthorized: true } }))).toEqual({ tls: {} });
  });

  it('tells refused credentials, missing permissions and TLS failures from an unreachable server', () => {
    const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });
    expect(connectionFailure(named('AuthorizationError', 'Authorization Violation'))).toBe('credentials');
    expect(connectionFailure(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toBe('credentials');
    expect(connectionFailure(new Error('NOAUTH Authentication required.'))).toBe('credentials');
    expect(connectionFailure(new Error("NOPERM this user has no permissions to run the 'hset' command"))).toBe('permission');
    expect(connectionFailure(named('PermissionViolationError', 'Permissions Violation for Publish to "x"'))).toBe('permission');
    expect(connectionFailure(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))).toBe('tls');
    expect(connectionFailure(Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }))).toBe('tls');
    expect(connectionFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('unreachable');
    expect(connectionFailure('something else')).toBe('unreachable');
    let gone: unknown;
    try {
      natsSecuritySettings(nats({ credsFile: join(dir, 'gone.creds') }));
    } catch (error) {
      gone = error;
    }
    expect(connectionFailure(gone)).toBe('file');
  });
});
