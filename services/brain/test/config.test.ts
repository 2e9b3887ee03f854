import { ConfigError } from '@p2pwall/common';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../src/config.js';
import { DEFAULT_RULES } from '../src/correlate/config.js';

describe('brain.yaml', () => {
  it('the example file holds exactly the defaults', () => {
    const example = loadBrainConfig(fileURLToPath(new URL('../brain.example.yaml', import.meta.url)), {});
    expect(example).toEqual(loadBrainConfig(undefined, {}));
    expect(example.correlation).toEqual(DEFAULT_RULES.correlation);
    expect(example.expiry).toEqual(DEFAULT_RULES.expiry);
  });

  it('rejects unknown keys and bad allowlist entries, naming them; the environment overrides', () => {
    expect(() => loadBrainConfig(undefined, { P2PWALL_BRAIN_ALLOWLIST__HOSTS: '["not-an-ip"]' })).toThrow(ConfigError);
    expect(() => loadBrainConfig(undefined, { P2PWALL_BRAIN_NOPE: '1' })).toThrow(/nope/);
    expect(loadBrainConfig(undefined, { P2PWALL_BRAIN_CORRELATION__HOST__UDP_FANOUT__MIN_ENDPOINTS: '80' }).correlation.host.udpFanout.minEndpoints).toBe(80);
  });
});
