import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigSchema } from '../src/config.js';

const schema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    password: { type: ['string', 'null'], default: null },
    name: { type: 'string', default: 'x' },
    port: { type: 'integer', default: 1 },
    numbers: { type: 'array', items: { type: 'integer' }, default: [0] },
    enabled: { type: 'boolean', default: false },
  },
};
const load = (env: Record<string, string>) => loadConfig<Record<string, unknown>>({ path: undefined, schema, envPrefix: 'T_', env });

describe('environment overrides', () => {
  it('give text keys the variable as it is, so secrets are not read as YAML', () => {
    expect(load({ T_PASSWORD: 'redis #1: secret' })['password']).toBe('redis #1: secret');
    expect(load({ T_PASSWORD: '12345' })['password']).toBe('12345');
    expect(load({ T_PASSWORD: '#starts-with-hash' })['password']).toBe('#starts-with-hash');
    expect(load({ T_NAME: '007' })['name']).toBe('007');
  });

  it('still read null into a nullable text key, and YAML into the others', () => {
    expect(load({ T_PASSWORD: 'null' })['password']).toBeNull();
    expect(load({ T_PASSWORD: '' })['password']).toBeNull();
    expect(load({ T_PORT: '8', T_NUMBERS: '[4, 5]', T_ENABLED: 'true' })).toMatchObject({ port: 8, numbers: [4, 5], enabled: true });
  });
});
