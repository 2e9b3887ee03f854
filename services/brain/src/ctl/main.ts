#!/usr/bin/env node
// Subpath imports, not '@p2pwall/common': its index loads pino, ajv and OpenTelemetry, which
// tripled the start-up time of a command people and scripts run many times.
import { packageVersion } from '@p2pwall/common/version';
import { Command } from 'commander';
import { allowCommand } from './commands/allow.js';
import { decisionsCommand } from './commands/decisions.js';
import { healthCommand } from './commands/health.js';
import { hostsCommand } from './commands/hosts.js';
import { incidentsCommand } from './commands/incidents.js';
import { peersCommand } from './commands/peers.js';
import { sensorsCommand } from './commands/sensors.js';
import { withConnection } from './options.js';

// `p2pwall ... | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// The connection options are the program's too, so they work before the sub-command as well as after it.
const program = withConnection(new Command('p2pwall'))
  .description(
    "p2pwall: ask the brain what it found and decided, and change it. The brain's URL and token come from " +
      'P2PWALL_URL and P2PWALL_TOKEN (or P2PWALL_TOKEN_FILE), or --url and --token (--token-file), given before or after the command. Exit status: 0 done, 1 bad command line, ' +
      '2 the brain refused the request, 3 the brain cannot be reached, 4 token missing, rejected or read-only, 5 the brain failed.',
  )
  // packageVersion reads the package.json one folder above a module in dist/; this one sits in dist/ctl/.
  .version(packageVersion(new URL('../cli.js', import.meta.url).href), '-V, --version')
  .showHelpAfterError('(add --help for usage)')
  .addCommand(incidentsCommand())
  .addCommand(decisionsCommand())
  .addCommand(allowCommand())
  .addCommand(hostsCommand())
  .addCommand(peersCommand())
  .addCommand(sensorsCommand())
  .addCommand(healthCommand());

// Every level prints its help after a usage error, not only the top.
for (const command of program.commands) {
  command.showHelpAfterError('(add --help for usage)');
  for (const sub of command.commands) sub.showHelpAfterError('(add --help for usage)');
}

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`p2pwall: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
