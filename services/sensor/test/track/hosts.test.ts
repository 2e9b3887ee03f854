import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/decode/address.js';
import { HostTable } from '../../src/track/hosts.js';

const v4 = (last: number) => Uint8Array.of(192, 168, 1, last);

describe('HostTable', () => {
  it('keeps one record per inside address, created on its first flow', () => {
    const hosts = new HostTable(10);
    const a = hosts.forNewFlow(v4(5), 0, 4, 1000);
    expect(a).toMatchObject({ addressKey: addressKey(v4(5), 0, 4), packets: 0, firstSeen: 1000, client: null });
    a.packets = 3;
    // The most recent host again (the fast path), then after another host (the Map).
    expect(hosts.forNewFlow(v4(5), 0, 4, 2000)).toBe(a);
    hosts.forNewFlow(v4(6), 0, 4, 2000);
    expect(hosts.forNewFlow(v4(5), 0, 4, 3000)).toBe(a);
    expect(a).toMatchObject({ packets: 3, firstSeen: 1000 });
    expect(hosts.get(addressKey(v4(5), 0, 4))).toBe(a);
    expect(hosts.size).toBe(2);
  });

  it('tells IPv4 and IPv6 addresses apart, and reads the address where it is in the packet', () => {
    const hosts = new HostTable(10);
    const packet = new Uint8Array(40);
    packet.set(v4(7), 12);
    const ipv4 = hosts.forNewFlow(packet, 12, 4, 0);
    const ipv6 = hosts.forNewFlow(packet, 8, 16, 0);
    expect(ipv6).not.toBe(ipv4);
    expect(ipv6.addressKey).toHaveLength(8);
    expect(hosts.forNewFlow(v4(7), 0, 4, 0)).toBe(ipv4);
  });

  it('is bounded: the host whose last new flow is oldest goes first', () => {
    const hosts = new HostTable(3);
    const first = hosts.forNewFlow(v4(1), 0, 4, 0);
    hosts.forNewFlow(v4(2), 0, 4, 0);
    hosts.forNewFlow(v4(3), 0, 4, 0);
    expect(hosts.forNewFlow(v4(1), 0, 4, 1)).toBe(first); // 1 is the most recent now
    hosts.forNewFlow(v4(4), 0, 4, 2); // evicts 2
    expect(hosts.size).toBe(3);
    expect(hosts.evictions).toBe(1);
    expect(hosts.get(addressKey(v4(2), 0, 4))).toBeUndefined();
    expect(hosts.get(addressKey(v4(1), 0, 4))).toBe(first);
    hosts.forNewFlow(v4(5), 0, 4, 3); // evicts 3
    hosts.forNewFlow(v4(6), 0, 4, 3); // evicts 1
    expect(hosts.get(addressKey(v4(1), 0, 4))).toBeUndefined();
    // A host evicted and seen again starts a new record.
    expect(hosts.forNewFlow(v4(1), 0, 4, 9)).not.toBe(first);
  });
});
