import { readFileSync } from 'node:fs';

/**
 * How the sensor and the brain log in to NATS and Redis and set up TLS, written once: the checks
 * their config loaders run (each problem names its key), the settings a checked config turns
 * into, and what a failed connection most likely means.
 *
 * Free of the client libraries on purpose: the settings are plain values that nats.js and
 * ioredis options take as they are (only a creds file's bytes still go through nats.js's
 * credsAuthenticator), so @p2pwall/common depends on neither client.
 */

export interface TlsFiles {
  /** PEM CA file that signed the server's certificate (null: the system CAs). */
  ca: string | null;
  /** PEM client certificate (mutual TLS), with key. */
  cert: string | null;
  key: string | null;
}

export interface NatsConnectionConfig {
  servers: string[];
  user: string | null;
  password: string | null;
  token: string | null;
  credsFile: string | null;
  tls: TlsFiles;
  /**
   * TLS even without files of ours (the system CAs then judge the server). Files imply it;
   * false with files set is a contradiction the checks report. Absent: files decide.
   */
  tlsEnabled?: boolean;
}

export interface RedisConnectionConfig {
  url: string;
  username: string | null;
  password: string | null;
  tls: TlsFiles & { rejectUnauthorized?: boolean };
  /** As for NATS; a rediss:// URL implies it too. */
  tlsEnabled?: boolean;
}

/** The config keys' names where a service spells them its own way. */
export interface NatsKeyNames {
  /** e.g. `uplink.nats` or `nats`. */
  section: string;
  /** Key of the creds file (default `credsFile`). */
  credsFile?: string;
}

type FileKind = 'certificate' | 'private key' | 'NATS credentials';

const FILE_SHAPES: Record<FileKind, RegExp[]> = {
  certificate: [/-----BEGIN CERTIFICATE-----/],
  'private key': [/-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  'NATS credentials': [/-----BEGIN NATS USER JWT-----/, /-----BEGIN USER NKEY SEED-----/],
};

/** null when the file is readable and looks like what the key asks for; else the problem. */
function fileProblem(key: string, path: string, kind: FileKind): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${key}: file not found: ${path}` : `${key}: cannot read ${path} (${code ?? String(error)})`;
  }
  return FILE_SHAPES[kind].every((shape) => shape.test(text)) ? null : `${key}: ${path} is not a PEM ${kind === 'NATS credentials' ? 'NATS credentials file (JWT and nkey seed)' : kind}`;
}

function tlsFilesSet(tls: TlsFiles): (keyof TlsFiles)[] {
  return (['ca', 'cert', 'key'] as const).filter((name) => tls[name] !== null);
}

function tlsProblems(section: string, tls: TlsFiles, tlsEnabled: boolean | undefined, tlsByUrl: boolean): string[] {
  const problems: string[] = [];
  const kinds: Record<keyof TlsFiles, FileKind> = { ca: 'certificate', cert: 'certificate', key: 'private key' };
  for (const name of tlsFilesSet(tls)) {
    const problem = fileProblem(`${section}.tls.${name}`, tls[name]!, kinds[name]);
    if (problem) problems.push(problem);
  }
  if ((tls.cert === null) !== (tls.key === null)) problems.push(`${section}.tls.${tls.cert === null ? 'cert' : 'key'}: cert and key go together`);
  const set = tlsFilesSet(tls);
  if (tlsEnabled === false && !tlsByUrl && set.length > 0) problems.push(`${section}.tls.enabled: false, but ${section}.tls.${set[0]} is set: enable TLS or remove the files`);
  return problems;
}

/** Problems of a server's own TLS files (an HTTPS listener): cert and key together, each a readable PEM file. */
export function serverTlsProblems(section: string, tls: { cert: string | null; key: string | null }): string[] {
  const problems: string[] = [];
  if (tls.cert !== null) problems.push(...[fileProblem(`${section}.tls.cert`, tls.cert, 'certificate')].filter((p): p is string => p !== null));
  if (tls.key !== null) problems.push(...[fileProblem(`${section}.tls.key`, tls.key, 'private key')].filter((p): p is string => p !== null));
  if ((tls.cert === null) !== (tls.key === null)) problems.push(`${section}.tls.${tls.cert === null ? 'cert' : 'key'}: cert and key go together`);
  return problems;
}

function withScheme(url: string, scheme: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `${scheme}://${url}`;
}

export function natsConnectionProblems(config: NatsConnectionConfig, names: NatsKeyNames): string[] {
  const { section } = names;
  const credsKey = names.credsFile ?? 'credsFile';
  const problems: string[] = [];
  let tlsByUrl = false;
  config.servers.forEach((server, index) => {
    let url: URL | null = null;
    try {
      url = new URL(withScheme(server, 'nats'));
    } catch {
      problems.push(`${section}.servers[${index}]: "${server}" is not a URL (nats://host:port)`);
    }
    if (url && !['nats:', 'tls:'].includes(url.protocol)) problems.push(`${section}.servers[${index}]: "${server}" must use nats:// or tls://`);
    else if (url && url.hostname === '') problems.push(`${section}.servers[${index}]: "${server}" names no host`);
    if (url?.protocol === 'tls:') tlsByUrl = true;
  });
  if ((config.user === null) !== (config.password === null)) problems.push(`${section}.${config.user === null ? 'user' : 'password'}: user and password go together`);
  const methods = [config.user !== null ? 'user' : null, config.token !== null ? 'token' : null, config.credsFile !== null ? credsKey : null].filter((name) => name !== null);
  if (methods.length > 1) problems.push(`${section}.${methods[1]}: cannot be combined with ${section}.${methods[0]}; choose one of user/password, token and ${credsKey}`);
  if (config.credsFile !== null) {
    const problem = fileProblem(`${section}.${credsKey}`, config.credsFile, 'NATS credentials');
    if (problem) problems.push(problem);
  }
  problems.push(...tlsProblems(section, config.tls, config.tlsEnabled, tlsByUrl));
  return problems;
}

export function redisConnectionProblems(config: RedisConnectionConfig, section: string): string[] {
  const problems: string[] = [];
  let url: URL | null = null;
  try {
    url = new URL(config.url);
  } catch {
    problems.push(`${section}.url: "${config.url}" is not a URL (redis://host:port)`);
  }
  if (url && !['redis:', 'rediss:'].includes(url.protocol)) problems.push(`${section}.url: "${config.url}" must use redis:// or rediss://`);
  else if (url && url.hostname === '') problems.push(`${section}.url: "${config.url}" names no host`);
  if (config.username !== null && config.password === null) problems.push(`${section}.password: required with ${section}.username (an ACL user logs in with a password)`);
  problems.push(...tlsProblems(section, config.tls, config.tlsEnabled, url?.protocol === 'rediss:'));
  return problems;
}

/** What nats.js ConnectionOptions take for login and TLS; `creds` goes to credsAuthenticator. */
export interface NatsSecuritySettings {
  user?: string;
  pass?: string;
  token?: string;
  creds?: Uint8Array;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** Reads the creds file; throws an Error naming the file when it cannot (checked at load, gone since). */
export function natsSecuritySettings(config: NatsConnectionConfig): NatsSecuritySettings {
  const settings: NatsSecuritySettings = {};
  if (config.user !== null) settings.user = config.user;
  if (config.password !== null) settings.pass = config.password;
  if (config.token !== null) settings.token = config.token;
  if (config.credsFile !== null) settings.creds = readSecret(config.credsFile, 'NATS credentials file');
  const { ca, cert, key } = config.tls;
  if (config.tlsEnabled || tlsFilesSet(config.tls).length > 0) {
    settings.tls = { ...(ca !== null ? { caFile: ca } : {}), ...(cert !== null ? { certFile: cert } : {}), ...(key !== null ? { keyFile: key } : {}) };
  }
  return settings;
}

/** What ioredis RedisOptions take for login and TLS (node's tls.connect options). */
export interface RedisSecuritySettings {
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
}

/** Reads the TLS files; throws an Error naming a file it cannot read. */
export function redisSecuritySettings(config: RedisConnectionConfig): RedisSecuritySettings {
  const settings: RedisSecuritySettings = {};
  if (config.username !== null) settings.username = config.username;
  if (config.password !== null) settings.password = config.password;
  const { ca, cert, key, rejectUnauthorized } = config.tls;
  if (config.tlsEnabled || config.url.startsWith('rediss:') || tlsFilesSet(config.tls).length > 0) {
    settings.tls = {
      ...(ca !== null ? { ca: readSecret(ca, 'Redis TLS CA file') } : {}),
      ...(cert !== null ? { cert: readSecret(cert, 'Redis TLS certificate file') } : {}),
      ...(key !== null ? { key: readSecret(key, 'Redis TLS key file') } : {}),
      ...(rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
  }
  return settings;
}

/** A file the checked config named can no longer be read (removed or made unreadable since). */
export class ConnectionFileError extends Error {
  override readonly name = 'ConnectionFileError';
}

function readSecret(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConnectionFileError(`cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

/**
 * What a failed connection or command most likely means, from the error nats.js, ioredis or
 * node's TLS gave: `file` (a creds or TLS file is unreadable), `credentials` (refused login),
 * `permission` (logged in, but the NATS permissions or Redis ACL forbid this), `tls` (the
 * certificate did not verify, or the handshake failed), else `unreachable`.
 */
export type ConnectionFailure = 'file' | 'credentials' | 'permission' | 'tls' | 'unreachable';

export function connectionFailure(error: unknown): ConnectionFailure {
  if (error instanceof ConnectionFileError) return 'file';
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (name === 'AuthorizationError' || /authorization violation|authentication (expired|timeout|required)|WRONGPASS|NOAUTH|invalid username-password/i.test(message)) return 'credentials';
  if (name === 'PermissionViolationError' || /NOPERM|permissions violation/i.test(message)) return 'permission';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code) || /certificate|ssl|tls/i.test(message)) return 'tls';
  return 'unreachable';
}
