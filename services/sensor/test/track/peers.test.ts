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
