import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { BrainClient, CtlError, EXIT } from './client.js';
import { commandOptions, resolveToken, TokenOptionError, type ConnectionOptions } from './options.js';
import { printable, printableJson, printableLines } from './printable.js';

/**
 * The imperative shell around each command: builds the client from the options, runs the
 * command, prints its answer (text for people, JSON with --json) and turns a CtlError into a
 * one-line message on stderr and its exit code.
 */

export interface Output {
  /** What --json prints: the API's answer, unchanged. */
  data: unknown;
  /** What people read; `now` is the clock for "3m ago", `width` the terminal's columns (Infinity: not a terminal). */
  text: (now: number, width: number) => string;
  /** Exit code when the command ran but the answer means failure (e.g. `health` not ready). */
  exitCode?: number;
  /** Print `text` as it is, without escaping (CSV, whose own encoder makes every cell printable). */
  raw?: boolean;
  /** What the person should check (the brain's warnings): on stderr, with --json too. */
  warnings?: readonly string[];
}

export interface Context<O> {
  client: BrainClient;
  options: O & ConnectionOptions;
  args: string[];
}

/** The full name of a command for messages: "p2pwall decisions add". */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Who is making a manual change, when --author is not given. */
export function defaultAuthor(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'p2pwall-cli';
  }
}

/** Columns of the terminal stdout is; Infinity for a pipe or a file (scripts get whole lines). COLUMNS overrides, as for ls. */
function terminalWidth(): number {
  const forced = Number(process.env['COLUMNS']);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : Infinity;
}

export function act<O>(run: (context: Context<O>) => Promise<Output>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const options = commandOptions<O>(command);
    const positional = args.slice(0, -2).filter((a): a is string => typeof a === 'string');
    try {
      let token: string | undefined;
      try {
        token = resolveToken(options, (path) => readFileSync(path, 'utf8'));
      } catch (error) {
        if (error instanceof TokenOptionError) throw new CtlError(error.message, EXIT.usage);
        throw error;
      }
      const client = new BrainClient({ url: options.url, token, timeoutMs: options.timeout });
      const output = await run({ client, options, args: positional });
      const text = () => output.text(Date.now(), terminalWidth());
      process.stdout.write(options.json ? `${printableJson(JSON.stringify(output.data, null, 2))}\n` : output.raw ? text() : printableLines(text()));
      for (const warning of output.warnings ?? []) process.stderr.write(`${commandPath(command)}: warning: ${printable(warning)}\n`);
      process.exitCode = output.exitCode ?? EXIT.ok;
    } catch (error) {
      if (!(error instanceof CtlError)) throw error;
      process.stderr.write(`${commandPath(command)}: ${printable(error.message)}\n`);
      process.exitCode = error.exitCode;
    }
  };
}
