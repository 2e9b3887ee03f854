/**
 * Network namespaces for tests that need the real kernel (iptables, ipset, NFQUEUE, packets).
 * Every namespace is uniquely named (p2pw-t-<random>), and every one a test creates is deleted by
 * its disposer; a process-exit hook deletes any a crashed test left behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { prefixedRunner, runChecked, type CommandResult, type CommandRunner, type RunOptions } from '../../src/enforce/command-runner.js';

const NAME_PREFIX = 'p2pw-t-';
const live = new Set<string>();

process.on('exit', () => {
  for (const name of live) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
});

function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let cachedReason: string | null | undefined;

/**
 * Why namespace tests cannot run here, or null when they can: root, the tools, and a namespace
 * that can really be created (containers without CAP_SYS_ADMIN fail there).
 */
export function netnsSkipReason(): string | null {
  if (cachedReason !== undefined) return cachedReason;
  cachedReason = findSkipReason();
  return cachedReason;
}

function findSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, iptables, ipset)';
  const missing = ['ip', 'sysctl', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'ipset'].filter((tool) => !onPath(tool));
  if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install iproute2 procps iptables ipset)`;
  const probe = `${NAME_PREFIX}probe-${randomBytes(4).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (error) {
    return `cannot create a network namespace: ${(error as Error).message.split('\n')[0]}`;
  }
  return null;
}

/** A test title that says why it was skipped, since vitest prints no reason for skipIf. */
export function titleWithSkipReason(title: string): string {
  const reason = netnsSkipReason();
  return reason === null ? title : `${title} (skipped: ${reason})`;
}

/** A program left running inside a namespace (a server); killed by pid when the namespace goes. */
export interface BackgroundProcess {
  readonly child: ChildProcess;
  output(): string;
  stop(): void;
}

export interface Netns {
  readonly name: string;
  /** Runs commands inside the namespace (`ip netns exec NAME ...`). */
  readonly runner: CommandRunner;
  /** Runs a command inside; a non-zero exit throws CommandError. */
  exec(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Starts a program inside and resolves once its stdout contains `readyText`. */
  background(command: string, args: readonly string[], readyText: string): Promise<BackgroundProcess>;
  /** Stops background programs and deletes the namespace; safe to call twice. */
  dispose(): Promise<void>;
}

export async function createNetns(label = ''): Promise<Netns> {
  const name = `${NAME_PREFIX}${randomBytes(4).toString('hex')}${label ? `-${label}` : ''}`;
  await runChecked(prefixedRunner([]), 'ip', ['netns', 'add', name]);
  live.add(name);
  const runner = prefixedRunner(['ip', 'netns', 'exec', name]);
  const processes: BackgroundProcess[] = [];
  const netns: Netns = {
    name,
    runner,
    exec: (command, args, options) => runChecked(runner, command, args, options),
    async background(command, args, readyText) {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const proc: BackgroundProcess = {
        child,
        output: () => output,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        },
      };
      processes.push(proc);
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          output += chunk.toString('utf8');
          if (output.includes(readyText)) resolve();
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.on('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready: ${output}`)));
        child.on('error', reject);
      });
      return proc;
    },
    async dispose() {
      for (const proc of processes) proc.stop();
      await Promise.all(processes.map((proc) => (proc.child.exitCode === null && proc.child.signalCode === null ? new Promise((resolve) => proc.child.once('exit', resolve)) : null)));
      processes.length = 0;
      if (!live.has(name)) return;
      await prefixedRunner([]).run('ip', ['netns', 'del', name]);
      live.delete(name);
    },
  };
  // Instant IPv6 addresses: no duplicate address detection on links created later in here.
  await netns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  await netns.exec('ip', ['link', 'set', 'lo', 'up']);
  return netns;
}

/** Creates namespaces and always disposes them, even when `body` throws. */
export async function withNetns<T>(labels: readonly string[], body: (namespaces: Netns[]) => Promise<T>): Promise<T> {
  const namespaces: Netns[] = [];
  try {
    for (const label of labels) namespaces.push(await createNetns(label));
    return await body(namespaces);
  } finally {
    for (const netns of namespaces.reverse()) await netns.dispose();
  }
}

async function veth(a: Netns, aName: string, b: Netns, bName: string): Promise<void> {
  await runChecked(prefixedRunner([]), 'ip', ['link', 'add', aName, 'netns', a.name, 'type', 'veth', 'peer', 'name', bName, 'netns', b.name]);
}

async function address(netns: Netns, device: string, ...cidrs: string[]): Promise<void> {
  for (const cidr of cidrs) await netns.exec('ip', ['addr', 'add', cidr, 'dev', device, ...(cidr.includes(':') ? ['nodad'] : [])]);
  await netns.exec('ip', ['link', 'set', device, 'up']);
}

async function macAddress(netns: Netns, device: string): Promise<string> {
  const { stdout } = await netns.exec('ip', ['-j', 'link', 'show', 'dev', device]);
  const [link] = JSON.parse(stdout) as Array<{ address: string }>;
  if (!link) throw new Error(`no link ${device} in ${netns.name}`);
  return link.address;
}

async function staticNeighbour(netns: Netns, device: string, ip: string, owner: Netns, ownerDevice: string): Promise<void> {
  await netns.exec('ip', ['neigh', 'replace', ip, 'lladdr', await macAddress(owner, ownerDevice), 'dev', device, 'nud', 'permanent']);
}

/** Addresses of the routed lab (documentation ranges only). */
export const LAB = {
  client4: '198.51.100.2',
  client6: '2001:db8:1::2',
  server4: '203.0.113.2',
  server6: '2001:db8:2::2',
} as const;

export interface RoutedLab {
  client: Netns;
  gateway: Netns;
  server: Netns;
  dispose(): Promise<void>;
}

/**
 * client ── gateway ── server, IPv4 and IPv6, the gateway forwarding: the FORWARD hook of a real
 * router. client 198.51.100.2 / 2001:db8:1::2, server 203.0.113.2 / 2001:db8:2::2.
 */
export async function createRoutedLab(): Promise<RoutedLab> {
  const made: Netns[] = [];
  const dispose = async (): Promise<void> => {
    for (const netns of made.reverse()) await netns.dispose();
  };
  try {
    const client = await createNetns('cli');
    made.push(client);
    const gateway = await createNetns('gw');
    made.push(gateway);
    const server = await createNetns('srv');
    made.push(server);
    await veth(client, 'eth0', gateway, 'inside');
    await veth(server, 'eth0', gateway, 'outside');
    await address(client, 'eth0', `${LAB.client4}/24`, `${LAB.client6}/64`);
    await address(server, 'eth0', `${LAB.server4}/24`, `${LAB.server6}/64`);
    await address(gateway, 'inside', '198.51.100.1/24', '2001:db8:1::1/64');
    await address(gateway, 'outside', '203.0.113.1/24', '2001:db8:2::1/64');
    await gateway.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    for (const [end, v4, v6] of [[client, '198.51.100.1', '2001:db8:1::1'], [server, '203.0.113.1', '2001:db8:2::1']] as const) {
      await end.exec('ip', ['route', 'add', 'default', 'via', v4]);
      await end.exec('ip', ['-6', 'route', 'add', 'default', 'via', v6]);
    }
    // On links this fresh, the first IPv6 packet was often lost to neighbour discovery (measured:
    // the first connection took a 1 s SYN retransmission about half the time). Fixed neighbours
    // make every run the same.
    await staticNeighbour(client, 'eth0', '2001:db8:1::1', gateway, 'inside');
    await staticNeighbour(gateway, 'inside', LAB.client6, client, 'eth0');
    await staticNeighbour(gateway, 'outside', LAB.server6, server, 'eth0');
    await staticNeighbour(server, 'eth0', '2001:db8:2::1', gateway, 'outside');
    return { client, gateway, server, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** An echo server on each port (IPv4 and IPv6), inside `netns`; stopped when the namespace is disposed. */
export async function startEchoServer(netns: Netns, ports: readonly number[]): Promise<BackgroundProcess> {
  const script = `
    const net = require('node:net');
    const ports = process.argv.slice(1).map(Number);
    let listening = 0;
    for (const port of ports) {
      net.createServer((socket) => { socket.on('error', () => {}); socket.pipe(socket); })
        .listen({ port, host: '::', ipv6Only: false }, () => { if (++listening === ports.length) console.log('ready'); });
    }`;
  return netns.background(process.execPath, ['-e', script, ...ports.map(String)], 'ready');
}

export interface ConnectResult {
  target: string;
  ok: boolean;
  error?: string;
}

/**
 * From inside `netns`, opens a TCP connection to each `host:port` (IPv6 as [addr]:port) at once,
 * sends a line and waits for its echo. A connection counts as ok only when the echo came back.
 */
export async function tryConnect(netns: Netns, targets: readonly string[], timeoutMs = 800): Promise<ConnectResult[]> {
  const script = `
    const net = require('node:net');
    const [timeoutMs, ...targets] = process.argv.slice(1);
    const attempt = (target) => new Promise((resolve) => {
      const at = target.lastIndexOf(':');
      const host = target.slice(0, at).replace(/^\\[|\\]$/g, '');
      const socket = net.connect({ host, port: Number(target.slice(at + 1)) });
      const done = (ok, error) => { clearTimeout(timer); socket.destroy(); resolve({ target, ok, ...(error ? { error } : {}) }); };
      const timer = setTimeout(() => done(false, 'timeout'), Number(timeoutMs));
      socket.on('connect', () => socket.write('p2pwall\\n'));
      socket.on('data', (data) => { if (data.toString().includes('p2pwall')) done(true); });
      socket.on('error', (error) => done(false, error.code ?? error.message));
    });
    Promise.all(targets.map(attempt)).then((results) => console.log(JSON.stringify(results)));`;
  const result = await netns.exec(process.execPath, ['-e', script, String(timeoutMs), ...targets]);
  return JSON.parse(result.stdout) as ConnectResult[];
}

/** Splits `host:port` (IPv6 as `[addr]:port`) as tryConnect and tryUdpEcho take their targets. */
const ENDPOINT_SPLIT = `
    const splitEndpoint = (target) => {
      const at = target.lastIndexOf(':');
      return { host: target.slice(0, at).replace(/^\\[|\\]$/g, ''), port: Number(target.slice(at + 1)) };
    };`;

/**
 * A UDP echo server on each `host:port` (IPv6 as [addr]:port), inside `netns`; stopped when the
 * namespace is disposed. One socket per address, not one on the wildcard: a wildcard socket
 * answers from the address the kernel picks, and a connected client would drop a reply from
 * another address of the same host.
 */
export async function startUdpEchoServer(netns: Netns, endpoints: readonly string[]): Promise<BackgroundProcess> {
  const script = `${ENDPOINT_SPLIT}
    const dgram = require('node:dgram');
    const endpoints = process.argv.slice(1).map(splitEndpoint);
    let listening = 0;
    for (const { host, port } of endpoints) {
      const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      socket.on('message', (message, from) => socket.send(message, from.port, from.address));
      socket.on('error', () => {});
      socket.bind(port, host, () => { if (++listening === endpoints.length) console.log('ready'); });
    }`;
  return netns.background(process.execPath, ['-e', script, ...endpoints], 'ready');
}

/**
 * From inside `netns`, sends a datagram to each `host:port` (IPv6 as [addr]:port) at once, again
 * every 200 ms, from a socket connected to the target. A target counts as ok only when an echo
 * came back from it before the timeout.
 */
export async function tryUdpEcho(netns: Netns, targets: readonly string[], timeoutMs = 800): Promise<ConnectResult[]> {
  const script = `${ENDPOINT_SPLIT}
    const dgram = require('node:dgram');
    const [timeoutMs, ...targets] = process.argv.slice(1);
    const attempt = (target) => new Promise((resolve) => {
      const { host, port } = splitEndpoint(target);
      const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      let resend;
      let finished = false;
      const done = (ok, error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearInterval(resend);
        socket.close();
        resolve({ target, ok, ...(error ? { error } : {}) });
      };
      const timer = setTimeout(() => done(false, 'timeout'), Number(timeoutMs));
      socket.on('message', (data) => { if (data.toString().includes('p2pwall')) done(true); });
      socket.on('error', (error) => done(false, error.code ?? error.message));
      socket.connect(port, host, () => {
        const send = () => { if (!finished) socket.send('p2pwall\\n'); };
        send();
        resend = setInterval(send, 200);
      });
    });
    Promise.all(targets.map(attempt)).then((results) => console.log(JSON.stringify(results)));`;
  const result = await netns.exec(process.execPath, ['-e', script, String(timeoutMs), ...targets]);
  return JSON.parse(result.stdout) as ConnectResult[];
}

/** `{ target: ok }` for readable assertions. */
export function reachability(results: readonly ConnectResult[]): Record<string, boolean> {
  return Object.fromEntries(results.map((result) => [result.target, result.ok]));
}
