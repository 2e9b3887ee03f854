import { redactSecrets } from '@p2pwall/common';
import { Command } from 'commander';
import { configOption, loadOrReport } from './config-option.js';

export function configCommand(): Command {
  return new Command('config')
    .summary('check a configuration file and print it with every default filled in')
    .description('Loads the configuration as `run` would (file, then P2PWALL_SENSOR_* environment overrides, then defaults) and prints the result as JSON (passwords, tokens and URL passwords shown as "(redacted)"), or every problem with the key it concerns.')
    .addOption(configOption())
    .action((options: { config: string }) => {
      const config = loadOrReport(options.config, 'config');
      if (!config) {
        process.exitCode = 2;
        return;
      }
      // Secrets stay out of terminals, scrollback and CI logs: only whether one is set shows.
      process.stdout.write(`${JSON.stringify(redactSecrets(config), null, 2)}\n`);
    });
}
