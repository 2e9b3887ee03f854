#!/usr/bin/env node
import { ConfigError, createLogger, redactSecrets, routeConsoleWarnings, packageVersion, startTelemetry, TelemetryError, type Telemetry } from '@p2pwall/common';
import { Command } from 'commander';
import { ApiConfigError, loadTokens } from './api/auth.js';
import { loadBrainConfig, type BrainConfig } from './config.js';
import { BrainService } from './ingest/serve.js';
import { BRAIN_COMPONENTS } from './telemetry/readiness.js';

const program = new Command('p2pwall-brain')
  .description('p2pwall brain: correlates flow summaries from every gateway, decides, and shares blocklists through Redis')
  .version(packageVersion(import.meta.url), '-V, --version')
  .showHelpAfterError('(add --help for usage)');

const CONFIG_OPTION = ['-c, --config <file>', 'brain.yaml (see brain.example.yaml); without it: defaults and P2PWALL_BRAIN_* variables'] as const;

/**
 * The configuration, checked as far as it can be without a network: the file, the environment,
 * and the API's tokens (files readable, long enough). Any problem: one message and exit 2.
 */
function checkedConfig(path: string | undefined): BrainConfig {
  try {
    const config = loadBrainConfig(path);
    if (config.api.enabled) loadTokens(config.api);
    return config;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ApiConfigError) {
      process.stderr.write(`p2pwall-brain: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

program
  .command('config')
  .description('check a configuration (file, P2PWALL_BRAIN_* variables, token files) without connecting, and print it with every default filled in; passwords, tokens and URL passwords show as "(redacted)". Exit 2 with every problem otherwise.')
  .option(...CONFIG_OPTION)
  .action((options: { config?: string }) => {
    const config = checkedConfig(options.config);
    process.stdout.write(`${JSON.stringify(redactSecrets(config), null, 2)}\n`);
  });

program
  .command('serve')
  .description('consume summaries and heartbeats from JetStream, correlate, write decisions to the shared blocklist in Redis')
  .option(...CONFIG_OPTION)
  .action(async (options: { config?: string }) => {
    // Everything that needs no network is checked before anything connects.
    const config = checkedConfig(options.config);
    const log = createLogger({ name: 'brain', level: config.log.level });
    routeConsoleWarnings(log);
    let telemetry: Telemetry;
    try {
      // Before anything else: /health/* answer (not ready) while Redis and NATS are still connecting.
      telemetry = await startTelemetry({ serviceName: 'p2pwall-brain', serviceVersion: packageVersion(import.meta.url), config: config.telemetry, components: [...BRAIN_COMPONENTS], logger: log });
    } catch (error) {
      if (!(error instanceof TelemetryError)) throw error;
      log.fatal({ err: error.message }, 'cannot start');
      log.flush();
      process.stderr.write(`p2pwall-brain: ${error.message}\n`);
      process.exit(1);
    }
    const brain = new BrainService(config, log, { telemetry });
    // Telemetry closes last, so the final counts are exported and the endpoints answer to the end.
    const shutDown = () => brain.stop().finally(() => telemetry.close());
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      telemetry.health.setReady('shutdown', false, 'stopping');
      log.info({ signal }, 'shutting down');
      shutDown().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: String(error) }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    try {
      await brain.start();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.fatal({ err: message }, `cannot start: ${message}`);
      log.flush();
      process.stderr.write(`p2pwall-brain: ${message}\n`);
      await shutDown().catch(() => undefined);
      process.exit(1);
    }
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`p2pwall-brain: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
