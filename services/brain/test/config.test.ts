import { ConfigError } from '@p2pwall/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBrainConfig } from '../src/config.js';
import { DEFAULT_RULES } from '@p2pwall/common/correlate';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-brain-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

  it('takes the widest network block per family (api.minNetworkPrefixLength), /8 and /32 by default, and refuses prefixes ipset cannot hold', () => {
    expect(loadBrainConfig(undefined, {}).api.minNetworkPrefixLength).toEqual({ ipv4: 8, ipv6: 32 });
    expect(loadBrainConfig(undefined, { P2PWALL_BRAIN_API__MIN_NETWORK_PREFIX_LENGTH__IPV4: '16' }).api.minNetworkPrefixLength.ipv4).toBe(16);
    expect(() => loadBrainConfig(undefined, { P2PWALL_BRAIN_API__MIN_NETWORK_PREFIX_LENGTH__IPV4: '0' })).toThrow(/api\.minNetworkPrefixLength\.ipv4/);
    expect(() => loadBrainConfig(undefined, { P2PWALL_BRAIN_API__MIN_NETWORK_PREFIX_LENGTH__IPV6: '129' })).toThrow(/api\.minNetworkPrefixLength\.ipv6/);
  });

  it('names the key of every unusable NATS or Redis login or TLS setting', () => {
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello\n');
    const problems = (env: NodeJS.ProcessEnv): string[] => {
      try {
        loadBrainConfig(undefined, env);
        return [];
      } catch (error) {
        if (error instanceof ConfigError) return [...error.problems];
        throw error;
      }
    };
    expect(problems({ P2PWALL_BRAIN_NATS__USER: 'u', P2PWALL_BRAIN_NATS__PASSWORD: 'p', P2PWALL_BRAIN_NATS__TOKEN: 't', P2PWALL_BRAIN_NATS__TLS__ENABLED: 'true', P2PWALL_BRAIN_NATS__TLS__CERT: notPem })).toEqual([
      'nats.token: cannot be combined with nats.user; choose one of user/password, token and creds',
      `nats.tls.cert: ${notPem} is not a PEM certificate`,
      'nats.tls.key: cert and key go together',
    ]);
    expect(problems({ P2PWALL_BRAIN_NATS__PASSWORD: 'p', P2PWALL_BRAIN_NATS__CREDS: join(dir, 'missing.creds'), P2PWALL_BRAIN_NATS__SERVERS: '[http://n:4222]' })).toEqual([
      'nats.servers[0]: "http://n:4222" must use nats:// or tls://',
      'nats.user: user and password go together',
      `nats.creds: file not found: ${join(dir, 'missing.creds')}`,
    ]);
    expect(problems({ P2PWALL_BRAIN_NATS__TLS__CA: dir })).toEqual([`nats.tls.ca: cannot read ${dir} (EISDIR)`, 'nats.tls.enabled: false, but nats.tls.ca is set: enable TLS or remove the files']);
    expect(problems({ P2PWALL_BRAIN_REDIS__URL: 'http://r', P2PWALL_BRAIN_REDIS__USERNAME: 'brain', P2PWALL_BRAIN_REDIS__TLS__KEY: notPem })).toEqual([
      'redis.url: "http://r" must use redis:// or rediss://',
      'redis.password: required with redis.username (an ACL user logs in with a password)',
      `redis.tls.key: ${notPem} is not a PEM private key`,
      'redis.tls.cert: cert and key go together',
      'redis.tls.enabled: false, but redis.tls.key is set: enable TLS or remove the files',
    ]);
    // rediss:// and tls:// ask for TLS themselves.
    expect(problems({ P2PWALL_BRAIN_REDIS__URL: 'rediss://r:6380', P2PWALL_BRAIN_REDIS__TLS__CA: dir, P2PWALL_BRAIN_NATS__SERVERS: '[tls://n:4222]', P2PWALL_BRAIN_NATS__TLS__CA: dir })).toEqual([`nats.tls.ca: cannot read ${dir} (EISDIR)`, `redis.tls.ca: cannot read ${dir} (EISDIR)`]);
  });
});

describe('brain.yaml: names and hosts it cannot use', () => {
  it('refuses simulation sites that are no site name and API or telemetry hosts that are no address, naming the key', () => {
    const path = join(dir, 'names.yaml');
    writeFileSync(path, 'simulation:\n  sites: [hq, "Branch Office", "a.b"]\napi:\n  listen:\n    host: "http://0.0.0.0"\ntelemetry:\n  listen:\n    host: "0.0.0.0:9464"\n');
    let message = '';
    try {
      loadBrainConfig(path, {});
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain('simulation.sites[1]: "Branch Office" is not a site name');
    expect(message).toContain('simulation.sites[2]: "a.b" is not a site name');
    expect(message).not.toContain('simulation.sites[0]');
    expect(message).toContain('api.listen.host: "http://0.0.0.0" is not an IP address or a host name');
    expect(message).toContain('telemetry.listen.host: "0.0.0.0:9464" is not an IP address or a host name');
  });
});
