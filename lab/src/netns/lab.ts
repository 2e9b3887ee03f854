/**
 * The network-namespace lab: an "internet" namespace with FastTrack peers and ordinary servers,
 * and per site a gateway namespace (where the sensor runs) with client namespaces behind it.
 *
 *   const lab = await Lab.up({ prefix: 'p2pwt3f2', sites: ['a', 'b'] });
 *   try {
 *     const peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '30']);
 *     await peers.ready();
 *     const client = lab.emulate(lab.site('a').clients[0]!.ns, 'kazaa-client');
 *     const { summary } = await client.wait();
 *   } finally {
 *     await lab.down();
 *   }
 *
 * `Lab.down(prefix)` needs no Lab object: it works from `ip netns list` and the state directory,
 * so it also cleans up after a crashed test or CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeCommand, hasCommand, ipBatch, ipTool, labUnavailableReason, listNamespaces, namespacePids, nsArgs, run, type ExecOptions, type ExecResult } from './run.js';
import { isAlive, LabState, processStartTime, stateDir, stateRoot, type ProcessRecord } from './state.js';
import { clientScript, labNamespaces, DEFAULT_PREFIX, gatewayScript, inetRoutesScript, inetScript, planLab, sysctlsFor, validatePrefix, type LabPlan, type LabShape, type SitePlan } from './topology.js';

/** The built lab CLI (`lab/dist/cli.js`), which runs the emulators inside namespaces. */
export const LAB_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface LabOptions extends LabShape {
  /** Where state directories live (default /run/p2pwall-lab, or $P2PWALL_LAB_STATE). */
  stateRoot?: string;
}

export class LabExistsError extends Error {}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Its standard output (up to 16 MiB; empty for detached processes, whose output goes to their log). */
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** For a detached process: the file its stdout and stderr go to (default: a file in the lab's logs). */
  output?: string;
  /**
   * Detached: its own session, output to a file, not tied to this process (`p2pwall-lab up
   * --servers` uses it). It is still tracked, and `down` still kills it.
   */
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Emulator role, recorded in the state (status shows it). */
  role?: string;
  /** The emulator's JSON-lines log. */
  log?: string;
}

export type LogEntry = { ts: number; event: string } & Record<string, unknown>;

/** Reads a JSON-lines log; a torn last line (a writer still at work) is left out. */
export function readJsonLines(file: string): LogEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // torn line
    }
  }
  return entries;
}

const MAX_CAPTURE = 16 * 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A process the lab started in a namespace. */
export class LabProcess {
  readonly exited: Promise<ProcessExit>;
  private stdout = '';
  private stderr = '';
  private done: ProcessExit | undefined;

  constructor(
    readonly ns: string,
    readonly child: ChildProcess,
    readonly record: ProcessRecord,
    private readonly onExit: () => void,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stdout.length < MAX_CAPTURE) this.stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < MAX_CAPTURE) this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.done) return;
        this.done = { code, signal, stdout: this.stdout, stderr: this.stderr };
        this.onExit();
        resolve(this.done);
      };
      child.on('close', finish);
      child.on('error', (error) => {
        this.stderr += String(error);
        finish(null, null);
      });
    });
  }

  get pid(): number {
    return this.record.pid;
  }

  /** The emulator's JSON-lines log file, if it has one. */
  get log(): string | undefined {
    return this.record.log;
  }

  get running(): boolean {
    return this.done === undefined;
  }

  /** Waits for its end; rejects (without killing it) when it takes longer than timeoutMs. */
  async wait(timeoutMs = 120_000): Promise<ProcessExit & { summary: Record<string, unknown> | undefined }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${describeCommand(this.record.cmd, this.record.args)} in ${this.ns} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const exit = await Promise.race([this.exited, timeout]);
      return { ...exit, summary: lastJsonObject(exit.stdout) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when it has ended. */
  async stop(graceMs = 3000): Promise<ProcessExit & { summary: Record<string, unknown> | undefined }> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    try {
      const exit = await this.exited;
      return { ...exit, summary: lastJsonObject(exit.stdout) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The entries of its JSON-lines log so far. */
  readLog(): LogEntry[] {
    return this.record.log ? readJsonLines(this.record.log) : [];
  }

  /** Waits until an entry of its log matches; rejects after timeoutMs or when it ends without one. */
  async waitForLog(predicate: (entry: LogEntry) => boolean, timeoutMs = 10_000): Promise<LogEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.readLog().find(predicate);
      if (found) return found;
      if (!this.running) throw new Error(`${this.record.role ?? this.record.cmd} in ${this.ns} ended (${this.done?.code ?? this.done?.signal}) before the awaited log entry: ${this.done?.stderr.trim().slice(-500)}`);
      if (Date.now() > deadline) throw new Error(`${this.record.role ?? this.record.cmd} in ${this.ns}: no awaited log entry after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** For emulators: waits for their `ready` log entry (sockets bound and listening). */
  ready(timeoutMs = 10_000): Promise<LogEntry> {
    return this.waitForLog((entry) => entry.event === 'ready', timeoutMs);
  }
}

/** The last line of text that parses as a JSON object (emulators end with their summary). */
export function lastJsonObject(text: string): Record<string, unknown> | undefined {
  const lines = text.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

export interface DownReport {
  prefix: string;
  /** Namespaces deleted. */
  namespaces: string[];
  /** Pids signalled (tracked processes and any other process found in the namespaces). */
  killed: number[];
  /** Namespaces still there after down (should be empty). */
  leftover: string[];
}

export interface NamespaceStatus {
  ns: string;
  /** `ip -br addr` lines, with inet's many lo addresses summarised. */
  addresses: string[];
  pids: number[];
}

export interface LabStatus {
  prefix: string;
  exists: boolean;
  stateDir: string;
  namespaces: NamespaceStatus[];
  processes: (ProcessRecord & { alive: boolean })[];
}

let spawnCounter = 0;

export class Lab {
  private readonly children = new Set<LabProcess>();

  private constructor(
    readonly plan: LabPlan,
    readonly state: LabState,
  ) {}

  /** Builds a lab; refuses when one with the prefix exists. On failure it removes what it made. */
  static async up(options: LabOptions = {}): Promise<Lab> {
    const unavailable = labUnavailableReason();
    if (unavailable) throw new Error(unavailable);
    const plan = planLab(options);
    const state = new LabState(stateDir(plan.prefix, options.stateRoot ?? stateRoot()));
    const existing = (await listNamespaces()).filter((ns) => plan.namespaces.includes(ns));
    if (existing.length > 0 || state.exists()) {
      const what = existing.length > 0 ? `namespaces ${existing.join(', ')} exist` : `its state directory ${state.dir} exists`;
      throw new LabExistsError(`a lab with prefix "${plan.prefix}" already exists (${what}); run \`p2pwall-lab down --prefix ${plan.prefix}\` first`);
    }
    state.create(plan);
    try {
      await build(plan);
    } catch (error) {
      await Lab.down(plan.prefix, { stateRoot: options.stateRoot });
      throw error;
    }
    return new Lab(plan, state);
  }

  /** A lab that is already up (made by another process, e.g. `p2pwall-lab up`). */
  static attach(prefix = DEFAULT_PREFIX, options: { stateRoot?: string } = {}): Lab {
    const state = new LabState(stateDir(validatePrefix(prefix), options.stateRoot ?? stateRoot()));
    const plan = state.plan();
    if (!plan) throw new Error(`no lab with prefix "${prefix}" (no ${join(state.dir, 'lab.json')}); run \`p2pwall-lab up --prefix ${prefix}\``);
    return new Lab(plan, state);
  }

  /**
   * Removes every trace of the lab with this prefix: its tracked processes (SIGTERM, then
   * SIGKILL), every other process inside its namespaces, the namespaces (and with them every
   * veth and bridge), and the state directory. Safe after a crash and when nothing is left.
   */
  static async down(prefix = DEFAULT_PREFIX, options: { stateRoot?: string | undefined; graceMs?: number } = {}): Promise<DownReport> {
    validatePrefix(prefix);
    const graceMs = options.graceMs ?? 3000;
    const state = new LabState(stateDir(prefix, options.stateRoot ?? stateRoot()));
    const killed: number[] = [];

    const tracked = state.processes().filter(isAlive);
    await terminate(
      tracked.map((record) => ({ pid: record.pid, startTime: record.startTime })),
      graceMs,
      killed,
    );

    const plan = state.plan();
    const namespaces = labNamespaces(await listNamespaces(), prefix, plan);
    const strays = (await Promise.all(namespaces.map(namespacePids))).flat();
    await terminate(
      strays.flatMap((pid) => {
        const startTime = processStartTime(pid);
        return startTime === undefined ? [] : [{ pid, startTime }];
      }),
      graceMs,
      killed,
    );

    for (const ns of namespaces) await run(ipTool(), ['netns', 'del', ns], { check: false, timeoutMs: 30_000 });
    let leftover = labNamespaces(await listNamespaces(), prefix, plan);
    for (let attempt = 0; leftover.length > 0 && attempt < 3; attempt++) {
      await sleep(200);
      for (const ns of leftover) {
        for (const pid of await namespacePids(ns)) signal(pid, 'SIGKILL', killed);
        await run(ipTool(), ['netns', 'del', ns], { check: false, timeoutMs: 30_000 });
      }
      leftover = labNamespaces(await listNamespaces(), prefix, plan);
    }
    state.remove();
    return { prefix, namespaces: namespaces.filter((ns) => !leftover.includes(ns)), killed: [...new Set(killed)], leftover };
  }

  /** What exists of the lab with this prefix: namespaces, addresses, processes. */
  static async status(prefix = DEFAULT_PREFIX, options: { stateRoot?: string } = {}): Promise<LabStatus> {
    validatePrefix(prefix);
    const state = new LabState(stateDir(prefix, options.stateRoot ?? stateRoot()));
    const names = labNamespaces(await listNamespaces(), prefix, state.plan()).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const namespaces = await Promise.all(
      names.map(async (ns): Promise<NamespaceStatus> => {
        const result = await run(ipTool(), ['-n', ns, '-br', 'addr'], { check: false });
        const addresses = result.stdout
          .trimEnd()
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => summariseAddresses(line.trim().split(/\s+/)));
        return { ns, addresses, pids: await namespacePids(ns) };
      }),
    );
    return {
      prefix,
      exists: names.length > 0 || state.exists(),
      stateDir: state.dir,
      namespaces,
      processes: state.processes().map((record) => ({ ...record, alive: isAlive(record) })),
    };
  }

  get prefix(): string {
    return this.plan.prefix;
  }

  /** The internet namespace. */
  get inet(): string {
    return this.plan.inet.ns;
  }

  get sites(): readonly SitePlan[] {
    return this.plan.sites;
  }

  get stateDir(): string {
    return this.state.dir;
  }

  get logsDir(): string {
    return this.state.logsDir;
  }

  /** A site by name: `.gateway` (namespace), `.wan`, `.lan`, `.clients[i]` ({ ns, ipv4, ipv6, … }). */
  site(name: string): SitePlan {
    const site = this.plan.sites.find((s) => s.name === name);
    if (!site) throw new Error(`lab ${this.prefix} has no site "${name}" (sites: ${this.plan.sites.map((s) => s.name).join(', ')})`);
    return site;
  }

  /** Runs a command inside a namespace to its end; rejects on a non-zero exit unless `check: false`. */
  exec(ns: string, cmd: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    this.assertNamespace(ns);
    return run(ipTool(), nsArgs(ns, cmd, args), options);
  }

  /** Starts a tracked process inside a namespace; `down()` kills it if it is still running. */
  spawn(ns: string, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): LabProcess {
    this.assertNamespace(ns);
    let outputFd: number | undefined;
    if (options.detached) {
      const output = options.output ?? join(this.logsDir, `${options.role ?? 'process'}-${ns}-${process.pid}-${++spawnCounter}.out`);
      outputFd = openSync(output, 'a');
    }
    const child = spawn(ipTool(), nsArgs(ns, cmd, args), {
      stdio: outputFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', outputFd, outputFd],
      detached: options.detached ?? false,
      env: options.env ?? process.env,
    });
    if (outputFd !== undefined) closeSync(outputFd);
    if (child.pid === undefined) throw new Error(`could not start ${describeCommand(cmd, [...args])} in ${ns}`);
    const record: ProcessRecord = {
      pid: child.pid,
      startTime: processStartTime(child.pid) ?? '?',
      ns,
      cmd,
      args: [...args],
      ...(options.role ? { role: options.role } : {}),
      ...(options.log ? { log: options.log } : {}),
      startedAt: Date.now(),
      detached: options.detached ?? false,
    };
    this.state.addProcess(record);
    const handle = new LabProcess(ns, child, record, () => {
      this.state.removeProcess(record.pid);
      this.children.delete(handle);
    });
    this.children.add(handle);
    if (options.detached) child.unref();
    return handle;
  }

  /**
   * Runs an emulator (`node lab/dist/cli.js emulate <role> --log <file> …args`) inside a
   * namespace. Its JSON-lines log is `handle.log` (read it with `handle.readLog()`); its final
   * summary is `(await handle.wait()).summary`.
   */
  emulate(ns: string, role: string, args: readonly string[] = [], options: Omit<SpawnOptions, 'role'> = {}): LabProcess {
    if (!existsSync(LAB_CLI)) throw new Error(`${LAB_CLI} is missing: build first (cd /work/main && npm run build)`);
    const log = options.log ?? join(this.logsDir, `${role}-${ns}-${process.pid}-${++spawnCounter}.jsonl`);
    return this.spawn(ns, process.execPath, [LAB_CLI, 'emulate', role, '--log', log, ...args], { ...options, role, log });
  }

  /** One ICMP/ICMPv6 echo from a namespace (with `ping`, or python3 when ping is not installed). */
  async ping(ns: string, address: string, timeoutMs = 2000): Promise<boolean> {
    this.assertNamespace(ns);
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    if (hasCommand('ping')) {
      const result = await this.exec(ns, 'ping', ['-c', '1', '-W', String(seconds), address], { check: false, timeoutMs: timeoutMs + 5000 });
      return result.code === 0;
    }
    const python = ['/usr/bin/python3', 'python3'].find((p) => (p.startsWith('/') ? existsSync(p) : hasCommand(p)));
    if (!python) throw new Error('neither ping nor python3 is installed: cannot send ICMP echoes (apt-get install iputils-ping)');
    const result = await this.exec(ns, python, ['-c', PYTHON_PING, address, String(timeoutMs / 1000)], { check: false, timeoutMs: timeoutMs + 5000 });
    return result.code === 0;
  }

  /** Processes this Lab object started that are still running. */
  get running(): LabProcess[] {
    return [...this.children].filter((child) => child.running);
  }

  /** Tears the lab down (see Lab.down). */
  async down(options: { graceMs?: number } = {}): Promise<DownReport> {
    const report = await Lab.down(this.prefix, { stateRoot: dirnameOf(this.state.dir), ...options });
    await Promise.race([Promise.all([...this.children].map((child) => child.exited)), sleep(2000)]);
    return report;
  }

  private assertNamespace(ns: string): void {
    if (!this.plan.namespaces.includes(ns)) throw new Error(`"${ns}" is not a namespace of lab ${this.prefix} (${this.plan.namespaces.join(', ')})`);
  }
}

function dirnameOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function rank(ns: string): number {
  return ns.endsWith('-inet') ? 0 : ns.endsWith('-gw') ? 1 : 2;
}

/** `lo UNKNOWN 127.0.0.1/8 203.0.113.1/32 …` with hundreds of addresses becomes a count and a range. */
function summariseAddresses(words: string[]): string {
  const [name = '', stateWord = '', ...addresses] = words;
  if (addresses.length <= 8) return [name.padEnd(16), stateWord.padEnd(8), ...addresses].join(' ');
  const outside = addresses.filter((a) => !a.startsWith('127.') && a !== '::1/128');
  const v4 = outside.filter((a) => !a.includes(':'));
  const v6 = outside.filter((a) => a.includes(':'));
  return `${name.padEnd(16)} ${stateWord.padEnd(8)} ${addresses.length} addresses: ${v4.length} IPv4 (${v4[0]} … ${v4.at(-1)}), ${v6.length} IPv6 (${v6[0]} … ${v6.at(-1)})`;
}

function signal(pid: number, name: NodeJS.Signals, killed: number[]): void {
  try {
    process.kill(pid, name);
    killed.push(pid);
  } catch {
    // already gone
  }
}

/** SIGTERM each live process, wait up to graceMs for all to end, SIGKILL the rest. */
async function terminate(processes: { pid: number; startTime: string }[], graceMs: number, killed: number[]): Promise<void> {
  const live = processes.filter((p) => p.pid !== process.pid && isAlive(p));
  for (const p of live) signal(p.pid, 'SIGTERM', killed);
  const deadline = Date.now() + graceMs;
  while (live.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const p of live.filter(isAlive)) signal(p.pid, 'SIGKILL', killed);
  const hardDeadline = Date.now() + 2000;
  while (live.some(isAlive) && Date.now() < hardDeadline) await sleep(20);
}

async function build(plan: LabPlan): Promise<void> {
  await ipBatch(undefined, plan.namespaces.map((ns) => `netns add ${ns}`));
  await Promise.all(
    plan.namespaces.map((ns) => {
      const kind = ns === plan.inet.ns ? 'inet' : ns.endsWith('-gw') ? 'gateway' : 'client';
      // -e: a key this kernel lacks (net.bridge.* without br_netfilter) is not an error.
      return run(ipTool(), nsArgs(ns, 'sysctl', ['-q', '-e', '-w', ...sysctlsFor(kind)]));
    }),
  );
  await ipBatch(plan.inet.ns, inetScript(plan));
  for (const site of plan.sites) await ipBatch(site.gateway, gatewayScript(plan, site));
  await ipBatch(plan.inet.ns, inetRoutesScript(plan));
  await Promise.all(plan.sites.flatMap((site) => site.clients.map((client) => ipBatch(client.ns, clientScript(site, client)))));
}

/** ICMP(v6) echo with a raw socket: exit 0 on a reply. The kernel fills in ICMPv6 checksums. */
const PYTHON_PING = `
import os, socket, struct, sys, time
addr, timeout = sys.argv[1], float(sys.argv[2])
v6 = ':' in addr
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
body = b'p2pwall-lab'
pkt = struct.pack('!BBHHH', 128 if v6 else 8, 0, 0, ident, 1) + body
if not v6: pkt = pkt[:2] + struct.pack('!H', csum(pkt)) + pkt[4:]
s.sendto(pkt, (addr, 0))
end = time.time() + timeout
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try: data = s.recv(2048)
    except socket.timeout: break
    if not v6: data = data[(data[0] & 15) * 4:]
    if len(data) >= 8 and data[0] == (129 if v6 else 0) and struct.unpack('!H', data[4:6])[0] == ident: sys.exit(0)
sys.exit(1)
`;
