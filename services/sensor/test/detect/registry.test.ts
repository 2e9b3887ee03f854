import { describe, expect, it } from 'vitest';
import type { ProtocolModule } from '../../src/detect/module.js';
import { ModuleRegistryError, activeModules, checkModule, protocolModules } from '../../src/detect/registry.js';

const toy = (overrides: Partial<ProtocolModule> = {}): ProtocolModule => ({
  name: 'toy',
  transports: ['udp'],
  priority: 1,
  inspectPackets: 4,
  rules: ['toy/magic'],
  inspect: () => null,
  ...overrides,
});

describe('protocol module registry', () => {
  it('lists FastTrack, and every registered module keeps the contract', () => {
    expect(protocolModules.map((module) => module.name)).toContain('fasttrack');
    for (const module of protocolModules) expect(() => checkModule(module)).not.toThrow();
  });

  it('runs every module with its own depth by default, capped by the engine’s bound, highest priority first', () => {
    const modules = [toy(), toy({ name: 'big', rules: ['big/r'], priority: 9, inspectPackets: 40 })];
    expect(activeModules({}, 16, { available: modules }).map((active) => [active.module.name, active.inspectPackets])).toEqual([
      ['big', 16],
      ['toy', 4],
    ]);
  });

  it('takes per-protocol settings: off, or another depth; onlyNamed runs the named ones alone', () => {
    const modules = [toy(), toy({ name: 'other', rules: ['other/r'] })];
    expect(activeModules({ toy: { enabled: false } }, 16, { available: modules }).map((active) => active.module.name)).toEqual(['other']);
    expect(activeModules({ toy: { inspectPackets: 2 } }, 16, { available: modules }).map((active) => active.inspectPackets)).toEqual([2, 4]);
    expect(activeModules({ other: {} }, 16, { available: modules, onlyNamed: true }).map((active) => active.module.name)).toEqual(['other']);
  });

  it('rejects an unknown protocol, naming the key and the known ones', () => {
    expect(() => activeModules({ napster: {} })).toThrow(ModuleRegistryError);
    expect(() => activeModules({ napster: {} })).toThrow('detectors.napster: unknown protocol (known: fasttrack, bittorrent, gnutella, edonkey, soulseek, direct-connect, dns)');
  });

  it('rejects a module that breaks the contract', () => {
    expect(() => checkModule(toy({ name: 'Toy' }))).toThrow('lower-case');
    expect(() => checkModule(toy({ transports: [] }))).toThrow('reads no transport');
    expect(() => checkModule(toy({ rules: ['udp-ping'] }))).toThrow('is not "toy/<rule>"');
    expect(() => checkModule(toy({ rules: ['fasttrack/udp-ping'] }))).toThrow('is not "toy/<rule>"');
    expect(() => checkModule(toy({ createState: () => ({}) }))).toThrow('createState and isDone go together');
    expect(() => activeModules({}, 16, { available: [toy(), toy()] })).toThrow('registered twice');
  });
});
