import { createLogger, type Logger } from '@p2pwall/common';

/** A log line as a test reads it back. */
export interface CapturedLine {
  level: string;
  msg: string;
  err?: string;
  [field: string]: unknown;
}

/** A real pino logger (info and up) whose lines a test reads back, parsed, instead of them going to stderr. */
export function capturedLog(name: string): { logger: Logger; lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  return { lines, logger: createLogger({ name, level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as CapturedLine) } }) };
}
