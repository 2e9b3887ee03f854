import type { DiagLogger } from '@opentelemetry/api';
import type { Logger } from '../logging.js';

/**
 * The SDK reports export failures through its diag channel, as JSON-flattened exceptions
 * (`{"stack":…,"message":…}`); an operator wants the message, so it is unwrapped.
 */
export function readableDiagMessage(message: string): string {
  if (!message.startsWith('{')) return message;
  try {
    const parsed = JSON.parse(message) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : message;
  } catch {
    return message;
  }
}

/** SDK diagnostics as log lines of component `telemetry`. */
export function diagLogger(logger: Logger): DiagLogger {
  const child = logger.child({ component: 'telemetry' });
  const write = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) =>
    child[level](args.length > 0 ? { args: args.map((arg) => (arg instanceof Error ? arg.message : String(arg))) } : {}, readableDiagMessage(message));
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug'), verbose: write('debug') };
}
