import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigSchema } from '../src/config.js';
import { TELEMETRY_CONFIG_SCHEMA, TELEMETRY_DEFAULTS, telemetryConfigProblems, type TelemetryConfig } from '../src/telemetry/config.js';

const SCHEMA: ConfigSchema = { type: 'object', additionalProperties: false, default: {}, properties: { telemetry: TELEMETRY_CONFIG_SCHEMA } };
const load = (env: Record<string, string>) =>
  loadConfig<{ telemetry: TelemetryConfig }>({ path: undefined, schema: SCHEMA, envPrefix: 'P2PWALL_TEST_', env, check: (config) => telemetryConfigProblems((config as { telemetry: TelemetryConfig }).telemetry) });

describe('telemetry configuration', () => {
  it('defaults: loopback 127.0.0.1:9464 (on a gateway, every address includes the internet side), no OTLP export, every 15 s', () => {
    expect(load({}).telemetry).toEqual(TELEMETRY_DEFAULTS);
    expect(TELEMETRY_DEFAULTS).toEqual({ enabled: true, listen: { host: '127.0.0.1', port: 9464 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } });
  });

  it('environment overrides, headers as a YAML mapping', () => {
    const config = load({ P2PWALL_TEST_TELEMETRY__OTLP__ENDPOINT: 'http://collector:4318', P2PWALL_TEST_TELEMETRY__OTLP__HEADERS: '{authorization: Bearer x}', P2PWALL_TEST_TELEMETRY__LISTEN__PORT: '0' }).telemetry;
    expect(config.otlp).toEqual({ endpoint: 'http://collector:4318', headers: { authorization: 'Bearer x' }, intervalSeconds: 15 });
    expect(config.listen.port).toBe(0);
  });

  it('bad values are rejected, each naming its key', () => {
    const problems = (env: Record<string, string>) => {
      try {
        load(env);
        return [];
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.problems;
      }
    };
    expect(problems({ P2PWALL_TEST_TELEMETRY__LISTEN__PORT: '70000' })).toEqual(['telemetry.listen.port: must be <= 65535 (got 70000)']);
    expect(problems({ P2PWALL_TEST_TELEMETRY__OTLP__INTERVALSECONDS: '0' })).toEqual(['telemetry.otlp.intervalSeconds: must be >= 1 (got 0)']);
    expect(problems({ P2PWALL_TEST_TELEMETRY__OTLP__HEADERS: '{a: [1]}' })).toEqual(['telemetry.otlp.headers.a: must be string, got [1]']);
    expect(problems({ P2PWALL_TEST_TELEMETRY__OTLP__ENDPOINT: 'collector:4318' })).toEqual(['telemetry.otlp.endpoint: must be an http:// or https:// URL, got "collector:4318"']);
    expect(problems({ P2PWALL_TEST_TELEMETRY__OTLP__ENDPOINT: 'not a url' })).toEqual(['telemetry.otlp.endpoint: "not a url" is not a URL (expected http://host:4318)']);
    expect(problems({ P2PWALL_TEST_TELEMETRY__OTLP__ENDPOINT: 'http://c:4318/?x=1' })).toEqual(['telemetry.otlp.endpoint: must not carry a query or fragment (/v1/metrics and /v1/traces are appended), got "http://c:4318/?x=1"']);
    expect(problems({ P2PWALL_TEST_TELEMETRY__COLOUR: 'red' })).toEqual(['P2PWALL_TEST_TELEMETRY__COLOUR: no configuration key telemetry.colour']);
  });
});
