import { describe, expect, it } from 'vitest';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/decode/packet.js';
import { Flow } from '../../src/track/flow.js';
import { FlowTable, type FlowEndCause } from '../../src/track/flow-table.js';

function flow(key: string, protocol: number, lastSeen: number): Flow {
  const f = new Flow(key, protocol, 4, 'a', 1, 'b', 2, true);
  f.out.packets = 1;
  f.out.firstSeen = lastSeen;
  f.out.lastSeen = lastSeen;
  return f;
}

describe('FlowTable', () => {
  it('never holds more than maxFlows: a flood of new flows evicts the least recently active', () => {
    const ended: [string, FlowEndCause][] = [];
    const table = new FlowTable(1000, { tcp: 1e9, udp: 1e9, other: 1e9 }, (f, cause) => ended.push([f.key, cause]));
    for (let i = 0; i < 100_000; i++) table.insert(flow(`k${i}`, i % 2 ? IPPROTO_TCP : IPPROTO_UDP, i));
    expect(table.size).toBe(1000);
    expect(table.evictions).toBe(99_000);
    expect(ended[0]).toEqual(['k0', 'evicted']);
    expect(table.get('k99999')).toBeDefined();
    expect(table.get('k98999')).toBeUndefined();
  });

  it('keeps a recently touched flow over older idle ones', () => {
    const table = new FlowTable(3, { tcp: 1e9, udp: 1e9, other: 1e9 }, () => {});
    const a = flow('a', IPPROTO_TCP, 1);
    table.insert(a);
    table.insert(flow('b', IPPROTO_TCP, 2));
    table.insert(flow('c', IPPROTO_UDP, 3));
    a.out.lastSeen = 4;
    table.touch(a);
    table.insert(flow('d', IPPROTO_UDP, 5));
    expect(table.get('a')).toBe(a);
    expect(table.get('b')).toBeUndefined();
  });

  it('expires idle flows per protocol timeout', () => {
    const ended: string[] = [];
    const table = new FlowTable(100, { tcp: 300_000, udp: 60_000, other: 30_000 }, (f) => ended.push(f.key));
    table.insert(flow('tcp', IPPROTO_TCP, 0));
    table.insert(flow('udp', IPPROTO_UDP, 0));
    table.insert(flow('icmp', 1, 0));
    table.expire(45_000);
    expect(ended).toEqual(['icmp']);
    table.expire(61_000);
    expect(ended).toEqual(['icmp', 'udp']);
    table.expire(299_000);
    expect(table.size).toBe(1);
    table.expire(300_001);
    expect(table.size).toBe(0);
    expect(table.expirations).toBe(3);
  });

  it('flushes every flow, oldest first', () => {
    const ended: string[] = [];
    const table = new FlowTable(10, { tcp: 1e9, udp: 1e9, other: 1e9 }, (f) => ended.push(f.key));
    table.insert(flow('late', IPPROTO_TCP, 5));
    table.insert(flow('early', IPPROTO_UDP, 1));
    table.flush();
    expect(ended).toEqual(['early', 'late']);
    expect(table.size).toBe(0);
  });
});

describe('FlowTable interim queue', () => {
  const table = (maxFlows = 100) => new FlowTable(maxFlows, { tcp: 1e9, udp: 1e9, other: 1e9 }, () => {});
  const due = (t: FlowTable, cutoff: number): string[] => {
    const keys: string[] = [];
    t.summarizeChanged(cutoff, (f) => keys.push(f.key));
    return keys;
  };

  it('hands over flows whose first change since their last summary is at or before the cutoff, oldest first, once', () => {
    const t = table();
    const [a, b, c] = [flow('a', IPPROTO_TCP, 0), flow('b', IPPROTO_TCP, 0), flow('c', IPPROTO_UDP, 0)];
    for (const f of [a, b, c]) t.insert(f);
    t.noteChange(b, 10);
    t.noteChange(a, 20);
    t.noteChange(b, 25); // already waiting since 10
    t.noteChange(c, 30);
    expect(t.changedQueueLength).toBe(3);
    expect(due(t, 9)).toEqual([]);
    expect(due(t, 20)).toEqual(['b', 'a']);
    expect(due(t, 20)).toEqual([]);
    // Changed again after its summary: waits from the new change.
    t.noteChange(a, 40);
    expect(due(t, 39)).toEqual(['c']);
    expect(due(t, 40)).toEqual(['a']);
    expect(t.changedQueueLength).toBe(0);
  });

  it('skips flows summarized another way (at once) or gone from the table (evicted, expired, flushed)', () => {
    const ended: string[] = [];
    const t = new FlowTable(2, { tcp: 100, udp: 1e9, other: 1e9 }, (f) => ended.push(f.key));
    const [a, b, c] = [flow('a', IPPROTO_TCP, 0), flow('b', IPPROTO_UDP, 0), flow('c', IPPROTO_UDP, 50)];
    t.insert(a);
    t.insert(b);
    t.noteChange(a, 0);
    t.noteChange(b, 0);
    t.markSummarized(b);
    t.insert(c); // evicts a (least recently active)
    t.noteChange(c, 50);
    expect(ended).toEqual(['a']);
    expect(due(t, 1000)).toEqual(['c']);
    t.noteChange(b, 60);
    t.flush();
    expect(due(t, 1000)).toEqual([]);
    expect(t.changedQueueLength).toBe(0);
  });
});
