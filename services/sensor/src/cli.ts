#!/usr/bin/env -S node --initial-old-space-size=192
// The shebang's V8 flags are the sensor's, wherever it runs (the lab and the benches read them
// from this line: lab/src/sensor-process.ts sensorNodeFlags). --initial-old-space-size: the old
// generation starts at 192 MB, so a flow table filling towards its default 262,144 flows (about
// 140 MB live) meets no major collection on the way; under a burst of new flows each one held
// the packet path back for hundreds of ms (bench:gateway, README "The queue").
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
