import { createLogger, routeConsoleWarnings, integerInRange, packageVersion, startTelemetry, type Telemetry } from '@p2pwall/common';
import { Command, Option } from 'commander';
import { LiveSensor } from '../live/sensor.js';
import { SENSOR_COMPONENTS } from '../telemetry/readiness.js';
import { configOption, loadOrReport } from './config-option.js';

interface RunOptions {
  config: string;
  queue?: number;
  rules: boolean;
}

export function runCommand(): Command {
  return new Command('run')
    .summary('judge live traffic from an NFQUEUE queue (needs root or CAP_NET_ADMIN)')
    .description(
      'Installs the rules (unless --no-rules), loads learned peers from the storefile into the engine and the kernel sets, ' +
        'then gives every queued packet its verdict at once. Logs JSON lines to standard error. ' +
        'SIGINT/SIGTERM: answers what is still queued, saves state and handles the rules as the configuration says (onExit).',
    )
    .addOption(configOption())
    .addOption(new Option('-q, --queue <number>', 'the queue this process serves, one of queue.numbers (default: the first); run one process per queue').argParser(integerInRange(0, 65535)))
    .addOption(new Option('--no-rules', 'leave the rules alone (when several processes share them, manage them with `p2pwall-sensor rules`)'))
    .action(async (options: RunOptions) => {
      const config = loadOrReport(options.config, 'run');
      if (!config) {
        process.exitCode = 2;
        return;
      }
      const queue = options.queue ?? config.queue.numbers[0]!;
      if (!config.queue.numbers.includes(queue)) {
        process.stderr.write(`p2pwall-sensor run: --queue ${queue} is not one of queue.numbers [${config.queue.numbers.join(', ')}]\n`);
        process.exitCode = 2;
        return;
      }
      const logger = createLogger({ name: 'sensor', level: config.log.level });
      routeConsoleWarnings(logger);
      let telemetry: Telemetry;
      let sensor: LiveSensor;
      try {
        // Before anything else: the health endpoints answer (not ready) while rules, the
        // blocklist and the queue are still being set up.
        telemetry = await startTelemetry({
          serviceName: 'p2pwall-sensor',
          serviceVersion: packageVersion(new URL('../', import.meta.url).href),
          attributes: { site: config.site, gateway: config.gateway, queue: String(queue) },
          config: config.telemetry,
          components: [...SENSOR_COMPONENTS],
          logger,
        });
        sensor = await LiveSensor.start({ config, queue, manageRules: options.rules, logger, telemetry });
      } catch (error) {
        // Whatever stopped the start, the person gets one line; the log line keeps the stack.
        const message = error instanceof Error ? error.message : String(error);
        logger.fatal({ err: error }, `start failed: ${message}`);
        logger.flush();
        process.stderr.write(`p2pwall-sensor run: ${message}\n`);
        process.exit(1);
      }
      const shutdown = (signal: NodeJS.Signals) => {
        telemetry.health.setReady('shutdown', false, 'stopping');
        // Telemetry closes last, so the final counts are exported and the endpoints answer to the end.
        sensor.stop(signal).then(() => telemetry.close()).then(
          () => {
            logger.flush();
            // The nfqueue binding cannot be closed: leaving the process releases the queue.
            setTimeout(() => process.exit(0), 50).unref();
          },
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            logger.flush();
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
