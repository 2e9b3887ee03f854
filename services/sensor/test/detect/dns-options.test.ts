import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@p2pwall/common';
import { isSensorRuleId, peerLearnedRule, saneProtocolName, saneVia } from '@p2pwall/common/correlate';
import { udp } from '@p2pwall/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { SENSOR_CONFIG_SCHEMA, engineConfigFrom, loadSensorConfig } from '../../src/config.js';
import { CidrSet } from '../../src/decode/cidr.js';
import { DEFAULT_NAMES } from '../../src/detect/dns/defaults.js';
import { NamePatterns, namePatternProblem } from '../../src/detect/dns/names.js';
import { readDnsOptions } from '../../src/detect/dns/options.js';
import type { ProtocolModule } from '../../src/detect/module.js';
import { ModuleRegistryError, activeModules, protocolModules } from '../../src/detect/registry.js';
import { Engine } from '../../src/engine.js';
import type { ClientEvent, EngineEvent } from '../../src/events.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-dns-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(yaml: string): string[] {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, `site: a\ngateway: g1\ndetectors:\n  dns:\n${yaml.replace(/^/gm, '    ')}\n`);
  try {
    loadSensorConfig(path, {});
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('DNS module options', () => {
  it('loads names, resolvers and the defaults switches, and runs the module they configure', () => {
    const path = join(dir, 'good.yaml');
    writeFileSync(
      path,
      [
        'site: a',
        'gateway: g1',
        'detectors:',
        '  dns:',
        '    names:',
        '      - { name: "*.hublist.example.org", protocol: direct-connect, evidence: identifying, learn: [{ transport: tcp, port: 411 }] }',
        '      - { name: Tracker.Example.NET., protocol: bittorrent, learn: [{ port: 6969 }] }',
        '    disableDefaults: [open.stealth.si]',
        '    resolvers: [10.0.0.53, "10.1.0.0/24"]',
      ].join('\n'),
    );
    expect(() => loadSensorConfig(path, {})).toThrow(ConfigError); // port 411 is below 1024
    writeFileSync(path, readFileSync(path, 'utf8').replace('port: 411', 'port: 4111'));
    const config = loadSensorConfig(path, {});
    expect(config.detectors['dns']).toMatchObject({ enabled: true, inspectPackets: 16, defaults: true, names: [{ evidence: 'identifying' }, { evidence: 'supporting', learn: [{ transport: 'udp', port: 6969 }] }] });
    const dnsModule = engineConfigFrom(config).modules!.find((active) => active.module.name === 'dns')!.module;
    expect(dnsModule.families).toEqual(['bittorrent', 'direct-connect', 'edonkey', 'gnutella', 'soulseek']);
    expect(dnsModule).not.toBe(protocolModules.find((module) => module.name === 'dns'));
  });

  it('explains every mistake with its key', () => {
    expect(problems('names: [{ name: a.example, protocol: bittorrent, learn: [{ port: 443 }] }]')).toEqual(['detectors.dns.names[0].learn[0].port: must be >= 1024 (got 443)']);
    expect(problems('names: [{ name: a.example, protocol: BitTorrent }]')[0]).toMatch(/^detectors\.dns\.names\[0\]\.protocol: must match pattern/);
    expect(problems('names: [{ name: a.example, protocol: bittorrent, evidence: strong }]')[0]).toMatch(/^detectors\.dns\.names\[0\]\.evidence: must be one of "identifying", "supporting"/);
    expect(problems('names: [{ name: a.example }]')).toEqual(['detectors.dns.names[0].protocol: required']);
    expect(problems('nmes: []')).toEqual(['detectors.dns.nmes: unknown key']);
    expect(problems('names: [{ name: "a..example", protocol: bittorrent }]')).toEqual(['detectors.dns.names[0].name: "a..example" is not a host name (labels of letters, digits, - and _; a wildcard only as a leading "*.")']);
    expect(problems('names: [{ name: "*.org", protocol: bittorrent }]')).toEqual(['detectors.dns.names[0].name: "*.org" would match a whole top-level domain']);
    expect(problems('names: [{ name: a.example, protocol: dns }]')).toEqual(['detectors.dns.names[0].protocol: name the family the query shows (bittorrent, soulseek, …), not dns']);
    expect(problems('names: [{ name: a.example, protocol: x }, { name: A.example., protocol: y }]')).toEqual(['detectors.dns.names[1].name: "A.example." is listed twice']);
    expect(problems('disableDefaults: [router.example.com]')[0]).toMatch(/^detectors\.dns\.disableDefaults\[0\]: "router\.example\.com" is not a shipped name \(shipped: router\.bittorrent\.com, /);
    expect(problems('resolvers: [10.0.0.300]')).toEqual([expect.stringMatching(/^detectors\.dns\.resolvers\[0\]: /)]);
  });

  it('the chart and the loader read the options from the module: one definition', () => {
    const detectors = (SENSOR_CONFIG_SCHEMA.properties as Record<string, { properties: Record<string, { properties: Record<string, unknown> }> }>)['detectors']!;
    expect(Object.keys(detectors.properties['dns']!.properties)).toEqual(['enabled', 'inspectPackets', 'names', 'defaults', 'disableDefaults', 'resolvers']);
    expect(Object.keys(detectors.properties['bittorrent']!.properties)).toEqual(['enabled', 'inspectPackets']);
  });

  it('refuses options a module does not declare, outside the config loader too', () => {
    expect(() => activeModules({ bittorrent: { names: [] } })).toThrow(new ModuleRegistryError('detectors.bittorrent.names: the bittorrent module has no options'));
    expect(() => activeModules({ dns: { nmes: [] } })).toThrow(/detectors\.dns\.nmes: unknown option \(known: names, defaults, disableDefaults, resolvers\)/);
    expect(() => activeModules({ dns: { names: [{ name: 'a.example', protocol: 'x', learn: [{ port: 80 }] }] } })).toThrow(/detectors\.dns\.names\[0\]\.learn\[0\]\.port: must be a whole number from 1024 to 65535/);
    expect(readDnsOptions({ names: 'router.example' }).problems).toEqual(['names: must be a list']);
  });
});

describe('DNS name patterns', () => {
  it('prefers the exact name, then the longest wildcard; a wildcard is not its own domain', () => {
    const rule = (name: string, protocol: string) => ({ name, protocol, evidence: 'supporting' as const, learn: [] });
    const patterns = new NamePatterns([rule('*.example.org', 'a'), rule('*.deep.example.org', 'b'), rule('x.deep.example.org', 'c')]);
    expect(patterns.match('x.deep.example.org')?.protocol).toBe('c');
    expect(patterns.match('y.deep.example.org')?.protocol).toBe('b');
    expect(patterns.match('deep.example.org')?.protocol).toBe('a');
    expect(patterns.match('example.org')).toBeNull();
    expect(patterns.match('badexample.org')).toBeNull();
    expect(patterns.match('org')).toBeNull();
  });

  it('every shipped name is a valid pattern, and each learns only ports the engine accepts', () => {
    for (const rule of DEFAULT_NAMES) {
      expect(namePatternProblem(rule.name)).toBeNull();
      for (const endpoint of rule.learn) expect(endpoint.port).toBeGreaterThanOrEqual(1024);
    }
    expect(new Set(DEFAULT_NAMES.map((rule) => rule.name)).size).toBe(DEFAULT_NAMES.length);
  });
});

describe('evidence about another family (the engine seam)', () => {
  /** Claims `bittorrent` for every datagram whose payload starts with its letter. */
  const claimer = (families?: readonly string[]): ProtocolModule => ({
    name: 'claimer',
    transports: ['udp'],
    priority: 1,
    inspectPackets: 4,
    rules: ['claimer/r'],
    ...(families ? { families } : {}),
    inspect: (packet) => (packet.buf[packet.payloadOffset] === 0x62 ? { rule: 'claimer/r', supporting: false, transport: 'udp', family: 'bittorrent' } : null),
  });

  function run(module: ProtocolModule): { engine: Engine; clients: ClientEvent[] } {
    const events: EngineEvent[] = [];
    const engine = new Engine({ inside: new CidrSet(['10.0.0.0/8']), modules: activeModules({}, 16, { available: [module] }) }, (event) => events.push(event));
    engine.judgeIp(udp({ src: '10.0.0.5', dst: '203.0.113.1', sport: 4000, dport: 5000, payload: 'b' }), 0, 37, 1);
    return { engine, clients: events.filter((event): event is ClientEvent => event.event === 'client') };
  }

  it('identifies under the family the module declares, the rule staying in its namespace', () => {
    const { clients, engine } = run(claimer(['bittorrent']));
    expect(clients).toMatchObject([{ protocol: 'bittorrent', evidence: [{ rule: 'claimer/r', protocol: 'bittorrent' }] }]);
    expect(engine.counters.evidenceRefusedFamily).toBe(0);
  });

  it('refuses evidence about a family the module does not declare', () => {
    const { clients, engine } = run(claimer());
    expect(clients).toEqual([]);
    expect(engine.counters.evidenceRefusedFamily).toBe(1);
  });

  it('evidence with labelsFlow false keeps its rule on the flow but does not name the flow\'s app; a module whose evidence does, still does', () => {
    const quiet: ProtocolModule = { ...claimer(['bittorrent']), name: 'quiet', rules: ['quiet/r'], priority: 5, inspect: () => ({ rule: 'quiet/r', supporting: false, transport: 'udp', family: 'bittorrent', labelsFlow: false, outsideEndIsPeer: false }) };
    const loud: ProtocolModule = { ...claimer(), name: 'loud', rules: ['loud/r'], priority: 1, inspect: () => ({ rule: 'loud/r', supporting: false, transport: 'udp' }) };
    const events: EngineEvent[] = [];
    const engine = new Engine({ inside: new CidrSet(['10.0.0.0/8']), modules: activeModules({}, 16, { available: [quiet] }) }, (event) => events.push(event));
    const packet = udp({ src: '10.0.0.5', dst: '203.0.113.1', sport: 4000, dport: 5000, payload: 'b' });
    engine.judgeIp(packet, 0, packet.length, 1);
    expect(engine.lastFlow).toMatchObject({ app: null, rules: ['quiet/r'] });
    const both = new Engine({ inside: new CidrSet(['10.0.0.0/8']), modules: activeModules({}, 16, { available: [quiet, loud] }) }, () => {});
    both.judgeIp(packet, 0, packet.length, 1);
    // quiet runs first (higher priority) and names nothing; loud, lower, names the flow.
    expect(both.lastFlow).toMatchObject({ app: 'loud', rules: ['quiet/r', 'loud/r'] });
  });

  it('refuses a module declaring a family that is no protocol name', () => {
    expect(() => activeModules({}, 16, { available: [claimer(['Bit Torrent'])] })).toThrow(/family "Bit Torrent" is not a protocol name/);
  });
});

describe('what the brain accepts from a sensor (the strings DNS evidence produces)', () => {
  it('a family as the client\'s protocol, dns/… rules, and dns/name-answer as the peer\'s rule', () => {
    for (const family of ['bittorrent', 'soulseek', 'edonkey', 'direct-connect']) expect(saneProtocolName(family)).toBe(family);
    for (const rule of ['dns/name-query', 'dns/supporting-query', 'dns/resolver-query', 'dns/name-answer']) expect(isSensorRuleId(rule)).toBe(true);
    expect(saneVia('dns/name-answer')).toBe('dns/name-answer');
    expect(peerLearnedRule('bittorrent', 'dns/name-answer')).toBe('dns/name-answer');
  });
});
