export { createLogger, type Logger, type LoggerOptions } from './logging.js';
export { packageVersion } from './version.js';
