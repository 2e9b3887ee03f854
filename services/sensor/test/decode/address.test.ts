import { describe, expect, it } from 'vitest';
import { addressKey, formatAddress, formatAddressKey, formatIpv4Word, parseAddress } from '../../src/decode/address.js';
import { isUnicastAddress, parseIpv4Into } from '../../src/decode/address.js';

describe('parseIpv4Into', () => {
  it('reads what parseAddress reads for dotted quads, and refuses the rest', () => {
    const out = new Uint8Array(4);
    for (const text of ['0.0.0.0', '1.2.3.4', '203.0.113.255', '255.255.255.255', '10.0.0.5']) {
      expect(parseIpv4Into(text, out)).toBe(true);
      expect([...out]).toEqual([...parseAddress(text)!]);
    }
    for (const text of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1..3.4', '1.2.3.4 ', 'a.b.c.d', '::1', '1.2.3.1000', '.1.2.3']) {
      expect(parseIpv4Into(text, out)).toBe(false);
      expect(parseAddress(text)?.length === 4).toBe(false);
    }
  });
});

describe('isUnicastAddress', () => {
  it('is false for multicast, class E and broadcast, true for one host\'s address', () => {
    const unicast = (text: string) => {
      const bytes = parseAddress(text)!;
      return isUnicastAddress(bytes, 0, bytes.length as 4 | 16);
    };
    for (const text of ['203.0.113.9', '10.0.0.1', '223.255.255.255', '2001:db8::1', 'fe80::1', 'fd00::5']) expect(unicast(text)).toBe(true);
    for (const text of ['224.0.0.251', '239.255.255.250', '240.0.0.1', '255.255.255.255', 'ff02::c', 'ff05::1:3']) expect(unicast(text)).toBe(false);
  });
});

describe('address text', () => {
  it('formats an address key and an IPv4 word as formatAddress formats the bytes', () => {
    for (const text of ['0.0.0.0', '1.2.3.4', '10.0.0.5', '127.0.0.1', '192.168.1.5', '203.0.113.255', '255.255.255.255', '2001:db8::1', '::ffff:198.51.100.7']) {
      const bytes = parseAddress(text)!;
      const length = bytes.length as 4 | 16;
      expect(formatAddressKey(addressKey(bytes, 0, length))).toBe(formatAddress(bytes, 0, length));
      if (length === 4) expect(formatIpv4Word(((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0)).toBe(text);
    }
  });
});
