#!/usr/bin/env node
import { packageVersion } from '@p2pwall/common';
import { Command } from 'commander';
import { analyzeCommand } from './commands/analyze.js';
import { configCommand } from './commands/config.js';
import { rulesCommand } from './commands/rules.js';
import { runCommand } from './commands/run.js';

const program = new Command('p2pwall-sensor')
  .description('p2pwall gateway sensor: recognises P2P clients (BitTorrent, Gnutella/G2, eDonkey/Kad, Soulseek, Direct Connect, FastTrack, and watched DNS names) by their start-up behaviour, learns their peers and drops what goes between them, as ftwall did')
  .version(packageVersion(import.meta.url), '-V, --version')
  .showHelpAfterError('(add --help for usage)')
  .addCommand(runCommand())
  .addCommand(rulesCommand())
  .addCommand(analyzeCommand())
  .addCommand(configCommand());

await program.parseAsync();
