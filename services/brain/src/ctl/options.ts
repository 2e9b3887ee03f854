import { integerInRange } from '@p2pwall/common/cli-values';
import { Option, type Command } from 'commander';

/** The options every command shares: where the brain is, the token, the timeout, and --json. */

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface ConnectionOptions {
  url: string;
  token?: string;
  timeout: number;
  json?: boolean;
}

export function withConnection(command: Command, { json = true } = {}): Command {
  command
    .addOption(new Option('--url <url>', "the brain's API").env('P2PWALL_URL').default(DEFAULT_URL))
    // No default shown: the token must never appear in help output.
    .addOption(new Option('--token <token>', 'bearer token (read, or admin for changes)').env('P2PWALL_TOKEN'))
    .addOption(new Option('--timeout <ms>', 'give up on an answer after this long').argParser(integerInRange(1, 3_600_000)).default(DEFAULT_TIMEOUT_MS));
  if (json) command.option('--json', 'print the API answer as JSON (for scripts)');
  return command;
}

export const limitOption = () => new Option('--limit <n>', 'items per page (the brain allows 1 to 1000)').argParser(integerInRange(1, 1000));
export const cursorOption = () => new Option('--cursor <cursor>', 'continue from the nextCursor of an earlier page');
export const allOption = () => new Option('--all', 'follow nextCursor and print every page');
