import { ConfigError } from '@p2pwall/common';
import { Option } from 'commander';
import { loadSensorConfig, type SensorConfig } from '../config.js';

export const DEFAULT_CONFIG_PATH = '/etc/p2pwall/sensor.yaml';

export function configOption(): Option {
  return new Option('-c, --config <file>', 'sensor configuration (YAML; keys in sensor.example.yaml; P2PWALL_SENSOR_* variables override keys)').default(DEFAULT_CONFIG_PATH);
}

/** Loads the configuration, or prints why not and returns null (the caller exits 2). */
export function loadOrReport(path: string, command: string): SensorConfig | null {
  try {
    return loadSensorConfig(path);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`p2pwall-sensor ${command}: ${error.message}\n`);
      return null;
    }
    throw error;
  }
}
