import { Command } from 'commander';
import { EnforceError } from '../enforce/command-runner.js';
import { installRules, removeRules, showRules } from '../enforce/iptables.js';
import { kernelPolicyFrom } from '../live/policy.js';
import { configOption, loadOrReport } from './config-option.js';

type Action = 'install' | 'remove' | 'show';

async function rulesAction(action: Action, options: { config: string }): Promise<number> {
  const config = loadOrReport(options.config, `rules ${action}`);
  if (!config) return 2;
  const policy = kernelPolicyFrom(config);
  try {
    if (action === 'install') await installRules(policy);
    else if (action === 'remove') await removeRules(policy);
    else process.stdout.write(await showRules(policy));
  } catch (error) {
    if (error instanceof EnforceError) {
      process.stderr.write(`p2pwall-sensor rules ${action}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (action !== 'show') process.stderr.write(`p2pwall-sensor rules ${action}: done\n`);
  return 0;
}

export function rulesCommand(): Command {
  const rules = new Command('rules')
    .summary('install, remove or show the sensor\'s iptables rules and ipset sets')
    .description(
      'The sensor owns its chains (P2PWALL, P2PWALL-PEER, P2PWALL-ACCEPTED) in the security table, which runs after your filter rules, ' +
        'jumps to them from FORWARD (and INPUT/OUTPUT when configured), for IPv4 and IPv6, and owns its ipset sets of learned peers ' +
        'and locked clients. It never touches other rules. `run` installs them at start.',
    );
  for (const [action, summary] of [
    ['install', 'create the sets and the chain (idempotent)'],
    ['remove', 'remove every p2pwall rule and set, also after a crash'],
    ['show', 'print the chain, the jumps, the sets with their sizes and the kernel queue counters'],
  ] as const) {
    rules.addCommand(
      new Command(action)
        .summary(summary)
        .addOption(configOption())
        .action(async (options: { config: string }) => {
          process.exitCode = await rulesAction(action, options);
        }),
    );
  }
  return rules;
}
