import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseTokenFile } from '../token-file.js';

/**
 * Bearer tokens of the HTTP API: read tokens may query, admin tokens may also change the blocklist
 * and the allowlist. Tokens come from brain.yaml (`api.tokens`) and from files (`api.tokenFiles`,
 * one token a line, blank lines and `#` comments ignored), so a secret can be mounted as a file.
 */

export type Role = 'read' | 'admin';

/** The API cannot start with this configuration; the message names the key. */
export class ApiConfigError extends Error {}

export interface ApiTokenConfig {
  tokens: { read: string[]; admin: string[] };
  tokenFiles: { read: string | null; admin: string | null };
}

/** SHA-256 digests of the tokens: every comparison then takes the same time whatever the lengths. */
export interface TokenSet {
  read: Buffer[];
  admin: Buffer[];
}

export const MIN_TOKEN_LENGTH = 16;

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();


function checkToken(token: string, key: string): void {
  if (token.length < MIN_TOKEN_LENGTH) throw new ApiConfigError(`${key}: a token must have at least ${MIN_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) throw new ApiConfigError(`${key}: a token must not contain white space`);
}

function fileTokens(path: string | null, key: string, readFile: (path: string) => string): string[] {
  if (path === null) return [];
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ApiConfigError(`${key}: cannot read token file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const tokens = parseTokenFile(text);
  tokens.forEach((token, i) => checkToken(token, `${key} (${path}, token ${i + 1})`));
  return tokens;
}

/**
 * Reads and checks every configured token. Throws ApiConfigError for an unreadable token file, a
 * weak token, or no token at all: the API never runs open.
 */
export function loadTokens(config: ApiTokenConfig, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): TokenSet {
  const set: TokenSet = { read: [], admin: [] };
  for (const role of ['read', 'admin'] as const) {
    config.tokens[role].forEach((token, i) => checkToken(token, `api.tokens.${role}[${i}]`));
    const all = [...config.tokens[role], ...fileTokens(config.tokenFiles[role], `api.tokenFiles.${role}`, readFile)];
    set[role] = all.map(digest);
  }
  if (set.read.length === 0 && set.admin.length === 0) {
    throw new ApiConfigError('api: no token configured (api.tokens.read, api.tokens.admin, api.tokenFiles.read, api.tokenFiles.admin); the API never runs without authentication — set api.enabled: false to run the brain without it');
  }
  return set;
}

/** Whether `candidate` is among `digests`; looks at every digest, so the time does not tell which matched. */
function matchesAny(candidate: Buffer, digests: readonly Buffer[]): boolean {
  let found = false;
  for (const d of digests) found = timingSafeEqual(candidate, d) || found;
  return found;
}

/** `key`: the token's digest (hex), which names it for rate limits without keeping the token itself. */
export type Authentication = { role: Role; key: string } | { error: 'missing' | 'malformed' | 'unknown' };

/** The role an `Authorization` header grants. */
export function authenticate(tokens: TokenSet, header: string | undefined): Authentication {
  if (header === undefined || header === '') return { error: 'missing' };
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) return { error: 'malformed' };
  const candidate = digest(match[1]!);
  const admin = matchesAny(candidate, tokens.admin);
  const read = matchesAny(candidate, tokens.read);
  if (admin) return { role: 'admin', key: candidate.toString('hex') };
  if (read) return { role: 'read', key: candidate.toString('hex') };
  return { error: 'unknown' };
}

/** Whether a role may use a route that needs `needed`: admin tokens can also read. */
export function permits(role: Role, needed: Role): boolean {
  return needed === 'read' || role === 'admin';
}
