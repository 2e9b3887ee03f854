import { describe, expect, it } from 'vitest';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/decode/packet.js';
import { Flow } from '../../src/track/flow.js';
import { FlowTable, type FlowEndCause } from '../../src/track/flow-table.js';

/** A distinct 5-tuple per name: 10.0.0.1:(1000 + n) → 198.51.100.1:2000, n the name's number. */
const numbers = new Map<string, number>();
function setKey(table: FlowTable, key: string, protocol: number): void {
  let n = numbers.get(key);
  if (n === undefined) numbers.set(key, (n = numbers.size));
  const addresses = Uint8Array.of(10, 0, (n >> 16) & 255, 1, 198, 51, 100, 1);
  table.setKey(protocol, addresses, 0, 1000 + (n & 0xffff), 4, 2000, 4);
}

/** Adds a new flow named `key`, last active at `lastSeen`. */
function insert(table: FlowTable, key: string, protocol: number, lastSeen: number): Flow {
  setKey(table, key, protocol);
  const f = table.add(protocol);
  f.reset(protocol, 4, 'a', 1, 'b', 2, true);
  f.key = key;
  f.outPackets = 1;
  f.firstSeen = lastSeen;
  f.lastSeen = lastSeen;
  return f;
}

function get(table: FlowTable, key: string, protocol = IPPROTO_TCP): Flow | undefined {
  setKey(table, key, protocol);
  return table.find();
}

describe('FlowTable', () => {
  it('never holds more than maxFlows: a flood of new flows evicts the least recently active', () => {
    const ended: [string, FlowEndCause][] = [];
    const table = new FlowTable(1000, { tcp: 1e9, udp: 1e9, other: 1e9 }, (f, cause) => ended.push([f.key, cause]));
    for (let i = 0; i < 100_000; i++) insert(table, `k${i}`, i % 2 ? IPPROTO_TCP : IPPROTO_UDP, i);
    expect(table.size).toBe(1000);
    expect(table.evictions).toBe(99_000);
    expect(ended[0]).toEqual(['k0', 'evicted']);
    expect(get(table, 'k99999', IPPROTO_TCP)).toBeDefined();
    expect(get(table, 'k98999', IPPROTO_TCP)).toBeUndefined();
  });

  it('keeps a recently touched flow over older idle ones', () => {
    const table = new FlowTable(3, { tcp: 1e9, udp: 1e9, other: 1e9 }, () => {});
    const a = insert(table, 'a', IPPROTO_TCP, 1);
    insert(table, 'b', IPPROTO_TCP, 2);
    insert(table, 'c', IPPROTO_UDP, 3);
    a.lastSeen = 4;
    table.touch(a);
    insert(table, 'd', IPPROTO_UDP, 5);
    expect(get(table, 'a')).toBe(a);
    expect(get(table, 'b')).toBeUndefined();
  });

  it('expires idle flows per protocol timeout', () => {
    const ended: string[] = [];
    const table = new FlowTable(100, { tcp: 300_000, udp: 60_000, other: 30_000 }, (f) => ended.push(f.key));
    insert(table, 'tcp', IPPROTO_TCP, 0);
    insert(table, 'udp', IPPROTO_UDP, 0);
    insert(table, 'icmp', 1, 0);
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
    insert(table, 'late', IPPROTO_TCP, 5);
    insert(table, 'early', IPPROTO_UDP, 1);
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
    const [a, b, c] = [insert(t, 'a', IPPROTO_TCP, 0), insert(t, 'b', IPPROTO_TCP, 0), insert(t, 'c', IPPROTO_UDP, 0)];
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
    const a = insert(t, 'a', IPPROTO_TCP, 0);
    const b = insert(t, 'b', IPPROTO_UDP, 0);
    t.noteChange(a, 0);
    t.noteChange(b, 0);
    t.markSummarized(b);
    const c = insert(t, 'c', IPPROTO_UDP, 50); // evicts a (least recently active)
    t.noteChange(c, 50);
    expect(ended).toEqual(['a']);
    expect(due(t, 1000)).toEqual(['c']);
    t.noteChange(b, 60);
    t.flush();
    expect(due(t, 1000)).toEqual([]);
    expect(t.changedQueueLength).toBe(0);
  });
});
