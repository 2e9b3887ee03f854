import { describe, expect, it } from 'vitest';
import { addressKeyFromText } from '../../src/decode/address.js';
import { PeerTable } from '../../src/track/peers.js';

const details = { protocol: 'test', via: 'test/r', learnedFrom: null };

function learn(table: PeerTable, ip: string, now: number, expiresAt?: number): void {
  table.learn(addressKeyFromText(ip)!, 6881, 'both', { ...details, now, expiresAt });
}

describe('PeerTable expiry', () => {
  it('a prune before the earliest expiry visits nothing; after it, expired entries go, short-lived ones first', () => {
    const table = new PeerTable(1000, 10_000);
    learn(table, '203.0.113.1', 0);
    learn(table, '203.0.113.2', 0, 2_000);
    expect(table.prune(1_000)).toEqual([]);
    expect(table.size).toBe(2);
    expect(table.prune(2_000).map((entry) => entry.ip)).toEqual(['203.0.113.2']);
    expect(table.prune(5_000)).toEqual([]);
    expect(table.prune(10_000).map((entry) => entry.ip)).toEqual(['203.0.113.1']);
    expect(table.size).toBe(0);
  });

  it('with a sweep budget smaller than the table, every expired entry still goes within a few prunes', () => {
    const table = new PeerTable(1000, 10_000);
    for (let i = 1; i <= 50; i++) learn(table, `203.0.113.${i}`, 0, i % 2 === 0 ? 1_000 : 20_000);
    learn(table, '198.51.100.1', 500, 500 + 30_000);
    let removed = 0;
    for (let round = 0; round < 10; round++) removed += table.prune(1_000 + round, 8).length;
    expect(removed).toBe(25);
    expect(table.size).toBe(26);
    // A refreshed entry's later expiry is honoured; the earlier bound only makes a prune look.
    learn(table, '198.51.100.1', 2_000, 2_000 + 40_000);
    for (let round = 0; round < 10; round++) removed += table.prune(20_000 + round, 8).length;
    expect(table.size).toBe(1);
    expect([...table.values()].map((entry) => entry.ip)).toEqual(['198.51.100.1']);
  });
});

describe('PeerTable lookups by address', () => {
  const key = (ip: string): string => addressKeyFromText(ip)!;

  it('finds an endpoint and a whole address, and nothing once they are removed, evicted or expired', () => {
    const table = new PeerTable(2, 10_000);
    table.learn(key('203.0.113.1'), 6881, 'both', { ...details, now: 0 });
    table.learn(key('203.0.113.1'), 0, 'tcp', { ...details, now: 0 });
    expect(table.lookup(key('203.0.113.1'), 6881, 'udp', 1)?.port).toBe(6881);
    expect(table.lookup(key('203.0.113.1'), 80, 'tcp', 1)?.port).toBe(0);
    expect(table.lookup(key('203.0.113.1'), 80, 'udp', 1)).toBeNull();
    expect(table.remove(key('203.0.113.1'), 0, 'tcp')).toBe(true);
    expect(table.lookup(key('203.0.113.1'), 80, 'tcp', 1)).toBeNull();
    expect(table.lookup(key('203.0.113.1'), 6881, 'tcp', 1)?.port).toBe(6881);
    // Full (2 endpoints): a third evicts the oldest, whose address then leads nowhere.
    table.learn(key('203.0.113.2'), 1, 'udp', { ...details, now: 0 });
    table.learn(key('203.0.113.3'), 1, 'udp', { ...details, now: 0 });
    expect(table.lookup(key('203.0.113.1'), 6881, 'tcp', 1)).toBeNull();
    expect(table.lookup(key('203.0.113.3'), 1, 'udp', 1)?.port).toBe(1);
    table.prune(20_000);
    expect(table.size).toBe(0);
    table.learn(key('203.0.113.3'), 2, 'udp', { ...details, now: 20_000 });
    expect(table.lookup(key('203.0.113.3'), 2, 'udp', 20_001)?.port).toBe(2);
    expect(table.removeCovered(key('203.0.113.3'), 0)).toHaveLength(1);
    expect(table.lookup(key('203.0.113.3'), 2, 'udp', 20_001)).toBeNull();
  });

  it('keeps the entries of one endpoint for several transports apart: each found, expired and removed alone', () => {
    const table = new PeerTable(10, 10_000);
    const peer = key('203.0.113.7');
    table.learn(peer, 6881, 'tcp', { ...details, now: 0, expiresAt: 1_000 });
    table.learn(peer, 6881, 'udp', { ...details, now: 0 });
    table.learn(peer, 6881, 'both', { ...details, now: 0, expiresAt: 5_000 });
    expect(table.size).toBe(3);
    expect(table.lookup(peer, 6881, 'tcp', 1)?.transport).toBe('tcp');
    expect(table.lookup(peer, 6881, 'udp', 1)?.transport).toBe('udp');
    // The tcp entry expired: a tcp packet is covered by the entry for both until that expires too.
    expect(table.lookup(peer, 6881, 'tcp', 2_000)?.transport).toBe('both');
    expect(table.prune(2_000).map((entry) => entry.transport)).toEqual(['tcp']);
    expect(table.size).toBe(2);
    expect(table.remove(peer, 6881, 'both')).toBe(true);
    expect(table.lookup(peer, 6881, 'tcp', 2_000)).toBeNull();
    expect(table.lookup(peer, 6881, 'udp', 2_000)?.transport).toBe('udp');
    // Learned again, the tcp entry joins the endpoint's udp one.
    table.learn(peer, 6881, 'tcp', { ...details, now: 20_000 });
    expect([...table.values()].map((entry) => entry.transport).sort()).toEqual(['tcp', 'udp']);
    expect(table.prune(20_001).map((entry) => entry.transport)).toEqual(['udp']);
    expect(table.lookup(peer, 6881, 'tcp', 20_001)?.learnedAt).toBe(20_000);
  });
});

describe('PeerTable lookups by a numeric IPv4 address', () => {
  const key = (ip: string): string => addressKeyFromText(ip)!;
  const number = (ip: string): number => ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);

  it('finds exactly what the lookup by key finds: endpoints, whole addresses, transports, expiry', () => {
    const table = new PeerTable(100, 10_000);
    table.learn(key('203.0.113.1'), 6881, 'udp', { ...details, now: 0 });
    table.learn(key('203.0.113.2'), 0, 'tcp', { ...details, now: 0, expiresAt: 5_000 });
    table.learn(key('255.1.2.3'), 65535, 'both', { ...details, now: 0 });
    const asked: [string, number, 'tcp' | 'udp', number][] = [
      ['203.0.113.1', 6881, 'udp', 1],
      ['203.0.113.1', 6881, 'tcp', 1],
      ['203.0.113.1', 6882, 'udp', 1],
      ['203.0.113.2', 443, 'tcp', 1],
      ['203.0.113.2', 443, 'tcp', 6_000],
      ['203.0.113.2', 0, 'tcp', 1],
      ['203.0.113.2', 443, 'udp', 1],
      ['255.1.2.3', 65535, 'tcp', 1],
      ['198.51.100.9', 6881, 'udp', 1],
    ];
    for (const [ip, port, transport, now] of asked) {
      const byKey = table.lookup(key(ip), port, transport, now);
      expect(table.lookupIpv4(number(ip), port, transport, now), `${ip}:${port}/${transport} at ${now}`).toBe(byKey);
    }
    expect(table.lookupIpv4(number('203.0.113.2'), 443, 'tcp', 1)?.port).toBe(0);
    expect(table.lookupIpv4(number('255.1.2.3'), 65535, 'udp', 1)?.transport).toBe('both');
  });
});
