export { createLogger, type Logger, type LoggerOptions } from './logging.js';
export { packageVersion } from './version.js';
export { InvalidValueError, collect, integerInRange, portList } from './cli-values.js';
export { ConfigError, loadConfig, type ConfigSchema, type LoadConfigOptions } from './config.js';
export { SUBJECTS, STREAMS, CONSUMERS, REDIS_KEYS, NameError, sensorName } from './names.js';
export { formatAddress, parseAddress } from './address.js';
