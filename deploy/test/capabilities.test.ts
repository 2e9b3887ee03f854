import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO } from './helm.js';

// The chart grants the sensor CAP_NET_ADMIN and CAP_NET_RAW and nothing else. This proves on
// the real kernel that both are needed and that they suffice: the built sensor, run as root but
// with a bounding set of just these and no-new-privs (what `capabilities: {drop: [ALL], add:
// [...]}` and allowPrivilegeEscalation: false give a container), installs its iptables rules
// and ipset sets and answers NFQUEUE packets, inside a network namespace of its own. NET_RAW
// is not for legacy iptables only: iptables' set match (-m set), nft backend included, looks
// its sets up through a raw socket.

const SENSOR_CLI = join(REPO, 'services/sensor/dist/cli.js');
const TOOLS = ['ip', 'setpriv', 'iptables-nft', 'iptables-nft-restore', 'iptables-legacy', 'ipset', 'ping'];
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = [...TOOLS.filter((tool) => !have(tool)), ...(existsSync(SENSOR_CLI) ? [] : ['the built sensor (npm run build)'])];
const isRoot = process.getuid?.() === 0;
const reason = !isRoot ? 'needs root (network namespaces)' : missing.length > 0 ? `missing ${missing.join(', ')}` : '';
if (reason) console.warn(`capabilities.test.ts skipped: ${reason}`);

const NAMESPACE = `p2pw-cap-${process.pid}`;
const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const CAPS = ['net_admin', 'net_raw'];

/** argv that runs a command in the namespace as root limited to these capabilities. */
const limited = (caps: string[], argv: string[]) => ['ip', 'netns', 'exec', NAMESPACE, 'setpriv', `--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`, '--inh-caps=-all', '--no-new-privs', '--', ...argv];

function run(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Rows of the namespace's /proc/net/netfilter/nfnetlink_queue: queue, portid, ..., id_sequence. */
function queueRows(): number[][] {
  const text = run(['ip', 'netns', 'exec', NAMESPACE, 'cat', '/proc/net/netfilter/nfnetlink_queue']).out;
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => line.trim().split(/\s+/).map(Number));
}

describe.skipIf(reason !== '')('sensor capabilities on the real kernel', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const envs: Record<'nft' | 'legacy', NodeJS.ProcessEnv> = { nft: {}, legacy: {} };
  let config: string;
  let sensor: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pwall-caps-'));
    // `iptables` resolves to iptables-nft whatever this machine's alternative says, as in the
    // image; the legacy links mirror the image's directory for iptablesBackend: legacy.
    const path = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin';
    for (const backend of ['nft', 'legacy'] as const) {
      const bin = join(dir, backend);
      await mkdir(bin);
      for (const tool of ['iptables', 'ip6tables']) {
        for (const suffix of ['', '-restore', '-save']) await symlink(`/usr/sbin/${tool}-${backend}${suffix}`, join(bin, `${tool}${suffix}`));
      }
      envs[backend] = { ...process.env, PATH: `${bin}:${path}` };
    }
    env = envs.nft;
    config = join(dir, 'sensor.yaml');
    // Fail-closed on OUTPUT: a ping in the namespace gets through only if the sensor answers it.
    await writeFile(config, stringify({ site: 'caps', gateway: 'probe', hooks: { forward: false, output: true }, queue: { numbers: [0], failOpen: false }, ipv6: false, storefile: null, kernel: { setPrefix: 'p2pwcap' } }));
    expect(run(['ip', 'netns', 'add', NAMESPACE]).code).toBe(0);
    expect(run(['ip', '-n', NAMESPACE, 'link', 'set', 'lo', 'up']).code).toBe(0);
  });

  afterAll(async () => {
    if (sensor && sensor.exitCode === null) sensor.kill('SIGKILL');
    run(['ip', 'netns', 'del', NAMESPACE]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(['nft', 'legacy'] as const)('installs, shows and removes its %s iptables rules and ipset sets with NET_ADMIN and NET_RAW', (backend) => {
    for (const action of ['install', 'show', 'remove']) {
      const result = run(limited(CAPS, [process.execPath, SENSOR_CLI, 'rules', action, '--config', config]), envs[backend]);
      expect(result.code, `rules ${action}: ${result.out}`).toBe(0);
      if (action === 'show') expect(result.out).toContain('-A P2PWCAP -m set --match-set p2pwcap-peer-ip4');
    }
  });

  it('cannot install its rules with NET_ADMIN alone: the set match needs a raw socket', () => {
    const result = run(limited(['net_admin'], [process.execPath, SENSOR_CLI, 'rules', 'install', '--config', config]), env);
    expect(result.code).not.toBe(0);
    expect(result.out).toContain("Can't open socket to ipset");
    run(limited(CAPS, [process.execPath, SENSOR_CLI, 'rules', 'remove', '--config', config]), env);
  });

  it('opens its NFQUEUE and answers packets with NET_ADMIN and NET_RAW', async () => {
    // Fail-closed and nobody listening: the kernel drops what it would queue.
    expect(run(limited(CAPS, [process.execPath, SENSOR_CLI, 'rules', 'install', '--config', config]), env).code).toBe(0);
    expect(run(['ip', 'netns', 'exec', NAMESPACE, 'ping', '-c', '1', '-W', '1', '127.0.0.1']).code).not.toBe(0);

    let log = '';
    const argv = limited(CAPS, [process.execPath, SENSOR_CLI, 'run', '--config', config]);
    sensor = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    sensor.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    sensor.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const started = Date.now();
    while (!queueRows().some((row) => row[0] === 0 && row[1] !== 0) && sensor.exitCode === null && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 100));
    expect(sensor.exitCode, log).toBeNull();
    expect(queueRows().find((row) => row[0] === 0), log).toBeDefined();

    // ip netns exec and setpriv exec in place: the pid is node's. Its effective set is these two only.
    const status = await readFile(`/proc/${sensor.pid}/status`, 'utf8');
    const effective = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)![1]}`);
    expect(effective).toBe((1n << BigInt(CAP_NET_ADMIN)) | (1n << BigInt(CAP_NET_RAW)));

    const ping = run(['ip', 'netns', 'exec', NAMESPACE, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '127.0.0.1']);
    expect(ping.code, `${ping.out}\n${log}`).toBe(0);
    const [, , , , , queueDropped, userDropped, idSequence] = queueRows().find((row) => row[0] === 0)!;
    expect({ queueDropped, userDropped }).toEqual({ queueDropped: 0, userDropped: 0 });
    // Fail-closed: the pings got through only because the sensor gave the queued packets their
    // verdicts (after the first, a connection judged clean skips the queue).
    expect(idSequence).toBeGreaterThanOrEqual(1);

    sensor.kill('SIGTERM');
    const code = await new Promise<number | null>((done) => (sensor!.exitCode !== null ? done(sensor!.exitCode) : sensor!.once('exit', (c) => done(c))));
    expect(code, log).toBe(0);
  });
});
