import { integerInRange } from '@p2pwall/common/cli-values';
import { Option, type Command } from 'commander';
import { parseTokenFile } from '../token-file.js';

/** The options every command shares: where the brain is, the token, the timeout, and --json. */

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface ConnectionOptions {
  url: string;
  token?: string;
  tokenFile?: string;
  timeout: number;
  json?: boolean;
}

export function withConnection(command: Command, { json = true } = {}): Command {
  command
    .addOption(new Option('--url <url>', "the brain's API").env('P2PWALL_URL').default(DEFAULT_URL))
    // No default shown: the token must never appear in help output.
    .addOption(new Option('--token <token>', 'bearer token (read, or admin for changes); other users can see it in ps: prefer P2PWALL_TOKEN or --token-file').env('P2PWALL_TOKEN'))
    .addOption(new Option('--token-file <path>', 'read the bearer token from this file (its first line that is not blank or a # comment)').env('P2PWALL_TOKEN_FILE'))
    .addOption(new Option('--timeout <ms>', 'give up on an answer after this long').argParser(integerInRange(1, 3_600_000)).default(DEFAULT_TIMEOUT_MS));
  if (json) command.option('--json', 'print the API answer as JSON (for scripts)');
  return command;
}

/** The connection options by their commander keys. */
const CONNECTION_KEYS = ['url', 'token', 'tokenFile', 'timeout', 'json'] as const;

/**
 * A command's options with the connection options a person typed before the sub-command
 * (`p2pwall --url U sensors`) taken in: typed on the command line beats the environment and
 * defaults, and typed after the sub-command beats typed before it.
 */
export function commandOptions<O>(command: Command): O & ConnectionOptions {
  const options = { ...command.opts<O & ConnectionOptions>() } as Record<string, unknown>;
  for (let parent = command.parent; parent; parent = parent.parent) {
    for (const key of CONNECTION_KEYS) {
      if (command.getOptionValueSource(key) !== 'cli' && parent.getOptionValueSource(key) === 'cli') options[key] = parent.getOptionValue(key);
    }
  }
  return options as O & ConnectionOptions;
}

export const limitOption = () => new Option('--limit <n>', 'items per page (the brain allows 1 to 1000)').argParser(integerInRange(1, 1000));
export const cursorOption = () => new Option('--cursor <cursor>', 'continue from the nextCursor of an earlier page');
export const allOption = () => new Option('--all', 'follow nextCursor and print every page');

/** Longest token file read: a token is a line, not a document. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * The token from --token (or P2PWALL_TOKEN), or from --token-file (or P2PWALL_TOKEN_FILE): the
 * first line that is not blank or a `#` comment. Errors name the option and the file, never the token.
 */
export function resolveToken(options: { token?: string; tokenFile?: string }, readFile: (path: string) => string): string | undefined {
  if (options.tokenFile === undefined) return options.token;
  if (options.token !== undefined) throw new TokenOptionError('give the token once: --token (P2PWALL_TOKEN) or --token-file (P2PWALL_TOKEN_FILE), not both');
  let text: string;
  try {
    text = readFile(options.tokenFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TokenOptionError(`--token-file: cannot read ${options.tokenFile} (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`);
  }
  if (text.length > MAX_TOKEN_FILE_BYTES) throw new TokenOptionError(`--token-file: ${options.tokenFile} is larger than ${MAX_TOKEN_FILE_BYTES} bytes: not a token file`);
  const [token] = parseTokenFile(text);
  if (token === undefined) throw new TokenOptionError(`--token-file: ${options.tokenFile} holds no token (only blank lines and # comments)`);
  if (/\s/.test(token)) throw new TokenOptionError(`--token-file: the token in ${options.tokenFile} contains white space`);
  return token;
}

export class TokenOptionError extends Error {}
