/**
 * The chart refuses, at render, what the sensor and the brain would refuse at start: the schema
 * of their free-form config values is derived from the services' own schemas, and this test
 * keeps the two from drifting. After changing a service's config schema, rewrite the chart's:
 *   P2PWALL_WRITE_CHART_SCHEMA=1 npx vitest run deploy/test/values-schema.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRAIN_CONFIG_SCHEMA } from '../../services/brain/src/config.js';
import { SENSOR_CONFIG_SCHEMA } from '../../services/sensor/src/config.js';
import { overrideSchema, schemaAt, type ConfigSchemaPlace } from './config-schema.js';
import { CHART, offlineChart, render, valuesFile, type OfflineChart } from './helm.js';

const SCHEMA_FILE = join(CHART, 'values.schema.json');
const PLACES: ConfigSchemaPlace[] = [
  { path: ['properties', 'sensor', 'properties', 'config'], schema: SENSOR_CONFIG_SCHEMA, description: 'sensor.yaml keys for every site (services/sensor/sensor.example.yaml)' },
  { path: ['properties', 'sensor', 'properties', 'sites', 'items', 'properties', 'config'], schema: SENSOR_CONFIG_SCHEMA, description: 'sensor.yaml keys for this site only' },
  { path: ['properties', 'brain', 'properties', 'config'], schema: BRAIN_CONFIG_SCHEMA, description: 'brain.yaml keys (services/brain/brain.example.yaml)' },
];

describe('the chart schema of sensor.config and brain.config follows the services', () => {
  it('values.schema.json holds the schemas derived from the services', () => {
    const text = readFileSync(SCHEMA_FILE, 'utf8');
    const root = JSON.parse(text) as Record<string, unknown>;
    for (const place of PLACES) {
      const parent = schemaAt(root, place.path.slice(0, -1))!;
      parent[place.path.at(-1)!] = overrideSchema(place.schema, place.description);
    }
    const expected = `${JSON.stringify(root, null, 2)}\n`;
    if (process.env['P2PWALL_WRITE_CHART_SCHEMA'] === '1' && expected !== text) writeFileSync(SCHEMA_FILE, expected);
    else expect(text, 'the chart schema is stale: rerun with P2PWALL_WRITE_CHART_SCHEMA=1').toBe(expected);
  });

  describe('helm template', () => {
    let chart: OfflineChart;
    beforeAll(async () => {
      chart = await offlineChart();
    });
    afterAll(async () => {
      await chart.remove();
    });

    it.each([
      ['a misspelt sensor key', { sensor: { config: { timeLockSecond: 60 } } }, /sensor\.config: Additional property timeLockSecond is not allowed/],
      ['a sensor value of the wrong type', { sensor: { config: { limits: { maxFlows: 'many' } } } }, /sensor\.config\.limits\.maxFlows: Invalid type/],
      ["a site's misspelt key", { sensor: { sites: [{ name: 'a', config: { mdoe: 'monitor' } }] } }, /sensor\.sites\.0\.config: Additional property mdoe is not allowed/],
      ['a sensor value out of its enum', { sensor: { config: { mode: 'block' } } }, /sensor\.config\.mode/],
      ['a misspelt brain key', { brain: { config: { corelation: {} } } }, /brain\.config: Additional property corelation is not allowed/],
    ])('refuses %s, naming the key', async (_name, values, message) => {
      await expect(render(chart, [await valuesFile(chart, 'bad', values)])).rejects.toThrow(message);
    });

    it('renders correct overrides', async () => {
      const values = { sensor: { config: { timeLockSeconds: 60, limits: { maxFlows: 100_000 } }, sites: [{ name: 'a', config: { mode: 'monitor' } }] }, brain: { config: { log: { level: 'debug' } } } };
      expect((await render(chart, [await valuesFile(chart, 'good', values)])).length).toBeGreaterThan(5);
    });
  });
});
