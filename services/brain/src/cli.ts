#!/usr/bin/env node
import { packageVersion } from '@p2pwall/common';
import { Command } from 'commander';

// The brain's commands (serve, and the operator CLI) arrive with the distributed loop; until
// then the program answers --help and --version so packaging and tooling can rely on it.
const program = new Command('p2pwall-brain')
  .description('p2pwall brain: correlates flow summaries from every gateway, decides, and shares blocklists through Redis (not yet implemented: see the README)')
  .version(packageVersion(import.meta.url), '-V, --version')
  .showHelpAfterError('(add --help for usage)')
  .action(() => {
    program.help();
  });

program.parse();
