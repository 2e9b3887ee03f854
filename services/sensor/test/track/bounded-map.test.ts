import { describe, expect, it } from 'vitest';
import { addressKeyFromText } from '../../src/decode/address.js';
import { BoundedMap } from '../../src/track/bounded-map.js';
import { PeerTable } from '../../src/track/peers.js';

describe('BoundedMap', () => {
  it('evicts the least recently refreshed entry and reports it', () => {
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(2, (key) => evicted.push(key));
    map.set('a', 1);
    map.set('b', 2);
    map.refresh('a', 1);
    map.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect([...map.values()]).toEqual([1, 3]);
    expect(map.evictions).toBe(1);
  });

  it('sweeps in bounded steps that resume where the last one stopped', () => {
    const map = new BoundedMap<number, number>(100);
    for (let i = 0; i < 10; i++) map.set(i, i);
    expect(map.sweep(4, (v) => v % 2 === 0)).toEqual([0, 2]);
    expect(map.sweep(4, (v) => v % 2 === 0)).toEqual([4, 6]);
    expect(map.sweep(4, (v) => v % 2 === 0)).toEqual([8]);
    expect(map.size).toBe(5);
    // The next sweep starts over from the oldest entry.
    expect(map.sweep(100, () => true)).toEqual([1, 3, 5, 7, 9]);
  });
});

describe('PeerTable expiry', () => {
  it('ignores expired peers at once, and frees them a budget at a time', () => {
    const peers = new PeerTable(1_000_000, 1000);
    for (let i = 0; i < 10_000; i++) peers.learn(addressKeyFromText(`198.18.${i >> 8}.${i & 0xff}`)!, 1214, 'both', { protocol: 'fasttrack', via: 'udp-ping', learnedFrom: null, now: 0 });
    expect(peers.lookup(addressKeyFromText('198.18.0.1')!, 1214, 'udp', 999)).not.toBeNull();
    expect(peers.lookup(addressKeyFromText('198.18.0.1')!, 1214, 'udp', 1000)).toBeNull();
    const version = peers.version;
    expect(peers.prune(2000, 4096)).toHaveLength(4096);
    expect(peers.size).toBe(10_000 - 4096);
    expect(peers.version).toBeGreaterThan(version);
    peers.prune(2000, 4096);
    peers.prune(2000, 4096);
    expect(peers.size).toBe(0);
  });
});
