/** Running commands (`ip`, `sysctl`, anything inside a namespace), with bounded time and output. */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Written to its standard input, which is then closed. */
  input?: string;
  /** Reject when it exits non-zero (default true). */
  check?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed for running past its timeout. */
  timedOut: boolean;
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const why = result.timedOut ? 'timed out' : result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`;
    super(`${command} ${why}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
  }
}

const MAX_OUTPUT = 16 * 1024 * 1024;

export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs a command to its end, collecting its output. */
export function run(cmd: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
  const { timeoutMs = 30_000, check = true } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${describeCommand(cmd, args)}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: ExecResult = { code, signal, stdout, stderr, timedOut };
      if (check && (code !== 0 || timedOut)) reject(new ExecError(describeCommand(cmd, args), result));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** `ip [-n ns] -batch -` with one command a line; stops at the first failing line (and says which). */
export async function ipBatch(ns: string | undefined, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const args = [...(ns ? ['-n', ns] : []), '-batch', '-'];
  await run(ipTool(), args, { input: `${lines.join('\n')}\n`, timeoutMs: 60_000 });
}

/**
 * `ip netns exec ns cmd args…`: the command itself replaces `ip`, so its pid is the command's.
 * A bare command name is resolved here (PATH and the sbin folders).
 */
export function nsArgs(ns: string, cmd: string, args: readonly string[]): string[] {
  return ['netns', 'exec', ns, cmd.includes('/') ? cmd : (findTool(cmd) ?? cmd), ...args];
}

const found = new Map<string, string | undefined>();

/** The absolute path of a program on the PATH or in the sbin folders (root's tools live there, and a PATH may lack them). */
export function findTool(name: string): string | undefined {
  if (!found.has(name)) {
    const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
    found.set(
      name,
      dirs
        .map((dir) => join(dir, name))
        .find((path) => {
          try {
            accessSync(path, constants.X_OK);
            return true;
          } catch {
            return false;
          }
        }),
    );
  }
  return found.get(name);
}

/** Is this program installed? */
export function hasCommand(name: string): boolean {
  return findTool(name) !== undefined;
}

/** `ip`, by absolute path when it can be found. */
export function ipTool(): string {
  return findTool('ip') ?? 'ip';
}

/** Namespaces `ip netns list` shows (names only). */
export async function listNamespaces(): Promise<string[]> {
  const result = await run(ipTool(), ['netns', 'list'], { check: false, timeoutMs: 10_000 });
  if (result.code !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/** Pids of every process in a namespace (`ip netns pids`). */
export async function namespacePids(ns: string): Promise<number[]> {
  const result = await run(ipTool(), ['netns', 'pids', ns], { check: false, timeoutMs: 10_000 });
  if (result.code !== 0) return [];
  return result.stdout
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Can this process build labs: root, with `ip` and network namespaces? Returns why not, or '' when it can. */
export function labUnavailableReason(): string {
  if (process.platform !== 'linux') return 'the namespace lab needs Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the namespace lab needs root (network namespaces, veths, bridges)';
  if (!hasCommand('ip')) return 'the namespace lab needs `ip` (iproute2)';
  if (!hasCommand('sysctl')) return 'the namespace lab needs `sysctl` (procps)';
  return '';
}
