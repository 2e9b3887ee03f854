import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiConfigError, authenticate, loadTokens, permits, type ApiTokenConfig } from '../../src/api/auth.js';
import { parseTokenFile } from '../../src/token-file.js';

const READ = 'read-token-0123456789';
const ADMIN = 'admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'p2pwall-api-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (over: Partial<ApiTokenConfig['tokens']> = {}, files: Partial<ApiTokenConfig['tokenFiles']> = {}): ApiTokenConfig => ({
  tokens: { read: [], admin: [], ...over },
  tokenFiles: { read: null, admin: null, ...files },
});

describe('API tokens', () => {
  it('token files: one token a line, blank lines and # comments skipped', () => {
    expect(parseTokenFile('# operators\n\n  tok-aaaaaaaaaaaaaaaa  \r\n#old: tok-x\ntok-bbbbbbbbbbbbbbbb\n')).toEqual(['tok-aaaaaaaaaaaaaaaa', 'tok-bbbbbbbbbbbbbbbb']);
  });

  it('roles: admin tokens can also read, read tokens cannot change anything, anything else is refused', () => {
    const path = join(dir, 'admin.tokens');
    writeFileSync(path, `# mounted secret\n${ADMIN}\n`);
    const tokens = loadTokens(config({ read: [READ] }, { admin: path }));
    expect(authenticate(tokens, `Bearer ${READ}`)).toMatchObject({ role: 'read' });
    expect(authenticate(tokens, `bearer  ${ADMIN} `)).toMatchObject({ role: 'admin' });
    expect(authenticate(tokens, undefined)).toEqual({ error: 'missing' });
    expect(authenticate(tokens, '')).toEqual({ error: 'missing' });
    expect(authenticate(tokens, `Basic ${READ}`)).toEqual({ error: 'malformed' });
    expect(authenticate(tokens, `Bearer ${READ} extra`)).toEqual({ error: 'malformed' });
    expect(authenticate(tokens, `Bearer ${READ}x`)).toEqual({ error: 'unknown' });
    expect(authenticate(tokens, `Bearer ${READ.slice(0, -1)}`)).toEqual({ error: 'unknown' });
    expect(authenticate(tokens, 'Bearer #')).toEqual({ error: 'unknown' });
    expect(permits('admin', 'admin')).toBe(true);
    expect(permits('admin', 'read')).toBe(true);
    expect(permits('read', 'read')).toBe(true);
    expect(permits('read', 'admin')).toBe(false);
  });

  it('never runs open: no token at all, an unreadable file or a weak token is a startup error naming the key', () => {
    expect(() => loadTokens(config())).toThrow(ApiConfigError);
    expect(() => loadTokens(config())).toThrow(/no token configured.*api\.enabled: false/);
    const empty = join(dir, 'empty.tokens');
    writeFileSync(empty, '# nothing yet\n\n');
    expect(() => loadTokens(config({}, { read: empty }))).toThrow(/no token configured/);
    expect(() => loadTokens(config({ admin: [ADMIN] }, { read: join(dir, 'missing') }))).toThrow(/^api\.tokenFiles\.read: cannot read token file .*missing \(ENOENT\)$/);
    expect(() => loadTokens(config({ read: ['short'] }))).toThrow(/^api\.tokens\.read\[0\]: a token must have at least 16 characters$/);
    expect(() => loadTokens(config({ admin: [ADMIN, 'with space in it 0123'] }))).toThrow(/^api\.tokens\.admin\[1\]: a token must not contain white space$/);
    const weak = join(dir, 'weak.tokens');
    writeFileSync(weak, `${ADMIN}\nshort\n`);
    expect(() => loadTokens(config({}, { admin: weak }))).toThrow(/^api\.tokenFiles\.admin \(.*weak\.tokens, token 2\): a token must have at least 16 characters$/);
  });
});
