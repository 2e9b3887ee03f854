import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLogger, REDIS_KEYS, SUBJECTS } from '@p2pwall/common';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RedisServer } from '@p2pwall/lab';
import { p2pwall } from '@p2pwall/proto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllowView, DecisionView, HostView, IncidentView, Page, PeerView, SensorView } from '../../src/api/views.js';
import { BRAIN_CONFIG_SCHEMA } from '../../src/config.js';
import { incidentUpdates, type IncidentFlow } from '../../src/incidents/evidence.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { batch, encodeBatch, flow, startBrainRig, type BrainRig } from '../support.js';

/**
 * The built `p2pwall` binary (services/brain/dist/ctl/main.js, as installed) run as a child
 * process against a real brain: BrainService with its HTTP API on a free port, real nats-server
 * and redis-server. What it checks is what a person or a script sees: stdout, stderr, exit code.
 */

const CLI = fileURLToPath(new URL('../../dist/ctl/main.js', import.meta.url));
const READ = 'cli-read-token-0001';
const ADMIN = 'cli-admin-token-0001';
const log = createLogger({ name: 'cli-test', level: 'error' });

let rig: BrainRig;
let redisServer: RedisServer;
let redis: Redis;
let nc: NatsConnection;
let url: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary with only the environment given (no P2PWALL_* leaks in from the caller's shell). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // Nothing of the caller's shell: no P2PWALL_ settings, and no COLUMNS (tables are cut to it).
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('P2PWALL_') && key !== 'COLUMNS'));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

const asAdmin = (args: string[]) => cli(args, { P2PWALL_URL: url, P2PWALL_TOKEN: ADMIN });
const asReader = (args: string[]) => cli(args, { P2PWALL_URL: url, P2PWALL_TOKEN: READ });

/** Parses --json output; a failed run shows its stderr instead of a JSON error. */
function json<T>(run: Run): T {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  // The last test stops Redis on purpose: the rig's client ignores its reconnect errors.
  // 192.0.2.0/24 stands for an organisation's public network used inside (network blocks of it need --force).
  rig = await startBrainRig({ tokens: { read: [READ], admin: [ADMIN] }, logger: log, adjust: (config) => (config.insideNetworks = ['192.0.2.0/24']) });
  ({ redisServer, redis, nc } = rig);
  url = rig.base;
}, 60_000);

afterAll(async () => {
  await rig?.stop();
});

const COMMANDS = [
  [],
  ['incidents'],
  ['incidents', 'list'],
  ['incidents', 'show'],
  ['decisions'],
  ['decisions', 'list'],
  ['decisions', 'add'],
  ['decisions', 'delete'],
  ['allow'],
  ['allow', 'add'],
  ['allow', 'list'],
  ['allow', 'delete'],
  ['hosts'],
  ['hosts', 'show'],
  ['peers'],
  ['peers', 'show'],
  ['sensors'],
  ['health'],
];

describe('p2pwall CLI, the built binary against a real brain', () => {
  it('answers --help on every command, without a brain', async () => {
    const runs = await Promise.all(COMMANDS.map((path) => cli([...path, '--help'])));
    for (const [i, run] of runs.entries()) {
      const path = COMMANDS[i]!;
      expect(run.code, path.join(' ')).toBe(0);
      expect(run.stdout, path.join(' ')).toMatch(new RegExp(`^Usage: ${['p2pwall', ...path].join(' ')} `));
      // Leaf commands document where the brain and the token come from.
      if (path.length === 2 || path[0] === 'sensors' || path[0] === 'health') expect(run.stdout, path.join(' ')).toMatch(/--url <url>[\s\S]*env:\s+P2PWALL_URL\)[\s\S]*--token <token>[\s\S]*env:\s+P2PWALL_TOKEN\)/);
    }
    // The stale rule as the brain applies it (a help once said "three periods").
    const staleDefault = (BRAIN_CONFIG_SCHEMA.properties!['api']!.properties!['sensorStaleSeconds']!.default as number);
    expect(runs[COMMANDS.findIndex((path) => path[0] === 'sensors')]!.stdout.replace(/\s+/g, ' ')).toContain(`STALE: no heartbeat for longer than the brain's api.sensorStaleSeconds (default ${staleDefault} s)`);
  });

  it('health: exit 0 and the checks when the brain is ready', async () => {
    const run = await cli(['health', '--url', url]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^ready: .*redis ok/);
    // --json: the API's answer itself, as GET /health/ready gives it.
    const api = (await (await fetch(`${url}/health/ready`)).json()) as unknown;
    expect(json<unknown>(await cli(['health', '--url', url, '--json']))).toEqual(api);
    expect(api).toMatchObject({ status: 'ready', checks: { redis: true } });
  });

  it('takes the connection options before the sub-command too; typed beats the environment, and after beats before', async () => {
    const before = await cli(['--url', url, '--token', READ, '--json', 'sensors'], { P2PWALL_URL: 'http://127.0.0.1:1' });
    expect(before.code, before.stderr).toBe(0);
    expect(json<{ items: unknown[] }>(before).items).toBeInstanceOf(Array);
    const after = await cli(['--url', 'http://127.0.0.1:1', 'health', '--url', url]);
    expect(after).toMatchObject({ code: 0, stderr: '' });
    const environment = await cli(['health'], { P2PWALL_URL: url });
    expect(environment.code).toBe(0);
  });

  it('an unreachable brain: exit 3 and the address it tried', async () => {
    const port = await closedPort();
    for (const command of [['sensors'], ['health'], ['decisions', 'list']]) {
      const run = await cli([...command, '--url', `http://127.0.0.1:${port}`], { P2PWALL_TOKEN: READ });
      expect(run.code, command.join(' ')).toBe(3);
      expect(run.stderr).toBe(`p2pwall ${command.join(' ')}: cannot reach the brain at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
      expect(run.stdout).toBe('');
    }
  });

  it('a missing or rejected token: exit 4; a read token on a change: exit 4 with the admin hint', async () => {
    const none = await cli(['sensors'], { P2PWALL_URL: url });
    expect(none.code).toBe(4);
    expect(none.stderr).toBe('p2pwall sensors: the brain wants a token (401): set P2PWALL_TOKEN or pass --token\n');
    const wrong = await cli(['incidents', 'list', '--url', url, '--token', 'not-a-token']);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toBe('p2pwall incidents list: the brain rejected the token (401)\n');
    const readOnly = await asReader(['decisions', 'add', '--ip', '198.51.100.200', '--reason', 'test']);
    expect(readOnly.code).toBe(4);
    expect(readOnly.stderr).toBe('p2pwall decisions add: this token may only read; use an admin token (403)\n');
    expect((await asReader(['allow', 'add', '198.51.100.200', '--reason', 'test'])).code).toBe(4);
    // The read token reads.
    expect((await asReader(['decisions', 'list'])).code).toBe(0);
    expect(await redis.hexists(REDIS_KEYS.decisions, 'ip:198.51.100.200')).toBe(0);
  });

  it('decisions add, list and delete: a manual block reaches the shared blocklist and leaves it', async () => {
    const add = json<DecisionView>(await asAdmin(['decisions', 'add', '--endpoint', '198.51.100.9:1214', '--reason', 'seen at HQ', '--expires', '24h', '--author', 'alice', '--json']));
    expect(add).toMatchObject({ id: 'endpoint:198.51.100.9:1214', scope: 'endpoint', origin: 'manual', action: 'block', reason: 'seen at HQ', author: 'alice' });
    expect(Date.parse(add.expires!) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect(await redis.hexists(REDIS_KEYS.decisions, add.id)).toBe(1);

    // IPv6 in an id: brackets and colons must survive the URL.
    const v6 = await asAdmin(['decisions', 'add', '--endpoint', '[2001:DB8:0::9]:6346', '--reason', 'v6 peer']);
    expect(v6.code).toBe(0);
    expect(v6.stdout).toMatch(/^added:\n {2}id: +endpoint:\[2001:db8::9\]:6346\n/);
    expect(v6.stdout).toMatch(/expires: +\d{4}-.* \(in 29d\)\n/); // the default: api.manualExpirySeconds, 30 days
    expect(v6.stdout).toContain(`by ${(await import('node:os')).userInfo().username}`);

    const table = await asReader(['decisions', 'list', '--origin', 'manual']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID +SCOPE +VALUE +TRANSPORT +SITE +ORIGIN +ACTION +REASON +RULES +CREATED +EXPIRES +AUTHOR$/);
    expect(table.stdout).toMatch(/endpoint:198\.51\.100\.9:1214 +endpoint +198\.51\.100\.9:1214 +both +\* +manual +block +seen at HQ +operator\/manual +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \((\d+s ago|now)\) +\d{4}-.*\(in 23h\) +alice\n/);
    // A terminal of 100 columns: every line fits, ids and values stay whole, times become ages.
    const narrow = await cli(['decisions', 'list', '--origin', 'manual'], { P2PWALL_URL: url, P2PWALL_TOKEN: READ, COLUMNS: '100' });
    for (const line of narrow.stdout.trimEnd().split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(narrow.stdout).toMatch(/endpoint:198\.51\.100\.9:1214 +198\.51\.100\.9:1214 /);
    expect(narrow.stdout).toMatch(/left out to fit 100 columns: SCOPE/);
    expect(narrow.stdout).toMatch(/in 23h/);
    expect(table.stdout.split('\n').some((line) => line.length > 100)).toBe(true);
    const listed = json<Page<DecisionView>>(await asReader(['decisions', 'list', '--origin', 'manual', '--value', '[2001:db8::9]:6346', '--json']));
    expect(listed.items.map((d) => d.id)).toEqual(['endpoint:[2001:db8::9]:6346']);

    const removed = await asAdmin(['decisions', 'delete', 'endpoint:[2001:db8::9]:6346']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed endpoint:[2001:db8::9]:6346\n' });
    expect(await redis.hexists(REDIS_KEYS.decisions, 'endpoint:[2001:db8::9]:6346')).toBe(0);
    const again = await asAdmin(['decisions', 'delete', 'endpoint:[2001:db8::9]:6346']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/refused the request \(404\): no decision endpoint:\[2001:db8::9\]:6346/);
    // The sensors follow the change stream: both the add and the removal are on it.
    const changes = (await redis.xrange(REDIS_KEYS.blocklistChanges, '-', '+')).map(([, fields]) => fields.join(' '));
    expect(changes.some((c) => c.includes('endpoint:[2001:db8::9]:6346'))).toBe(true);
  });

  it('decisions add and delete take --transport: a UDP-only block has its own id, shown in the list', async () => {
    const udp = json<DecisionView>(await asAdmin(['decisions', 'add', '--endpoint', '198.51.100.10:1214', '--transport', 'udp', '--reason', 'udp only', '--json']));
    expect(udp).toMatchObject({ id: 'endpoint:udp:198.51.100.10:1214', transport: 'udp', origin: 'manual' });
    const table = await asReader(['decisions', 'list', '--value', '198.51.100.10:1214']);
    expect(table.stdout).toMatch(/^ID +SCOPE +VALUE +TRANSPORT /);
    expect(table.stdout).toMatch(/\nendpoint:udp:198\.51\.100\.10:1214 +endpoint +198\.51\.100\.10:1214 +udp +\* +manual /);
    const shown = await asReader(['peers', 'show', '198.51.100.10:1214']);
    expect(shown.stdout).toMatch(/transport: +udp\n/);
    const wrongTransport = await asAdmin(['decisions', 'delete', '--endpoint', '198.51.100.10:1214']);
    expect(wrongTransport.code).toBe(2);
    expect(wrongTransport.stderr).toMatch(/\(404\): no decision endpoint:198\.51\.100\.10:1214\n$/);
    expect(await asAdmin(['decisions', 'delete', '--endpoint', '198.51.100.10:1214', '--transport', 'udp'])).toMatchObject({ code: 0, stdout: 'removed endpoint:udp:198.51.100.10:1214\n' });
    expect(await redis.hexists(REDIS_KEYS.decisions, 'endpoint:udp:198.51.100.10:1214')).toBe(0);
    const badTransport = await asAdmin(['decisions', 'add', '--ip', '198.51.100.10', '--transport', 'quic', '--reason', 'r']);
    expect(badTransport.code).toBe(1);
    expect(badTransport.stderr).toMatch(/option '--transport <transport>' argument 'quic' is invalid\. Allowed choices are tcp, udp, both\./);
    const badId = await asAdmin(['decisions', 'delete', 'endpoint:both:198.51.100.10:1214']);
    expect(badId).toMatchObject({ code: 1, stderr: expect.stringMatching(/^p2pwall decisions delete: "endpoint:both:198\.51\.100\.10:1214" is not a decision id/) });
  });

  it('decisions list filters: --site is what the site enforces (global blocks too), --range, --rule, --sensor, --since, --until', async () => {
    await asAdmin(['decisions', 'add', '--ip', '203.0.113.60', '--reason', 'filters: global']);
    await asAdmin(['decisions', 'add', '--host', '192.168.9.9', '--site', 'site-f', '--reason', 'filters: f']);
    await asAdmin(['decisions', 'add', '--host', '192.168.9.9', '--site', 'site-g', '--reason', 'filters: g']);
    const ids = async (...filters: string[]) => json<Page<DecisionView>>(await asReader(['decisions', 'list', '--all', '--json', ...filters])).items.map((d) => d.id).filter((id) => /203\.0\.113\.60|192\.168\.9\.9/.test(id)).sort();
    expect(await ids('--site', 'site-f')).toEqual(['host:site-f:192.168.9.9', 'ip:203.0.113.60']);
    expect(await ids('--range', '203.0.113.0/24')).toEqual(['ip:203.0.113.60']);
    expect(await ids('--range', '192.168.9.0/24', '--site', 'site-g')).toEqual(['host:site-g:192.168.9.9']);
    expect(await ids('--rule', 'operator')).toEqual(['host:site-f:192.168.9.9', 'host:site-g:192.168.9.9', 'ip:203.0.113.60']);
    expect(await ids('--rule', 'fasttrack')).toEqual([]);
    expect(await ids('--sensor', 'site-p/gw1')).toEqual([]);
    expect(await ids('--since', '1m')).toHaveLength(3);
    expect(await ids('--until', '1h')).toEqual([]);
    const badRange = await asReader(['decisions', 'list', '--range', '203.0.113.0']);
    expect(badRange).toMatchObject({ code: 2, stderr: expect.stringMatching(/\(400\): querystring\/range.*no prefix length/) });
  });

  it('overrules that would surprise: an inside address as a peer needs --force, an unknown site is warned about, blocks expire by default, a host lock says what stays allowed', async () => {
    const inside = await asAdmin(['decisions', 'add', '--ip', '192.168.1.5', '--reason', 'oops']);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/\(409\): 192\.168\.1\.5 is an inside \(private-range\) address: a peer block of it cuts every site's hosts off from it.*--force/);
    expect(await redis.hexists(REDIS_KEYS.decisions, 'ip:192.168.1.5')).toBe(0);
    const forced = await asAdmin(['decisions', 'add', '--ip', '192.168.1.5', '--reason', 'really', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await redis.hexists(REDIS_KEYS.decisions, 'ip:192.168.1.5')).toBe(1);
    expect((await asAdmin(['decisions', 'add', '--ip', '127.0.0.1', '--reason', 'r', '--force'])).stderr).toMatch(/127\.0\.0\.1 is a reserved address/);

    const typo = await asAdmin(['decisions', 'add', '--host', '192.168.9.20', '--site', 'nosuchsite', '--reason', 'r']);
    expect(typo.code).toBe(0);
    expect(typo.stderr).toMatch(/^p2pwall decisions add: warning: no sensor has reported site "nosuchsite" \(/);
    expect(typo.stdout).toMatch(/a host lock is ftwall's time-lock: .*ports up to 1023, connections already open.*stay allowed/);
    const added = json<DecisionView & { warnings: string[] }>(await asAdmin(['decisions', 'add', '--endpoint', '198.51.100.77:6881', '--reason', 'default expiry', '--json']));
    expect(Date.parse(added.expires!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(Date.parse(added.expires!) - Date.now()).toBeLessThanOrEqual(30 * 86_400_000);
    expect(added.warnings).toEqual([]);
    const forever = json<DecisionView>(await asAdmin(['decisions', 'add', '--endpoint', '198.51.100.78:6881', '--reason', 'for good', '--expires', 'never', '--json']));
    expect(forever.expires).toBeNull();
  });

  it('decisions add NET/LEN: a network block, listed with its CIDR, found by overlapping --range, deleted by --network; refused when sloppy, too wide or inside', async () => {
    const added = json<DecisionView & { warnings: string[] }>(await asAdmin(['decisions', 'add', '203.0.113.0/28', '--reason', 'abuse from a hoster', '--json']));
    expect(added).toMatchObject({ id: 'net:203.0.113.0/28', scope: 'network', value: '203.0.113.0/28', ip: '203.0.113.0', port: 0, site: '', transport: 'both', origin: 'manual', warnings: [] });
    const stored = p2pwall.v1.Decision.decode(await redis.hgetBuffer(REDIS_KEYS.decisions, 'net:203.0.113.0/28') ?? Buffer.alloc(0));
    expect(stored).toMatchObject({ scope: p2pwall.v1.Scope.SCOPE_NETWORK, prefixLength: 28 });
    // the same by option, for one site and one transport, IPv6 too: each its own stable id
    const atSite = await asAdmin(['decisions', 'add', '--network', '203.0.113.0/28', '--site', 'site-n', '--transport', 'udp', '--reason', 'only at n', '--json']);
    expect(atSite.stderr).toMatch(/warning: no sensor has reported site "site-n"/);
    const udpAtB = JSON.parse(atSite.stdout) as DecisionView;
    expect(udpAtB).toMatchObject({ id: 'net:udp:203.0.113.0/28@site-n', site: 'site-n', transport: 'udp' });
    const v6 = await asAdmin(['decisions', 'add', '2001:DB8:7::/48', '--reason', 'v6 hoster']);
    expect(v6.code, v6.stderr).toBe(0);
    expect(v6.stdout).toMatch(/^added:\n {2}id: +net:2001:db8:7::\/48\n {2}action: +block network 2001:db8:7::\/48\n/);
    expect(v6.stdout).toMatch(/a network block drops traffic to and from every address of the network/);

    const table = await asReader(['decisions', 'list', '--scope', 'network']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/net:203\.0\.113\.0\/28 .*network +203\.0\.113\.0\/28 /);
    const ids = async (...filters: string[]) => json<Page<DecisionView>>(await asReader(['decisions', 'list', '--all', '--json', '--scope', 'network', ...filters])).items.map((d) => d.id).sort();
    expect(await ids('--range', '203.0.113.4/30')).toEqual(['net:203.0.113.0/28', 'net:udp:203.0.113.0/28@site-n']);
    expect(await ids('--range', '203.0.0.0/16')).toEqual(['net:203.0.113.0/28', 'net:udp:203.0.113.0/28@site-n']);
    expect(await ids('--range', '203.0.113.16/28')).toEqual([]);
    expect(await ids('--site', 'site-m')).toEqual(['net:2001:db8:7::/48', 'net:203.0.113.0/28']);

    const refused = async (args: string[]) => {
      const run = await asAdmin(['decisions', 'add', ...args, '--reason', 'r']);
      expect(run.code).toBeGreaterThan(0);
      return run.stderr;
    };
    expect(await refused(['198.51.100.7/24'])).toMatch(/"198\.51\.100\.7\/24" has host bits set: did you mean 198\.51\.100\.0\/24\?/);
    expect(await refused(['--network', '198.51.100.7/24'])).toMatch(/did you mean 198\.51\.100\.0\/24\?/);
    expect(await refused(['198.51.100.0/24:1214'])).toMatch(/a network block holds for every port/);
    expect(await refused(['4.0.0.0/7'])).toMatch(/\(400\): body\/value: 4\.0\.0\.0\/7 is wider than the brain allows for IPv4 network blocks \(\/8 at most: api\.minNetworkPrefixLength\.ipv4\)/);
    expect(await refused(['2001:db8::/31'])).toMatch(/\/32 at most: api\.minNetworkPrefixLength\.ipv6/);
    expect(await refused(['10.1.0.0/16'])).toMatch(/\(409\): 10\.1\.0\.0\/16 overlaps the inside network 10\.0\.0\.0\/8: .*--force/);
    expect(await refused(['192.0.2.128/25'])).toMatch(/\(409\): 192\.0\.2\.128\/25 overlaps the inside network 192\.0\.2\.0\/24: .*--force/);
    expect(await refused(['--ip', '192.0.2.9'])).toMatch(/\(409\): 192\.0\.2\.9 is in the inside network 192\.0\.2\.0\/24 \(insideNetworks\).*--force/);
    expect(await refused(['127.0.0.0/16', '--force'])).toMatch(/\(409\): 127\.0\.0\.0\/16 overlaps 127\.0\.0\.0\/8, which is reserved/);
    expect(await refused(['203.0.113.0/28', '--endpoint', '203.0.113.1:80'])).toMatch(/give exactly one of/);
    expect((await asAdmin(['allow', 'add', '203.0.113.0/28', '--reason', 'r'])).stderr).toMatch(/Allow entries name one address, endpoint or host, not a network/);
    // the API itself, for clients other than the CLI
    const post = (path: string, body: object) => fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const allowNetwork = await post('/v1/allowlist', { scope: 'network', value: '203.0.113.0/28', reason: 'r' });
    expect(allowNetwork.status).toBe(400);
    expect(((await allowNetwork.json()) as { message: string }).message).toMatch(/body\/scope: allow entries name one address, endpoint or host, not a network.*allowlist\.endpoints/);
    const withPort = await post('/v1/decisions', { scope: 'network', value: '203.0.113.0/28:80', reason: 'r' });
    expect(withPort.status).toBe(400);
    expect(((await withPort.json()) as { message: string }).message).toMatch(/body\/value: .*a port cannot go with a network/);
    // --force: the same semantics as for a single address
    const forced = await asAdmin(['decisions', 'add', '192.0.2.128/25', '--reason', 'really', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await redis.hexists(REDIS_KEYS.decisions, 'net:192.0.2.128/25')).toBe(1);

    // "why is this blocked?" names the network block; an allow entry of the address lets it through
    const peer = async (target: string) => json<PeerView>(await asReader(['peers', 'show', target, '--json']));
    expect(await peer('203.0.113.5')).toMatchObject({ blocked: true, decisions: expect.arrayContaining([expect.objectContaining({ id: 'net:203.0.113.0/28' })]) });
    expect(await peer('203.0.113.5:443')).toMatchObject({ blocked: true });
    expect(await peer('203.0.113.17')).toMatchObject({ blocked: false, decisions: [] });
    const allowed = json<{ suspended: string[]; throughNetworks: string[] }>(await asAdmin(['allow', 'add', '203.0.113.5', '--reason', 'the good host', '--json']));
    expect(allowed).toMatchObject({ suspended: [], throughNetworks: ['net:203.0.113.0/28', 'net:udp:203.0.113.0/28@site-n'] });
    const text = await asAdmin(['allow', 'add', '203.0.113.6:443', '--reason', 'its web server']);
    expect(text.stdout).toMatch(/\nlets it through net:203\.0\.113\.0\/28, net:udp:203\.0\.113\.0\/28@site-n \(the rest of each network stays blocked\)\n/);
    await asAdmin(['allow', 'delete', 'allow:endpoint:203.0.113.6:443']);
    expect(await peer('203.0.113.5')).toMatchObject({ blocked: false, allowed: [expect.objectContaining({ id: 'allow:ip:203.0.113.5' })] });
    expect(await peer('203.0.113.6')).toMatchObject({ blocked: true });
    // the network block itself is not suspended by it
    expect(await redis.hexists(REDIS_KEYS.decisions, 'net:203.0.113.0/28')).toBe(1);
    await asAdmin(['allow', 'delete', 'allow:ip:203.0.113.5']);

    expect((await asAdmin(['decisions', 'delete', '--network', '203.0.113.0/28', '--site', 'site-n', '--transport', 'udp'])).stdout).toBe('removed net:udp:203.0.113.0/28@site-n\n');
    expect((await asAdmin(['decisions', 'delete', 'net:203.0.113.0/28'])).stdout).toBe('removed net:203.0.113.0/28\n');
    expect(await ids('--range', '203.0.113.0/24')).toEqual([]);
  }, 90_000);

  it('allow add suspends the blocks it covers (a manual block with its reason too) and allow delete brings them back', async () => {
    await asAdmin(['decisions', 'add', '--endpoint', '198.51.100.88:4662', '--reason', 'abuse report 7', '--author', 'dora']);
    await asAdmin(['decisions', 'add', '--ip', '198.51.100.88', '--transport', 'udp', '--reason', 'udp flood']);
    const allowed = await asAdmin(['allow', 'add', '198.51.100.88', '--reason', 'partner test']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/\nsuspends endpoint:198\.51\.100\.88:4662, ip:udp:198\.51\.100\.88 \(back when this entry is deleted or expires\)\n$/);
    expect(await redis.hexists(REDIS_KEYS.decisions, 'endpoint:198.51.100.88:4662')).toBe(0);
    expect(json<PeerView>(await asReader(['peers', 'show', '198.51.100.88:4662', '--json'])).blocked).toBe(false);

    const removed = await asAdmin(['allow', 'delete', 'allow:ip:198.51.100.88']);
    expect(removed.stdout).toBe('removed allow:ip:198.51.100.88\nrestored endpoint:198.51.100.88:4662, ip:udp:198.51.100.88\n');
    const back = json<PeerView>(await asReader(['peers', 'show', '198.51.100.88:4662', '--json']));
    expect(back.blocked).toBe(true);
    expect(back.decisions.find((d) => d.id === 'endpoint:198.51.100.88:4662')).toMatchObject({ reason: 'abuse report 7', author: 'dora', origin: 'manual' });
    expect(await redis.keys('*allow:suspended:*')).toEqual([]);
  });

  it('refuses bad input: the command line at once (exit 1), the brain naming the field (exit 2)', async () => {
    const badIp = await asAdmin(['decisions', 'add', '--ip', '198.51.100.300', '--reason', 'r']);
    expect(badIp.code).toBe(1);
    expect(badIp.stderr).toMatch(/option '--ip <ip>' argument '198\.51\.100\.300' is invalid\. Expected an IPv4 or IPv6 address/);
    const noSite = await asAdmin(['decisions', 'add', '--host', '192.168.1.5', '--reason', 'r']);
    expect(noSite).toMatchObject({ code: 1, stderr: 'p2pwall decisions add: a host entry needs --site: an inside address means a host only at one site\n' });
    const badExpiry = await asAdmin(['decisions', 'add', '--ip', '198.51.100.201', '--reason', 'r', '--expires', 'soon']);
    expect(badExpiry.code).toBe(2);
    expect(badExpiry.stderr).toMatch(/^p2pwall decisions add: the brain refused the request \(400\): .*expires.*"soon" is not a time/);
    expect(await asReader(['incidents', 'list', '--range', '192.168.1.0'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/querystring\/range.*no prefix length/) });
    expect(await asReader(['incidents', 'list', '--sensor', 'site-a/gw1', '--site', 'site-b'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/querystring\/sensor.*is at site site-a, not site-b/) });
    expect(json<Page<IncidentView>>(await asReader(['incidents', 'list', '--rule', 'no-such-protocol', '--json'])).items).toEqual([]);
    const badSince = await asReader(['incidents', 'list', '--since', 'yesterday']);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toMatch(/since/);
    const unknown = await asReader(['incidents', 'show', 'no-such-incident']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/\(404\)/);
  });

  it('allow add, list and delete; the scope follows the target', async () => {
    const hostRun = await asAdmin(['allow', 'add', '192.168.1.20', '--site', 'site-a', '--reason', 'the build server', '--json']);
    expect(hostRun.stderr).toMatch(/^p2pwall allow add: warning: no sensor has reported site "site-a"/);
    const host = JSON.parse(hostRun.stdout) as AllowView;
    expect(host).toMatchObject({ id: 'allow:host:site-a:192.168.1.20', scope: 'host', value: '192.168.1.20', site: 'site-a', expires: null });
    const outside = await asAdmin(['allow', 'add', '198.51.100.7', '--reason', 'partner', '--expires', '7d', '--author', 'ops']);
    expect(outside.code).toBe(0);
    expect(outside.stdout).toMatch(/^allowed: allow:ip:198\.51\.100\.7 {2}ip 198\.51\.100\.7 {2}"partner" by ops, expires \d{4}-.*\(in 6d\)\nsuspends no block\n$/);
    const endpoint = json<AllowView>(await asAdmin(['allow', 'add', '[2001:db8::7]:443', '--reason', 'cdn', '--json']));
    expect(endpoint).toMatchObject({ scope: 'endpoint', value: '[2001:db8::7]:443' });

    const table = await asReader(['allow', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +SCOPE +VALUE +SITE +REASON +AUTHOR +CREATED +EXPIRES\n/);
    expect(table.stdout).toMatch(/allow:host:site-a:192\.168\.1\.20 +host +192\.168\.1\.20 +site-a +the build server .* never\n/);
    expect(json<Page<AllowView>>(await asReader(['allow', 'list', '--scope', 'host', '--json'])).items.map((a) => a.id)).toEqual(['allow:host:site-a:192.168.1.20']);

    for (const id of [host.id, endpoint.id, 'allow:ip:198.51.100.7']) expect((await asAdmin(['allow', 'delete', id])).stdout).toBe(`removed ${id}\n`);
    expect((await asReader(['allow', 'list'])).stdout).toBe('no allowlist entries\n');
  });

  it('sensors: a heartbeat published to the stream shows up in the table', async () => {
    const beat = p2pwall.v1.Heartbeat.encode({
      sensor: { site: 'site-s', gateway: 'gw9', queue: 0, instance: 'cli-test' },
      version: '0.1.0-cli',
      mode: p2pwall.v1.Mode.MODE_MONITOR,
      sentMs: Date.now(),
      queues: [{ queue: 0, queueTotal: 1, queueDropped: 17, userDropped: 4 }],
      blocklistVersion: 0,
      backlogBatches: 3,
    }).finish();
    await jetstream(nc).publish(SUBJECTS.heartbeats('site-s', 'gw9'), beat);
    const sensors = await until('the heartbeat', async () => {
      const answer = json<{ items: SensorView[]; blocklistVersion: number }>(await asReader(['sensors', '--json']));
      return answer.items.some((s) => s.name === 'site-s/gw9/0') ? answer : undefined;
    });
    expect(sensors.items.find((s) => s.name === 'site-s/gw9/0')).toMatchObject({ version: '0.1.0-cli', mode: 'monitor', backlogBatches: 3 });
    const table = await asReader(['sensors']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SENSOR +VERSION +MODE +LAST HEARTBEAT +QUEUE DROPS +USER DROPS +BLOCKLIST LAG +BACKLOG +STATE\n/);
    expect(table.stdout).toMatch(/site-s\/gw9\/0 +0\.1\.0-cli +monitor +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \((\d+s ago|now)\) +17 +4 +\d+ +3 +running\n/);
    expect(table.stdout).toMatch(/shared blocklist version: \d+\n$/);
  });

  it('sensors: a cleanly stopped sensor reads STOPPED, a silent one STALE; `sensors forget` (admin) retires one (issue 14 §12)', async () => {
    const beat = (gateway: string, sentMs: number, stopping: boolean) =>
      jetstream(nc).publish(SUBJECTS.heartbeats('site-f', gateway), p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-f', gateway, queue: 0, instance: 'cli-forget' }, version: '0.1.0', mode: p2pwall.v1.Mode.MODE_ENFORCE, sentMs, stopping }).finish());
    // both last heard from 5 minutes ago: one said it was stopping, the other just went quiet
    await beat('gw-stopped', Date.now() - 300_000, true);
    await beat('gw-crashed', Date.now() - 300_000, false);
    const answer = await until('both heartbeats', async () => {
      const items = json<{ items: SensorView[] }>(await asReader(['sensors', '--json'])).items.filter((s) => s.site === 'site-f');
      return items.length === 2 ? items : undefined;
    });
    expect(answer.map((s) => [s.name, s.state, s.stale])).toEqual([
      ['site-f/gw-crashed/0', 'stale', true],
      ['site-f/gw-stopped/0', 'stopped', false],
    ]);
    const table = await asReader(['sensors']);
    expect(table.stdout).toMatch(/\nsite-f\/gw-crashed\/0 .* STALE\n/);
    expect(table.stdout).toMatch(/\nsite-f\/gw-stopped\/0 .* STOPPED\n/);

    const refused = await asReader(['sensors', 'forget', 'site-f/gw-stopped/0']);
    expect(refused.code).toBe(4);
    const forgot = await asAdmin(['sensors', 'forget', 'site-f/gw-stopped/0']);
    expect(forgot).toEqual({ code: 0, stdout: 'forgot sensor site-f/gw-stopped/0 (it was stopped)\n', stderr: '' });
    expect(json<{ items: SensorView[] }>(await asReader(['sensors', '--json'])).items.filter((s) => s.site === 'site-f').map((s) => s.name)).toEqual(['site-f/gw-crashed/0']);
    const again = await asAdmin(['sensors', 'forget', 'site-f/gw-stopped/0']);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('p2pwall sensors forget: the brain refused the request (404): no sensor site-f/gw-stopped/0 in the sensors list (names are site/gateway/queue, as p2pwall sensors shows them)\n');
  });

  it('control characters from a sensor never reach the terminal: escaped in tables and in --json', async () => {
    const hostile = '0.1.0\u001b[2J\u001b]0;owned\u0007\u009b31m\u202eevil\r\nsite-x/gw0/0  forged row';
    const beat = p2pwall.v1.Heartbeat.encode({ sensor: { site: 'site-esc', gateway: 'gw1', queue: 0, instance: 'cli-test' }, version: hostile, sentMs: Date.now() }).finish();
    // the brain no longer stores such a heartbeat (ingest/heartbeats.ts); one stored before, or by an older brain, is still shown
    await redis.hset(REDIS_KEYS.sensors, 'site-esc/gw1/0', Buffer.from(beat));
    const unsafe = (text: string) => [...text].filter((c) => c !== '\n' && (c < ' ' || (c >= '\u007f' && c <= '\u009f') || (c >= '\u202a' && c <= '\u202e')));
    const table = await asReader(['sensors']);
    expect(table.code).toBe(0);
    expect(unsafe(table.stdout)).toEqual([]);
    expect(table.stdout).toContain('0.1.0\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202eevil\\x0d\\x0asite-x/gw0/0  forged row');
    expect(table.stdout).not.toMatch(/^site-x\/gw0\/0/m);
    const asJson = await asReader(['sensors', '--json']);
    expect(unsafe(asJson.stdout)).toEqual([]);
    const parsed = JSON.parse(asJson.stdout) as { items: SensorView[] };
    expect(parsed.items.find((s) => s.name === 'site-esc/gw1/0')?.version).toBe(hostile);
  });

  it('hosts show and peers show: what holds for a host, why a peer is blocked and who reached it', async () => {
    // A FastTrack client at site-p, found by signature: the brain locks it and blocks its peer.
    await jetstream(nc).publish(SUBJECTS.summaries('site-p', 'gw1'), encodeBatch({ site: 'site-p', instance: 'cli', sequence: 1, created: Date.now(), clients: [{ host: '192.168.3.5', ts: Date.now() }], peers: [{ ip: '198.51.100.50', port: 1214, from: '192.168.3.5', ts: Date.now() }] }), { msgID: 'cli:1' });
    const peer = await until('the peer decision', async () => {
      const view = json<PeerView>(await asReader(['peers', 'show', '198.51.100.50:1214', '--json']));
      return view.blocked ? view : undefined;
    });
    expect(peer.decisions.map((d) => d.origin)).toEqual(['signature']);
    const text = await asReader(['peers', 'show', '198.51.100.50:1214']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Peer 198\.51\.100\.50:1214: BLOCKED\n\nBlocked by 1 decision:\n {2}id: +endpoint:198\.51\.100\.50:1214\n/);
    expect(text.stdout).toMatch(/ {2}origin: +signature\n/);
    expect(text.stdout).toMatch(/ {2}hosts: +site-p\/192\.168\.3\.5/);
    expect(text.stdout).toContain('Contacted by: site-p/192.168.3.5\nSites: site-p\n');
    expect((await asReader(['peers', 'show', '198.51.100.51'])).stdout).toMatch(/^Peer 198\.51\.100\.51: not blocked\n/);
    // The whole address: one of its ports is blocked, the address is not.
    const address = await asReader(['peers', 'show', '198.51.100.50']);
    expect(address.stdout).toMatch(/^Peer 198\.51\.100\.50: not blocked as a whole; BLOCKED at port 1214\n/);
    expect(json<PeerView>(await asReader(['peers', 'show', '198.51.100.50', '--json']))).toMatchObject({ blocked: false, blockedPorts: ['1214'] });

    const host = await until('the host lock', async () => {
      const view = json<HostView>(await asReader(['hosts', 'show', '192.168.3.5', '--site', 'site-p', '--json']));
      return view.locks.length > 0 ? view : undefined;
    });
    expect(host.locks.map((l) => l.id)).toEqual(['host:site-p:192.168.3.5']);
    const hostText = await asReader(['hosts', 'show', '192.168.3.5', '--site', 'site-p']);
    expect(hostText.stdout).toMatch(/^Host 192\.168\.3\.5 at site site-p\n\nLocked at site-p:\n {2}id: +host:site-p:192\.168\.3\.5\n/);
    expect((await asReader(['hosts', 'show', '192.168.3.99'])).stdout).toMatch(/^Host 192\.168\.3\.99 \(every site\)\n\nNot locked\.\n/);
  });

  it('incidents list and show, with --all following the cursor across pages', async () => {
    // Incidents recorded through the brain's own store, in the Redis the brain reads.
    const store = new IncidentStore(redis, { quietMs: 600_000, retentionMs: 86_400_000, maxSamples: 3, listItems: 5 });
    const t0 = Date.now() - 600_000;
    const flow = (host: string, peer: string, ts: number): IncidentFlow => ({ site: 'site-i', hostIp: host, insidePort: 40000, endpoint: peer, outsideIp: peer.split(':')[0]!, protocol: 17, app: 'fasttrack', rules: ['udp-ping'], firstSeenMs: ts - 10, lastSeenMs: ts, packetsOut: 1, packetsIn: 0, bytesOut: 40, bytesIn: 0, droppedPackets: 1, dropped: true, ongoing: false });
    for (let i = 0; i < 3; i += 1) {
      await store.record(incidentUpdates({ gateway: `gw${i}`, flows: [flow(`10.77.0.${i + 1}`, `203.0.113.${60 + i}:1214`, t0 + i * 1000)], clients: [], peers: [], decisions: [] }, 3));
    }
    const one = json<Page<IncidentView>>(await asReader(['incidents', 'list', '--site', 'site-i', '--limit', '1', '--json']));
    expect(one.items).toHaveLength(1);
    expect(one.nextCursor).not.toBeNull();
    const firstPage = await asReader(['incidents', 'list', '--site', 'site-i', '--limit', '1']);
    expect(firstPage.stdout).toContain(`more: add --cursor ${one.nextCursor}, or --all for every page\n`);
    const all = json<Page<IncidentView>>(await asReader(['incidents', 'list', '--site', 'site-i', '--limit', '1', '--all', '--json']));
    expect(all.items.map((i) => i.host).sort()).toEqual(['10.77.0.1', '10.77.0.2', '10.77.0.3']);
    expect(all.nextCursor).toBeNull();

    const table = await asReader(['incidents', 'list', '--site', 'site-i', '--host', '10.77.0.2']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +SITE +HOST +PROTOCOL +STATE +FIRST SEEN +LAST SEEN +GATEWAYS +PEERS +BLOCKED +RULES\n/);
    expect(table.stdout).toMatch(/ +site-i +10\.77\.0\.2 +fasttrack +open +\d{4}-.*\(\d+m ago\) +gw1 +1 +1 +udp-ping×1\n$/);

    const id = all.items.find((i) => i.host === '10.77.0.2')!.id;
    const show = await asReader(['incidents', 'show', id]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^Incident ${id} \\(open, (active|quiet)\\)\\n`));
    expect(show.stdout).toContain('Evidence (rule × times it fired):\n  RULE      COUNT\n  udp-ping  1\n');
    expect(show.stdout).toContain('Peers: 1 distinct outside peers\n  203.0.113.61:1214\n');
    expect(show.stdout).toMatch(/Sample flows: 1\n {2}SEEN .*\n {2}\d{4}-.* +gw1 +udp +203\.0\.113\.61:1214 +fasttrack +udp-ping +drop +1\/0 +40 B\/0 B\n/);
    expect(json<IncidentView>(await asReader(['incidents', 'show', id, '--json'])).samples).toHaveLength(1);
  });

  it('incidents show what identified the host first, its own last packet, and blocked attempts at once, marked provisional (issue 14 §6-8)', async () => {
    const publish = (sequence: number, spec: Parameters<typeof batch>[0], edit: (message: p2pwall.v1.ISummaryBatch) => void = () => undefined) => {
      const message = batch({ site: 'site-w', instance: 'cli-why', sequence, ...spec });
      edit(message);
      return jetstream(nc).publish(SUBJECTS.summaries('site-w', 'gw1'), p2pwall.v1.SummaryBatch.encode(message).finish(), { msgID: `cli-why:${sequence}` });
    };
    const t0 = Date.now() - 120_000;
    // the identification, as the sensor sends it: a supporting match first, then the identifying one with its detail
    await publish(1, { created: t0, clients: [{ host: '192.168.7.5', ts: t0 }] }, (message) => {
      message.events![0]!.client!.evidence = [
        { protocol: 'fasttrack', rule: 'fasttrack/x-kazaa-header', supporting: true, flow: 'tcp 192.168.7.5:40000 > 198.51.100.70:1214', packet: 3 },
        { protocol: 'fasttrack', rule: 'fasttrack/udp-ping', supporting: false, detail: 'network KaZaA', flow: 'udp 192.168.7.5:3531 > 198.51.100.71:41477', packet: 7 },
      ];
    });
    // the brain takes batches in parallel: the attempt only extends an episode, so the identification first
    await until('the incident', async () => json<Page<IncidentView>>(await asReader(['incidents', 'list', '--site', 'site-w', '--json'])).items[0]);
    // an attempt to a blocked peer, summarized at once (interim: the flow lives on), its last packet at t0 + 1 s
    const attempt = { ...flow({ host: '192.168.7.5', to: '198.51.100.72', port: 1214, proto: 'udp', ts: t0 + 1000 }), verdict: p2pwall.v1.Verdict.VERDICT_DROP, droppedPackets: 1, end: p2pwall.v1.FlowEnd.FLOW_END_ONGOING };
    await publish(2, { created: t0 + 1000, flows: [attempt] });
    const incident = await until('the incident with its blocked attempt', async () => {
      const page = json<Page<IncidentView>>(await asReader(['incidents', 'list', '--site', 'site-w', '--json']));
      return page.items.find((i) => i.attemptsBlocked > 0);
    });
    expect(incident).toMatchObject({ attemptsBlocked: 1, provisional: true, liveFlows: 1, lastSeen: new Date(t0 + 1000).toISOString() });
    const list = await asReader(['incidents', 'list', '--site', 'site-w']);
    expect(list.stdout).toMatch(/ +site-w +192\.168\.7\.5 +fasttrack +.* +1 +1\+ +fasttrack\/udp-ping×1, fasttrack\/x-kazaa-header×1\n$/);
    const show = await asReader(['incidents', 'show', incident.id]);
    expect(show.stdout).toMatch(/ identified by: +fasttrack\/udp-ping \(network KaZaA\) on udp 192\.168\.7\.5:3531 > 198\.51\.100\.71:41477, packet 7, gw1, /);
    expect(show.stdout).toContain('  blocked:        1 attempts so far\n');
    expect(show.stdout).toContain('  counts:         provisional: 1 flow is still live, counted up to their last summary\n');

    // the flow's final summary, a UDP idle timeout later (now): same totals, counted once, final
    // now, and last seen is still the flow's last packet
    await publish(3, { created: Date.now(), flows: [{ ...attempt, end: p2pwall.v1.FlowEnd.FLOW_END_IDLE }] });
    const final = await until('the final count', async () => {
      const view = json<IncidentView>(await asReader(['incidents', 'show', incident.id, '--json']));
      return view.provisional ? undefined : view;
    });
    expect(final).toMatchObject({ attemptsBlocked: 1, liveFlows: 0, lastSeen: new Date(t0 + 1000).toISOString() });
    const hostLock = json<{ items: DecisionView[] }>(await asReader(['decisions', 'list', '--scope', 'host', '--json'])).items.find((d) => d.value === '192.168.7.5');
    expect(hostLock?.reason).toBe('fasttrack client identified by site-w/gw1/0: fasttrack/udp-ping (network KaZaA) on udp 192.168.7.5:3531 > 198.51.100.71:41477, packet 7');
    const shown = await asReader(['incidents', 'show', incident.id]);
    expect(shown.stdout).toContain('  blocked:        1 attempts\n  traffic:        60 B\n\n');
  });

  // Last: it takes Redis away from the shared brain (and brings it back, empty).
  it('a brain without Redis: health exits 5 naming the check, reads exit 5 with the brain\'s message', async () => {
    await redisServer.stop();
    try {
      const health = await until('not ready', async () => {
        const run = await cli(['health', '--url', url]);
        return run.code !== 0 ? run : undefined;
      });
      expect(health.code).toBe(5);
      expect(health.stdout).toMatch(/^not ready \(HTTP 503\): .*redis DOWN/);
      const sensors = await asReader(['sensors']);
      expect(sensors.code).toBe(5);
      expect(sensors.stderr).toBe('p2pwall sensors: the brain failed (503): Redis is not connected: try again later\n');
    } finally {
      await redisServer.restart();
    }
    await until('ready again', async () => ((await cli(['health', '--url', url])).code === 0 ? true : undefined), 15_000);
    // it came back empty: the brain says the incident history is gone (issue 14 §5), and stays ready
    const warned = await until('the loss reported', async () => {
      const run = await cli(['health', '--url', url]);
      return /incident history lost/.test(run.stdout) ? run : undefined;
    }, 15_000);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(/^ready: [^\n]*redis ok[^\n]*\nWARNING incidentHistory: incident history lost at \d{4}-\d\d-\d\dT[\d:.]+Z: Redis came back without its data; incidents recorded before then are gone \(Redis keeps no append-only file \(appendonly no\): a Redis restart loses the incident history; set appendonly yes \(README "Incidents"\)\)\n$/);
  });
});
