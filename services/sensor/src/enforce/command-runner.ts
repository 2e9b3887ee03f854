import { spawn } from 'node:child_process';

/** What a finished command left behind. `code` is the exit status (a signal counts as 128 + n). */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, which is then closed (`ipset restore`, `iptables-restore`). */
  input?: string;
}

/**
 * Runs one program. Everything in enforce/ goes through this interface, so tests can run the
 * same code inside a network namespace (`ip netns exec NAME ...`) or count the children spawned.
 */
export interface CommandRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

/** The command line as a person would type it, for error messages (quotes only where needed). */
export function formatCommandLine(command: string, args: readonly string[]): string {
  return [command, ...args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Base of every error enforce/ throws for the operator to read (a failed command, a missing tool,
 * a bad policy, rules in the way): catch this one class to print `error.message` and exit.
 */
export class EnforceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A command that exited non-zero; the message carries the command line and its stderr. */
export class CommandError extends EnforceError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly result: CommandResult,
  ) {
    const stderr = result.stderr.trim();
    super(`${formatCommandLine(command, args)} exited with status ${result.code}${stderr ? `: ${stderr}` : ''}`);
  }
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

/** Spawns `command` directly (no shell, so nothing in `args` is ever interpreted). */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A child that dies before reading its stdin makes the write fail with EPIPE; its exit status
    // and stderr say why, so the write error itself carries no news.
    child.stdin.on('error', () => {});
    child.on('error', (error) => reject(new EnforceError(`cannot run ${formatCommandLine(command, args)}: ${error.message}`, { cause: error })));
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs commands on this host, in this process's network namespace. */
export const localRunner: CommandRunner = { run };

/** Runs every command behind a fixed prefix, e.g. `['ip', 'netns', 'exec', 'lab-gw']`. */
export function prefixedRunner(prefix: readonly string[], base: CommandRunner = localRunner): CommandRunner {
  const [head, ...rest] = prefix;
  if (head === undefined) return base;
  return { run: (command, args, options) => base.run(head, [...rest, command, ...args], options) };
}

/** Like `runner.run`, but a non-zero exit status throws CommandError. */
export async function runChecked(runner: CommandRunner, command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
  const result = await runner.run(command, args, options);
  if (result.code !== 0) throw new CommandError(command, args, result);
  return result;
}

/** The programs the kernel enforcement needs, with the flag that makes each print its version. */
const TOOLS: ReadonlyArray<{ name: string; versionFlag: string; ipv6Only?: boolean }> = [
  { name: 'iptables', versionFlag: '-V' },
  { name: 'iptables-restore', versionFlag: '-V' },
  { name: 'ip6tables', versionFlag: '-V', ipv6Only: true },
  { name: 'ip6tables-restore', versionFlag: '-V', ipv6Only: true },
  { name: 'ipset', versionFlag: '-v' },
];

export class MissingToolsError extends EnforceError {
  constructor(readonly missing: readonly string[]) {
    super(`missing ${missing.join(', ')}: p2pwall needs iptables and ipset (Debian/Ubuntu: apt-get install iptables ipset)`);
  }
}

/** The tools are there but the kernel refused them: the process lacks root or CAP_NET_ADMIN. */
export class NotPermittedError extends EnforceError {
  constructor(readonly tools: readonly string[], detail: string) {
    super(`p2pwall needs root or CAP_NET_ADMIN for its kernel rules and sets (${tools.join(', ')} said: ${detail}); run it as root, or grant the capability, e.g. systemd AmbientCapabilities=CAP_NET_ADMIN`);
  }
}

/** What a tool prints when it runs but the kernel says no (ipset: "Operation not permitted"). */
const NOT_PERMITTED = /operation not permitted|permission denied|you must be root/i;

function firstLine(result: CommandResult): string {
  return (result.stderr.trim() || result.stdout.trim()).split('\n')[0]!.slice(0, 200);
}

/** Which iptables backend answered: the kernel rules are written for nf_tables (see README). */
export type IptablesVariant = 'nf_tables' | 'legacy' | 'unknown';

/**
 * Checks that every tool runs (through `runner`, so inside the right namespace) and reports the
 * iptables backend. Throws MissingToolsError naming the Debian packages.
 */
export async function checkKernelTools(runner: CommandRunner = localRunner, options: { ipv6?: boolean } = {}): Promise<{ iptables: IptablesVariant }> {
  const wanted = TOOLS.filter((tool) => options.ipv6 !== false || !tool.ipv6Only);
  const results = await Promise.all(
    wanted.map(async (tool) => {
      try {
        return await runner.run(tool.name, [tool.versionFlag]);
      } catch {
        return null; // not found on PATH
      }
    }),
  );
  const failed = wanted.map((tool, i) => ({ tool: tool.name, result: results[i] ?? null })).filter(({ result }) => result === null || result.code !== 0);
  const refused = failed.filter(({ result }) => result !== null && NOT_PERMITTED.test(result.stderr + result.stdout));
  const missing = failed.filter((failure) => !refused.includes(failure)).map(({ tool }) => tool);
  if (missing.length > 0) throw new MissingToolsError(missing);
  if (refused.length > 0) throw new NotPermittedError(refused.map(({ tool }) => tool), firstLine(refused[0]!.result!));
  const version = results[0]?.stdout ?? '';
  return { iptables: version.includes('nf_tables') ? 'nf_tables' : version.includes('legacy') ? 'legacy' : 'unknown' };
}
