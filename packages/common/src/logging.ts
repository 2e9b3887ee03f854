import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Component name, for example `sensor` or `brain`. */
  name: string;
  level?: string;
  /** Where JSON lines go; standard error by default, so standard output stays for command results. */
  destination?: DestinationStream;
  /** Write each line before returning (command-line tools that exit right after); services buffer. */
  sync?: boolean;
}

/**
 * One logger shape for every service: JSON lines with `service`, `time` as epoch milliseconds
 * and the level as a label, so operators can filter with jq without a lookup table.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 2, sync: options.sync ?? false });
  return pino(
    {
      base: { service: options.name },
      level: options.level ?? process.env['P2PWALL_LOG_LEVEL'] ?? 'info',
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * Warnings client libraries print with console.warn (ioredis: "[WARN] Redis server does not
 * require a password, but a password was supplied") become JSON lines of the service's log, so
 * every line a service writes can be parsed.
 */
export function routeConsoleWarnings(logger: Logger): void {
  console.warn = (...args: unknown[]) => {
    const text = args.map((arg) => (typeof arg === 'string' ? arg : arg instanceof Error ? arg.message : JSON.stringify(arg))).join(' ');
    logger.warn({ component: 'library' }, text.replace(/^\[(WARN|ERROR)\]\s*/, ''));
  };
}
