import { describe, expect, it } from 'vitest';
import { DetectorRegistryError, createRegistry, detectors } from '../../src/detect/registry.js';

describe('detector registry', () => {
  it('lists FastTrack', () => {
    expect(detectors.map((detector) => detector.protocol)).toContain('fasttrack');
  });

  it('returns every detector by default, and the named ones in order', () => {
    expect(createRegistry()).toEqual([...detectors]);
    expect(createRegistry(['fasttrack']).map((detector) => detector.protocol)).toEqual(['fasttrack']);
    expect(createRegistry([])).toEqual([]);
  });

  it('rejects an unknown name, naming the known ones', () => {
    expect(() => createRegistry(['fasttrack', 'napster'])).toThrow(DetectorRegistryError);
    expect(() => createRegistry(['napster'])).toThrow('unknown detector "napster" (known: fasttrack)');
  });

  it('rejects a name given twice', () => {
    expect(() => createRegistry(['fasttrack', 'fasttrack'])).toThrow('named twice');
  });
});
