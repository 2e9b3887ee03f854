/**
 * Network blocks end to end (issue 14 §10, CIDR blocks in `decisions add`): two sites with live
 * sensors, and in the lab's internet namespace nats-server, redis-server and `p2pwall-brain serve`
 * with its API; the built `p2pwall` CLI runs in the internet namespace, as an operator's
 * workstation would. Real TCP and UDP from the sites' clients to hosts of the lab's internet:
 *
 *   - `p2pwall decisions add 203.0.113.224/28` cuts both sites off from the hosts in that /28
 *     (kernel hash:net sets), not from a neighbour outside it;
 *   - `p2pwall allow add 203.0.113.225` lets that one address through at both sites, its
 *     neighbours in the /28 stay blocked;
 *   - a network block of one site and one transport holds only there, only for it;
 *   - `p2pwall decisions delete --network ...` removes the kernel entries, and traffic passes.
 *
 * Needs root; skipped with the reason otherwise; torn down in afterAll, also when a test fails.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRAIN_CLI, Lab, SensorProcess, ipsetMembers, labUnavailableReason, runP2pwall, startNats, startRedis, tearDownLab, until, type LabProcess, type NatsServer, type RedisServer } from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason();
const INET_HOST = '198.18.0.254';
const API_URL = `http://${INET_HOST}:8080`;
const ADMIN_TOKEN = 'lab-cidr-admin-token-0123456789';
const NETWORK = '203.0.113.224/28';
/** Two hosts inside the network, one neighbour outside it; each serves TCP and UDP echo on ECHO_PORT. */
const INSIDE = ['203.0.113.225', '203.0.113.226'] as const;
const NEIGHBOUR = '203.0.113.241';
const ECHO_PORT = 7001;
const TARGETS = [...INSIDE, NEIGHBOUR].map((ip) => `${ip}:${ECHO_PORT}`);

const prefix = `p2pwcd${Math.floor(Math.random() * 0xff).toString(16).padStart(2, '0')}`;
let lab: Lab;
let work: string;
let brain: LabProcess | undefined;
let brainOutput = '';
const servers: Array<NatsServer | RedisServer> = [];
const sensors: SensorProcess[] = [];

/** TCP and UDP echo on every address of the internet namespace. */
const ECHO_SERVER = `
const net = require('node:net');
const dgram = require('node:dgram');
net.createServer((socket) => socket.pipe(socket)).listen(${ECHO_PORT}, '0.0.0.0');
const udp = dgram.createSocket('udp4');
udp.on('message', (message, from) => udp.send(message, from.port, from.address));
udp.bind(${ECHO_PORT}, '0.0.0.0', () => console.log('echo ready'));
`;

const p2pwall = (args: string[]) => runP2pwall(lab, lab.inet, { url: API_URL, token: ADMIN_TOKEN }, args);

async function ok(args: string[]): Promise<string> {
  const run = await p2pwall(args);
  expect(run.code, `p2pwall ${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run.stdout;
}

/** Which of TARGETS a site's client reaches, by TCP connect and by UDP echo: `tcp 203.0.113.225:7001` → true. */
async function reach(site: string): Promise<Record<string, boolean>> {
  const args = TARGETS.flatMap((target) => ['--tcp', target, '--udp', target]);
  // A plain payload: the default UDP probe is a FastTrack node ping, which would make the client a P2P client.
  const probe = await lab.emulate(lab.site(site).clients[0]!.ns, 'probe', [...args, '--payload', '68656c6c6f', '--timeout', '700']).wait(30_000);
  const results = (probe.summary?.['results'] ?? []) as Array<{ kind: string; target: string; ok: boolean }>;
  return Object.fromEntries(results.map((result) => [`${result.kind} ${result.target}`, result.ok]));
}

/** The expected reach: every target listed is reachable by both transports unless `blocked` names it (`tcp ip:port`, `udp ip:port`). */
function expected(blocked: readonly string[]): Record<string, boolean> {
  return Object.fromEntries(TARGETS.flatMap((target) => ['tcp', 'udp'].map((kind) => `${kind} ${target}`)).map((key) => [key, !blocked.includes(key)]));
}
const both = (ip: string): string[] => [`tcp ${ip}:${ECHO_PORT}`, `udp ${ip}:${ECHO_PORT}`];

const members = (site: string, set: string): Promise<string[]> => ipsetMembers(lab, lab.site(site).gateway, set);

/** Waits until `set` at both gateways holds (or, with present false, no longer holds) `entry`. */
async function atBothGateways(set: string, entry: string, present = true): Promise<number> {
  const start = Date.now();
  await until(`${entry} ${present ? 'in' : 'out of'} ${set} at both gateways`, 5000, async () => {
    const [a, b] = await Promise.all([members('a', set), members('b', set)]);
    return a.includes(entry) === present && b.includes(entry) === present ? true : undefined;
  });
  return Date.now() - start;
}

describe.skipIf(UNAVAILABLE !== '')(`network blocks at every gateway${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a', 'b'], clientsPerSite: 1 });
    work = mkdtempSync(join(tmpdir(), 'p2pwall-cidr-'));
    servers.push(await startNats({ namespace: lab.inet, host: INET_HOST }));
    servers.push(await startRedis({ namespace: lab.inet, host: INET_HOST }));
    const [nats, redis] = servers as [NatsServer, RedisServer];
    for (const ip of [...INSIDE, NEIGHBOUR]) await lab.exec(lab.inet, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    const echo = lab.spawn(lab.inet, process.execPath, ['-e', ECHO_SERVER], { detached: true, output: join(work, 'echo.log'), role: 'echo' });
    await until('echo servers', 10_000, () => (readFileSync(join(work, 'echo.log'), 'utf8').includes('echo ready') ? echo : undefined), 50);

    const config = join(work, 'brain.json');
    // JSON is YAML.
    writeFileSync(config, JSON.stringify({ nats: { servers: [nats.url] }, redis: { url: redis.url }, blocklist: { sweepSeconds: 1 }, api: { listen: { host: INET_HOST, port: 8080 }, tokens: { admin: [ADMIN_TOKEN] } }, telemetry: { listen: { port: 0 } } }));
    brainOutput = join(work, 'brain.log');
    brain = lab.spawn(lab.inet, process.execPath, [BRAIN_CLI, 'serve', '--config', config], { detached: true, output: brainOutput, role: 'brain' });
    await until('brain API ready', 20_000, async () => ((await p2pwall(['health'])).code === 0 ? true : undefined), 100).catch((error: unknown) => {
      throw new Error(`${String(error)}: ${readFileSync(brainOutput, 'utf8').slice(-2000)}`, { cause: error });
    });
    for (const site of ['a', 'b']) {
      const uplink = { nats: { servers: [nats.url], heartbeatSeconds: 1 }, redis: { url: redis.url, snapshotFile: join(work, `${site}.snapshot`) } };
      sensors.push(await SensorProcess.start({ namespace: lab.site(site).gateway, config: { site, gateway: 'gw1', onExit: 'remove', log: { level: 'debug' }, uplink } }));
    }
  }, 120_000);

  afterAll(() => tearDownLab({ sensors, processes: [brain], lab, servers, work }), 90_000);

  it('a /28 is cut off at both sites, an allowed address inside it gets through, its neighbours do not; deleting the block clears the kernel', async () => {
    expect(await reach('a')).toEqual(expected([]));

    const added = await ok(['decisions', 'add', NETWORK, '--reason', 'lab: abusive hoster', '--expires', '1h']);
    expect(added).toContain(`block network ${NETWORK}`);
    console.log('decisions add NET/LEN returned → in both gateways’ sets', await atBothGateways('p2pwall-net4', NETWORK), 'ms later');
    const cutOff = expected([...INSIDE.flatMap(both)]);
    expect(await reach('a')).toEqual(cutOff);
    expect(await reach('b')).toEqual(cutOff);
    expect(await ok(['decisions', 'list', '--scope', 'network'])).toMatch(new RegExp(`net:203\\.0\\.113\\.224/28 .*network +${NETWORK.replace(/\./g, '\\.')}`));

    await ok(['allow', 'add', INSIDE[0], '--reason', 'lab: the one good host']);
    await atBothGateways('p2pwall-netx4', INSIDE[0]);
    const excepted = expected(both(INSIDE[1]));
    expect(await reach('a')).toEqual(excepted);
    expect(await reach('b')).toEqual(excepted);
    // The allow entry did not lift the network block: it is still listed and in the kernel.
    expect(await members('a', 'p2pwall-net4')).toEqual([NETWORK]);

    // One site, one transport: site b drops UDP to the neighbour's /32 network, site a nothing more.
    await ok(['decisions', 'add', `${NEIGHBOUR}/32`, '--site', 'b', '--transport', 'udp', '--reason', 'lab: b only']);
    await until('b’s UDP network set', 5000, async () => ((await members('b', 'p2pwall-netu4')).includes(NEIGHBOUR) ? true : undefined));
    expect(await members('a', 'p2pwall-netu4')).toEqual([]);
    expect(await reach('b')).toEqual(expected([...both(INSIDE[1]), `udp ${NEIGHBOUR}:${ECHO_PORT}`]));
    expect(await reach('a')).toEqual(excepted);

    expect(await ok(['decisions', 'delete', '--network', NETWORK])).toBe(`removed net:${NETWORK}\n`);
    await ok(['decisions', 'delete', `net:udp:${NEIGHBOUR}/32@b`]);
    await atBothGateways('p2pwall-net4', NETWORK, false);
    await until('b’s UDP network set empty', 5000, async () => ((await members('b', 'p2pwall-netu4')).length === 0 ? true : undefined));
    expect(await reach('a')).toEqual(expected([]));
    expect(await reach('b')).toEqual(expected([]));
  }, 120_000);
});
