/**
 * The namespace lab for real: namespaces, veths, bridges, routes, and the emulators run as the
 * built CLI (`node lab/dist/cli.js emulate …`) inside them, with no firewall anywhere. Needs root
 * and iproute2; skipped with the reason otherwise. Every lab gets a random prefix and is torn
 * down in `finally`/`afterAll`, so a failing test leaves nothing behind.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KAZAA_SUPERNODE, KAZAA_UPLOADER, LAB_CLI, LAB_HOSTS, Lab, labUnavailableReason, listNamespaces, peerCache, type LabProcess, type LogEntry } from '../src/index.js';

const execFileAsync = promisify(execFile);
const UNAVAILABLE = labUnavailableReason();
const SKIP = UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : '';

function randomPrefix(): string {
  return `p2pwt${Math.floor(Math.random() * 0xfff)
    .toString(16)
    .padStart(3, '0')}`;
}

async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  return (await listNamespaces()).filter((ns) => ns.startsWith(`${prefix}-`));
}

/** Interface names of the root namespace. */
async function rootLinks(): Promise<string[]> {
  const { stdout } = await execFileAsync('ip', ['-br', 'link']);
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/)[0]!.split('@')[0]!)
    .sort();
}

/** Pids of live processes whose command line mentions the text (the lab's state and log paths hold its prefix). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

const count = (entries: LogEntry[], event: string) => entries.filter((e) => e.event === event).length;

describe.skipIf(UNAVAILABLE !== '')(`namespace lab with two sites, no firewall${SKIP}`, () => {
  const prefix = randomPrefix();
  let lab: Lab;
  let peers: LabProcess;
  let servers: LabProcess;
  let rootLinksBefore: string[];
  let rootForwardBefore: string;

  beforeAll(async () => {
    if (!existsSync(LAB_CLI)) throw new Error(`${LAB_CLI} is missing: run npm run build first`);
    rootLinksBefore = await rootLinks();
    rootForwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    lab = await Lab.up({ prefix, sites: ['a', 'b'], clientsPerSite: 3 });
    peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '90']);
    servers = lab.emulate(lab.inet, 'benign-servers', ['--duration', '90']);
    await Promise.all([peers.ready(15_000), servers.ready(15_000)]);
  }, 30_000);

  afterAll(async () => {
    await Lab.down(prefix);
  }, 30_000);

  it('makes the namespaces and addresses of the plan, forwarding only in gateways, nothing in the root namespace', async () => {
    expect((await namespacesWithPrefix(prefix)).sort()).toEqual([...lab.plan.namespaces].sort());
    const a = lab.site('a');
    expect(a.gateway).toBe(`${prefix}-a-gw`);
    expect(a.clients[0]).toMatchObject({ ns: `${prefix}-a-c1`, ipv4: '192.168.1.5', ipv6: 'fd00:1::5' });
    const sysctl = async (ns: string, key: string) => (await lab.exec(ns, 'sysctl', ['-n', key])).stdout.trim();
    expect(await sysctl(a.gateway, 'net.ipv4.ip_forward')).toBe('1');
    expect(await sysctl(lab.site('b').gateway, 'net.ipv6.conf.all.forwarding')).toBe('1');
    expect(await sysctl(lab.inet, 'net.ipv4.ip_forward')).toBe('0');
    expect(await sysctl(a.clients[0]!.ns, 'net.ipv4.ip_forward')).toBe('0');
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(rootForwardBefore);
    expect(await rootLinks()).toEqual(rootLinksBefore);
    const inetAddresses = (await lab.exec(lab.inet, 'ip', ['-br', 'addr', 'show', 'dev', 'lo'])).stdout;
    for (const peer of peerCache(200)) expect(inetAddresses).toContain(` ${peer.ip}/32`);
    expect(inetAddresses).toContain(`${LAB_HOSTS.web}/32`);
    await expect(Lab.up({ prefix })).rejects.toThrow(/already exists.*down --prefix/);
  });

  it('lets clients of both sites reach the web server (HTTP 200) and a peer UDP port through their gateways, without NAT', async () => {
    const peer = peerCache(200)[0]!;
    for (const site of ['a', 'b']) {
      const client = lab.site(site).clients[2]!;
      const probe = lab.emulate(client.ns, 'probe', ['--http', `http://${LAB_HOSTS.web}/`, '--udp', `${peer.ip}:${peer.port}`, '--tcp', `${peer.ip}:${peer.port}`, '--hello']);
      const { summary, code } = await probe.wait(15_000);
      expect(code).toBe(0);
      expect(summary).toMatchObject({ ok: true, results: [{ kind: 'udp', outcome: 'reply', bytes: 17 }, { kind: 'tcp', outcome: 'hello-answered' }, { kind: 'http', outcome: 'http-200' }] });
      // The peer saw the client's own address: routed, not translated.
      expect(peers.readLog().some((e) => e.event === 'udp-ping' && String(e.from).startsWith(`${client.ipv4}:`))).toBe(true);
      expect(servers.readLog().some((e) => e.event === 'http' && String(e.remote).startsWith(`${client.ipv4}:`))).toBe(true);
    }
  });

  it('carries IPv6: an ICMPv6 echo and HTTP from a client to the internet, and an IPv4 echo across the WAN', async () => {
    const client = lab.site('a').clients[0]!;
    expect(await lab.ping(client.ns, '2001:db8:0:113::250')).toBe(true);
    expect(await lab.ping(lab.site('b').clients[1]!.ns, '198.51.100.123')).toBe(true);
    expect(await lab.ping(lab.site('b').gateway, '2001:db8:ffff::254')).toBe(true);
    const probe = lab.emulate(client.ns, 'probe', ['--http', 'http://[2001:db8:0:113::250]/', '--udp', '[2001:db8:0:100::153]:53']);
    expect((await probe.wait(15_000)).summary).toMatchObject({ ok: true });
    expect(servers.readLog().some((e) => e.event === 'http' && String(e.remote).startsWith('[fd00:1::5]:'))).toBe(true);
  });

  it('times out, rather than refuses, a connect to an address nobody holds (silently dropped, like a firewall DROP)', async () => {
    const probe = lab.emulate(lab.site('a').clients[1]!.ns, 'probe', ['--tcp', '203.0.113.251:1214', '--timeout', '800']);
    expect((await probe.wait(15_000)).summary).toMatchObject({ ok: false, results: [{ kind: 'tcp', outcome: 'timeout' }] });
  });

  it("kazaa-client's start-up against fasttrack-peers: ~200 pings logged, pongs, handshakes, the download", async () => {
    const client = lab.site('a').clients[0]!;
    const before = peers.readLog().length;
    const kazaa = lab.emulate(client.ns, 'kazaa-client');
    const { code, summary } = await kazaa.wait(60_000);
    expect(code).toBe(0);
    expect(summary).toMatchObject({
      role: 'kazaa-client',
      udp: { pingsSent: 200, sendErrors: 0 },
      parallel: { attempts: 20, connected: 20, hellos: 20 },
      serial: { attempts: 20, connected: 20, hellos: 20 },
      download: { outcome: 'ok', status: 206, kazaaIp: `${KAZAA_UPLOADER.ip}:${KAZAA_UPLOADER.port}` },
    });
    const udp = summary!.udp as { pongs: number };
    expect(udp.pongs).toBeGreaterThanOrEqual(195);
    const seen = peers.readLog().slice(before);
    const pings = seen.filter((e) => e.event === 'udp-ping' && e.from === `${client.ipv4}:3531`);
    expect(pings.length).toBeGreaterThanOrEqual(195);
    expect(pings.length).toBeLessThanOrEqual(200);
    expect(count(seen, 'tcp-accept')).toBe(41);
    expect(count(seen, 'hello-answered')).toBe(40);
    expect(seen.find((e) => e.event === 'download-served')).toMatchObject({
      peer: `${KAZAA_UPLOADER.ip}:${KAZAA_UPLOADER.port}`,
      username: 'alice',
      network: 'KaZaA',
      clientSupernodeIp: `${KAZAA_SUPERNODE.ip}:${KAZAA_SUPERNODE.port}`,
      clientKazaaIp: `${client.ipv4}:3531`,
    });
    // The client's log has every attempt with its outcome and time.
    const log = kazaa.readLog();
    expect(count(log, 'ping')).toBe(200);
    expect(count(log, 'connect')).toBe(41);
    expect(log.every((e) => typeof e.ts === 'number')).toBe(true);
    console.info(`kazaa-client start-up without firewall: ${String(summary!.startupMs)} ms (UDP phase ${(summary!.udp as { ms: number }).ms} ms incl. the pong window)`);
  });

  it('benign-client succeeds on HTTP, DNS, NTP and a 20 MB bulk download, over IPv4 and IPv6', async () => {
    const host = lab.site('b').clients[2]!;
    const { code, summary } = await lab.emulate(host.ns, 'benign-client').wait(60_000);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ allOk: true, http: { ok: true, status: 200 }, dns: { ok: true }, ntp: { ok: true }, bulk: { ok: true, bytes: 20_000_000 } });
    const bulk = summary!.bulk as { bytesPerSecond: number; ms: number };
    expect(bulk.bytesPerSecond).toBeGreaterThan(20_000_000);
    const v6 = await lab.emulate(host.ns, 'benign-client', ['--ipv6', '--bulk-bytes', '5000000']).wait(60_000);
    expect(v6.summary).toMatchObject({ allOk: true, family: 6 });
    console.info(`benign bulk without firewall: ${(bulk.bytesPerSecond / 1e6).toFixed(0)} MB/s (20 MB in ${bulk.ms} ms)`);
  });

  it('down removes every namespace and process and the state, and leaves the root namespace as it was', async () => {
    const pids = [peers.pid, servers.pid];
    expect(pids.every(alive)).toBe(true);
    const report = await lab.down();
    expect(report.leftover).toEqual([]);
    expect(report.namespaces.sort()).toEqual([...lab.plan.namespaces].sort());
    expect(await namespacesWithPrefix(prefix)).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(processesMentioning(`/${prefix}/`)).toEqual([]);
    expect(existsSync(lab.stateDir)).toBe(false);
    expect(await rootLinks()).toEqual(rootLinksBefore);
    expect(peers.running || servers.running).toBe(false);
  });
});

describe.skipIf(UNAVAILABLE !== '')(`p2pwall-lab down after a crash${SKIP}`, () => {
  const prefix = randomPrefix();
  afterAll(async () => {
    await Lab.down(prefix);
  }, 30_000);

  it('kills detached emulators, orphaned and untracked processes, and removes the namespaces and state', async () => {
    const cli = (...args: string[]) => execFileAsync(process.execPath, [LAB_CLI, ...args], { timeout: 30_000 });
    // A CLI that started servers and went away, like a crashed owner: they keep running.
    const up = await cli('up', '--prefix', prefix, '--clients', '2', '--servers', '--servers-duration', '120');
    expect(up.stdout).toContain(`${prefix}-a-gw`);
    // A test that attached, spawned, and "crashed" without down.
    const orphan = Lab.attach(prefix);
    const sleeper = orphan.spawn(`${prefix}-a-c1`, 'sleep', ['600']);
    // A process nobody tracked, started straight with ip netns exec.
    const stray = spawn('ip', ['netns', 'exec', `${prefix}-a-gw`, 'sleep', '600'], { stdio: 'ignore', detached: true });
    stray.unref();
    await new Promise((r) => setTimeout(r, 200));

    const status = JSON.parse((await cli('status', '--prefix', prefix, '--json')).stdout) as { exists: boolean; processes: { role?: string; alive: boolean; pid: number }[] };
    expect(status.exists).toBe(true);
    const tracked = status.processes.filter((p) => p.alive);
    expect(tracked.map((p) => p.role ?? 'sleep').sort()).toEqual(['benign-servers', 'fasttrack-peers', 'sleep']);
    await expect(cli('up', '--prefix', prefix)).rejects.toMatchObject({ stderr: expect.stringMatching(/already exists.*down --prefix/) });

    const down = await cli('down', '--prefix', prefix);
    expect(down.stdout).toMatch(/removed 4 namespaces/);
    expect(await namespacesWithPrefix(prefix)).toEqual([]);
    const pids = [...tracked.map((p) => p.pid), sleeper.pid, stray.pid!];
    const deadline = Date.now() + 3000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
    expect(processesMentioning(`/${prefix}/`)).toEqual([]);
    expect(existsSync(orphan.stateDir)).toBe(false);
    expect((await cli('status', '--prefix', prefix)).stdout).toContain('no lab');
    // down again: nothing to do, no error.
    expect((await cli('down', '--prefix', prefix)).stdout).toMatch(/removed 0 namespaces/);
  });
});

describe.skipIf(UNAVAILABLE !== '')(`p2pwall-lab down --all and the demo's --prefix: only labs this tool made${SKIP}`, () => {
  const prefix = randomPrefix();
  // A namespace of a lab's shape that this tool did not make (another tool's, or a person's).
  const foreign = `${randomPrefix().replace('p2pwt', 'p2pwf')}-inet`;
  const stateRoot = mkdtempSync(join(tmpdir(), 'p2pw-labstate-'));
  const cli = (...args: string[]) => execFileAsync(process.execPath, [LAB_CLI, ...args], { timeout: 30_000, env: { ...process.env, P2PWALL_LAB_STATE: stateRoot } });
  afterAll(async () => {
    await Lab.down(prefix, { stateRoot });
    await execFileAsync('ip', ['netns', 'del', foreign]).catch(() => undefined);
    rmSync(stateRoot, { recursive: true, force: true });
  }, 30_000);

  it('down --all removes the labs with state and leaves a look-alike namespace; the demo refuses a prefix in use', async () => {
    await execFileAsync('ip', ['netns', 'add', foreign]);
    await cli('up', '--prefix', prefix, '--clients', '1', '--peers', '0');
    const demo = await cli('demo', '--prefix', prefix).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(demo).toMatchObject({ code: 1, stderr: expect.stringMatching(new RegExp(`already exists.*down --prefix ${prefix}.*another --prefix`)) });
    expect(await namespacesWithPrefix(prefix)).toHaveLength(3);

    const down = await cli('down', '--all');
    expect(down.stdout).toMatch(new RegExp(`lab "${prefix}": removed 3 namespaces`));
    expect(down.stdout).not.toContain(foreign.slice(0, -'-inet'.length));
    expect(await namespacesWithPrefix(prefix)).toEqual([]);
    expect(await listNamespaces()).toContain(foreign);
  });
});
