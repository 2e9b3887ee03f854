#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { packageVersion } from '@p2pwall/common';
import { Command, Option } from 'commander';
import { DEMO_PREFIX, runDemo } from './demo.js';
import { registerEmulateCommands } from './emulators/cli.js';
import { prefixValue, registerLabCommands } from './netns/cli.js';
import { SCENARIOS } from './synthetic/scenarios.js';
import { writeScenario } from './synthetic/write.js';

const program = new Command('p2pwall-lab')
  .description('p2pwall lab: synthetic FastTrack traffic, and the network-namespace lab with emulated hosts, for tests, benchmarks and the demo')
  .version(packageVersion(import.meta.url), '-V, --version')
  .showHelpAfterError('(add --help for usage)');

program
  .command('synth')
  .description('write a synthetic capture built byte by byte from the FastTrack layouts, and what the sensor must find in it')
  .addOption(new Option('-s, --scenario <name>', 'which traffic').choices(Object.keys(SCENARIOS)).default('kazaa-demo'))
  .requiredOption('-o, --output <file.pcap>', 'where to write the capture (Ethernet, classic pcap)')
  .option('--expected <file.json>', 'also write the expected clients and peers as JSON')
  .action((options: { scenario: string; output: string; expected?: string }) => {
    const scenario = SCENARIOS[options.scenario]!();
    writeScenario(options.output, scenario);
    if (options.expected) writeFileSync(options.expected, `${JSON.stringify(scenario.expected, null, 2)}\n`);
    process.stderr.write(`${options.output}: ${scenario.frames.length} packets: ${scenario.description}\n`);
  });

program
  .command('demo')
  .description('the live sensor on a gateway in a namespace lab: Kazaa clients identified and blocked, benign traffic untouched (root)')
  .addOption(new Option('--prefix <name>', `the lab's namespace prefix (1-8 lower-case letters/digits, starting with a letter); a lab of that name must not exist`).argParser(prefixValue).default(DEMO_PREFIX))
  .action(async (options: { prefix: string }) => {
    process.exitCode = await runDemo(options.prefix);
  });

registerLabCommands(program);
registerEmulateCommands(program);

await program.parseAsync();
