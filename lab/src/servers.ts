import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real servers for tests and benchmarks, each on a free port of its own, never the standard
 * ones: `nats-server -p -1 -js` (it picks the port and writes it to a ports file, so there is no
 * race) and `redis-server --port <free>`. Debian packages nats-server and redis-server.
 *
 * Either can demand credentials and TLS (`security`), as a production server would: NATS with
 * user/password, a token or decentralized JWT auth (operator + accounts, clients with .creds
 * files), Redis with requirepass and ACL users; both with a TLS server certificate and, if
 * asked, verified client certificates (see certs.ts for throwaway ones).
 */

export class ServerStartError extends Error {}

/**
 * Where a server runs: by default in the caller's namespace on 127.0.0.1; with `namespace`, inside
 * that network namespace (`ip netns exec`), bound to `host` (e.g. the lab internet's bridge
 * address 198.18.0.254, which every gateway reaches over its WAN).
 */
export interface ServerPlacement {
  namespace?: string;
  host?: string;
}

function placed(placement: ServerPlacement, cmd: string, args: string[]): [string, string[]] {
  return placement.namespace ? ['ip', ['netns', 'exec', placement.namespace, cmd, ...args]] : [cmd, args];
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new ServerStartError(`${what} did not come up within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** A server certificate (PEM files); with verifyClients, clients need a certificate signed by ca. */
export interface ServerTls {
  cert: string;
  key: string;
  ca?: string;
  verifyClients?: boolean;
}

/** A NATS user of a `users` list; permissions absent: it may publish and subscribe to anything. */
export interface NatsUser {
  name: string;
  password: string;
  permissions?: { publish: string[]; subscribe: string[] };
}

export interface NatsSecurity {
  /** Every client must log in as this user. */
  user?: { name: string; password: string };
  /** Every client must log in as one of these users, each with its own permissions. */
  users?: NatsUser[];
  token?: string;
  /** Decentralized auth: trust this operator (nats-jwt.ts); clients log in with .creds files. */
  operator?: { jwt: string; systemAccount: string; accounts: Record<string, string> };
  tls?: ServerTls;
}

/** nats-server's configuration file for `security` (its strings are JSON-quoted, which it reads). */
export function natsSecurityConfig(security: NatsSecurity): string {
  const q = (value: string): string => JSON.stringify(value);
  const lines: string[] = [];
  if (security.user) lines.push(`authorization { user: ${q(security.user.name)}, password: ${q(security.user.password)} }`);
  if (security.users) {
    const allow = (subjects: string[]) => `{ allow: [${subjects.map(q).join(', ')}] }`;
    const user = ({ name, password, permissions }: NatsUser) => `{ user: ${q(name)}, password: ${q(password)}${permissions ? `, permissions: { publish: ${allow(permissions.publish)}, subscribe: ${allow(permissions.subscribe)} }` : ''} }`;
    lines.push(`authorization { users: [\n  ${security.users.map(user).join(',\n  ')}\n] }`);
  }
  if (security.token) lines.push(`authorization { token: ${q(security.token)} }`);
  if (security.operator) {
    const { jwt, systemAccount, accounts } = security.operator;
    lines.push(`operator: ${q(jwt)}`, `system_account: ${systemAccount}`, 'resolver: MEMORY', 'resolver_preload: {');
    for (const [account, accountJwt] of Object.entries(accounts)) lines.push(`  ${account}: ${q(accountJwt)}`);
    lines.push('}');
  }
  const tls = security.tls;
  if (tls) {
    const files = [`cert_file: ${q(tls.cert)}`, `key_file: ${q(tls.key)}`, ...(tls.ca ? [`ca_file: ${q(tls.ca)}`] : [])];
    lines.push(`tls { ${files.join(', ')}, verify: ${tls.verifyClients ? 'true' : 'false'}, timeout: 5 }`);
  }
  return `${lines.join('\n')}\n`;
}

export interface NatsServer {
  /** nats://host:port, or tls://host:port when the server demands TLS. */
  url: string;
  port: number;
  /** Stops the server (its JetStream store survives in storeDir until cleanup). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store (a NATS outage in tests). */
  restart(): Promise<void>;
  /** Stops it and removes its store. */
  cleanup(): Promise<void>;
}

/** nats-server with JetStream, on a free port chosen by the server itself. */
export async function startNats(options: { args?: string[]; security?: NatsSecurity } & ServerPlacement = {}): Promise<NatsServer> {
  const host = options.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'p2pwall-nats-'));
  const storeDir = join(dir, 'store');
  const portsDir = join(dir, 'ports');
  const configArgs: string[] = [];
  if (options.security) {
    const configFile = join(dir, 'nats.conf');
    writeFileSync(configFile, natsSecurityConfig(options.security), { mode: 0o600 });
    configArgs.push('-c', configFile);
  }
  let child: ChildProcess;
  let port = -1;
  let stderr = '';

  const launch = async (portArg: string): Promise<void> => {
    rmSync(portsDir, { recursive: true, force: true });
    mkdirSync(portsDir);
    const [cmd, args] = placed(options, 'nats-server', [...configArgs, '-a', host, '-p', portArg, '-js', '-sd', storeDir, '--ports_file_dir', portsDir, ...(options.args ?? [])]);
    child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => child.once('error', (error) => reject(new ServerStartError(`cannot start nats-server (${error.message}); install it: apt-get install nats-server`))));
    const ready = waitFor('nats-server', 10_000, () => {
      if (child.exitCode !== null) throw new ServerStartError(`nats-server exited: ${stderr.trim()}`);
      if (!existsSync(portsDir)) return undefined;
      const file = readdirSync(portsDir).find((name) => name.endsWith('.ports'));
      if (!file) return undefined;
      const ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats?: string[] };
      const url = ports.nats?.[0];
      return url ? Number(new URL(url).port) : undefined;
    });
    try {
      port = await Promise.race([ready, exited]);
    } catch (error) {
      await stopChild(child);
      throw error;
    }
  };

  try {
    await launch('-1');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    get url() {
      return `${options.security?.tls ? 'tls' : 'nats'}://${host}:${port}`;
    },
    get port() {
      return port;
    },
    stop: () => stopChild(child),
    restart: async () => {
      await stopChild(child);
      await launch(String(port));
    },
    cleanup: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port nobody listens on right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Redis's first reply to PING on the port, or undefined when nothing answers. */
function redisPingReply(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('error', () => resolve(undefined));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
  });
}

export interface RedisServer {
  /** redis:// (rediss:// with TLS), carrying the requirepass password when there is one. */
  url: string;
  port: number;
  stop(): Promise<void>;
  /**
   * Starts it again on the same port. Without `persistent`, empty: a Redis that lost everything.
   * With it, with its data (read back from its append-only file), unless `lose` says the files
   * are gone too (a new pod without its volume).
   */
  restart(options?: { lose?: boolean }): Promise<void>;
  cleanup(): Promise<void>;
}

/** An ACL user: `rules` as in `ACL SETUSER` (default: every key, channel and command). */
export interface RedisAclUser {
  name: string;
  password: string;
  rules?: string[];
}

export interface RedisSecurity {
  /** requirepass: the default user's password. */
  password?: string;
  /** ACL users. With users and no password the default user is switched off: log in as one of them. */
  users?: RedisAclUser[];
  /** TLS only: the plain port is closed. */
  tls?: ServerTls;
}

/** redis-server arguments for `security` (the rest of the command line is the caller's). */
export function redisSecurityArgs(security: RedisSecurity): string[] {
  const args: string[] = [];
  if (security.password) args.push('--requirepass', security.password);
  for (const user of security.users ?? []) args.push('--user', user.name, 'on', `>${user.password}`, ...(user.rules ?? ['~*', '&*', '+@all']));
  if (security.users?.length && !security.password) args.push('--user', 'default', 'off');
  const tls = security.tls;
  if (tls) {
    args.push('--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-auth-clients', tls.verifyClients ? 'yes' : 'no');
    if (tls.ca) args.push('--tls-ca-cert-file', tls.ca);
  }
  return args;
}

/**
 * redis-server on a free port; `requirePass` (or security.password) sets a password. Without
 * persistence unless `persistent`: then with an append-only file (appendonly yes, as the chart
 * requires for the incident history; fsync every second, and in full at the SIGTERM of a stop),
 * in its own folder, kept across restarts.
 */
export async function startRedis(options: { requirePass?: string; security?: RedisSecurity; persistent?: boolean } & ServerPlacement = {}): Promise<RedisServer> {
  const host = options.host ?? '127.0.0.1';
  const security: RedisSecurity = { ...options.security, ...(options.requirePass ? { password: options.requirePass } : {}) };
  const tls = security.tls !== undefined;
  // A fresh namespace has every port free; the root namespace's free port is as good as any.
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'p2pwall-redis-'));
  let child: ChildProcess;
  let stderr = '';
  const launch = async (): Promise<void> => {
    const ports = tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)];
    const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
    const serverArgs = [...ports, '--bind', host, '--save', '', ...persistence, '--dir', dir, ...redisSecurityArgs(security)];
    // Clients in other namespaces (the gateways) are not loopback: without a password, protected
    // mode would refuse them. The namespace is the lab's own, reachable only from the lab.
    if (!security.password && options.namespace) serverArgs.push('--protected-mode', 'no');
    const [cmd, args] = placed(options, 'redis-server', serverArgs);
    child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let ready = false;
    stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
      if (/Ready to accept connections/.test(stderr)) ready = true;
    });
    const failed = new Promise<never>((_, reject) => child.once('error', (error) => reject(new ServerStartError(`cannot start redis-server (${error.message}); install it: apt-get install redis-server`))));
    try {
      await Promise.race([
        failed,
        waitFor('redis-server', 10_000, async () => {
          if (child.exitCode !== null) throw new ServerStartError(`redis-server exited: ${stderr.trim()}`);
          // From outside the namespace the server cannot be reached, and a TLS port does not
          // answer a plain PING: then its own log says when it is up.
          if (options.namespace || tls) return ready || undefined;
          const reply = await redisPingReply(port);
          if (reply === undefined) return undefined;
          // NOAUTH: a password or ACL users are required; the server is up all the same.
          return reply.startsWith('+PONG') || reply.startsWith('-NOAUTH') ? true : undefined;
        }),
      ]);
    } catch (error) {
      await stopChild(child);
      throw error;
    }
  };
  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const auth = security.password ? `:${encodeURIComponent(security.password)}@` : '';
  return {
    url: `${tls ? 'rediss' : 'redis'}://${auth}${host}:${port}`,
    port,
    stop: () => stopChild(child),
    restart: async (restartOptions = {}) => {
      await stopChild(child);
      if (restartOptions.lose) for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
      await launch();
    },
    cleanup: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
