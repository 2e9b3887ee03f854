import { describe, expect, it } from 'vitest';
import { DnsMessage, readAnswers, readName } from '../../src/detect/dns/message.js';
import { dnsMessage, encodeName } from '../support/dns.js';

function read(bytes: Uint8Array): DnsMessage | null {
  const message = new DnsMessage();
  return message.read(bytes, 0, bytes.length) ? message : null;
}

/** A deterministic generator (xorshift32): the fuzz cases are the same on every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('DNS message reader', () => {
  it('reads a query: id, question lower-cased, type and class', () => {
    const message = read(dnsMessage({ id: 0xbeef, name: 'Router.BitTorrent.com', type: 'AAAA', edns: true }))!;
    expect(message).not.toBeNull();
    expect(message.id).toBe(0xbeef);
    expect(message.isResponse).toBe(false);
    expect(message.name).toBe('router.bittorrent.com');
    expect(message.type).toBe(28);
    expect(message.class).toBe(1);
    expect(message.recursionDesired).toBe(true);
    expect(read(dnsMessage({ id: 1, name: 'a.example', recursionDesired: false }))!.recursionDesired).toBe(false);
  });

  it('reads an answer with compressed owners and a CNAME chain', () => {
    const bytes = dnsMessage({
      id: 7,
      name: 'router.utorrent.com',
      response: true,
      compress: true,
      answers: [
        { name: 'router.utorrent.com', type: 'CNAME', value: 'dht.example.net' },
        { name: 'dht.example.net', type: 'A', value: '203.0.113.9' },
        { name: 'other.example', type: 'TXT', value: 'x' },
      ],
    });
    const message = read(bytes)!;
    const records = readAnswers(message, 16)!;
    expect(records.aliases).toEqual([{ owner: 'router.utorrent.com', target: 'dht.example.net' }]);
    expect(records.addresses).toHaveLength(1);
    expect(Array.from(bytes.subarray(records.addresses[0]!.offset, records.addresses[0]!.offset + 4))).toEqual([203, 0, 113, 9]);
  });

  it('keeps at most `max` addresses', () => {
    const answers = Array.from({ length: 20 }, (_, i) => ({ name: 'a.example', type: 'A' as const, value: `203.0.113.${i + 1}` }));
    const message = read(dnsMessage({ id: 1, name: 'a.example', response: true, answers }))!;
    expect(readAnswers(message, 16)!.addresses).toHaveLength(16);
  });

  it('refuses what is not one standard question', () => {
    expect(read(dnsMessage({ id: 1, name: 'a.example', opcode: 4 }))).toBeNull(); // NOTIFY
    const twoQuestions = dnsMessage({ id: 1, name: 'a.example' });
    twoQuestions[5] = 2;
    expect(read(twoQuestions)).toBeNull();
    const hugeCounts = dnsMessage({ id: 1, name: 'a.example' });
    hugeCounts[6] = 0xff; // 65,280 answers cannot fit in 27 bytes
    expect(read(hugeCounts)).toBeNull();
    expect(read(new Uint8Array(12))).toBeNull();
  });

  it('refuses names with dots or control bytes inside a label, reserved label types, and names over 255 octets', () => {
    expect(read(Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x62, 3, 0x63, 0x6f, 0x6d, 0, 0, 1, 0, 1]))).toBeNull();
    expect(read(Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x0a, 0, 0, 1, 0, 1]))).toBeNull();
    expect(read(Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0x61, 0, 0, 1, 0, 1]))).toBeNull();
    const long = `${'a'.repeat(63)}.`.repeat(4) + 'b';
    expect(read(dnsMessage({ id: 1, name: long }))).toBeNull();
    const fits = `${'a'.repeat(63)}.`.repeat(3) + 'b'.repeat(61);
    expect(read(dnsMessage({ id: 1, name: fits }))!.name).toBe(fits);
    // 255 wire octets read; 256 do not.
    expect(encodeName(fits)).toHaveLength(255);
    const tooLong = `${'a'.repeat(63)}.`.repeat(3) + 'b'.repeat(62);
    expect(encodeName(tooLong)).toHaveLength(256);
    expect(read(dnsMessage({ id: 1, name: tooLong }))).toBeNull();
  });

  it('refuses pointers that loop or point forward, and stops after 16 jumps', () => {
    const header = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    // A pointer to itself, and a label followed by a pointer back to that label.
    expect(readName(Uint8Array.from([...header, 0xc0, 12]), 0, 14, 12)).toBeNull();
    expect(readName(Uint8Array.from([...header, 1, 0x61, 0xc0, 12]), 0, 16, 12)).toBeNull();
    // Forward pointer.
    expect(readName(Uint8Array.from([...header, 0xc0, 14, 1, 0x61, 0]), 0, 17, 12)).toBeNull();
    // A chain of links, each a label "a" and a pointer to the link before it, ending at "b".
    const chain: number[] = [...header, 1, 0x62, 0]; // "b" at 12
    let previous = 12;
    for (let i = 0; i < 20; i++) {
      const at = chain.length;
      chain.push(1, 0x61, 0xc0, previous);
      previous = at;
    }
    const bytes = Uint8Array.from(chain);
    // Every label "a" is followed by a pointer to the previous one: 20 jumps from the last.
    expect(readName(bytes, 0, bytes.length, previous)).toBeNull();
    const short = chain.length - 4 * 5; // link 15: 16 labels "a", 16 jumps (the most allowed), then "b"
    expect(readName(bytes, 0, bytes.length, short)).toBe(`${'a.'.repeat(16)}b`);
  });

  it('never throws on random or truncated input, and reads only inside the message', () => {
    const next = random(0x5eed);
    const good = dnsMessage({
      id: 9,
      name: 'router.bittorrent.com',
      response: true,
      compress: true,
      answers: [
        { name: 'router.bittorrent.com', type: 'CNAME', value: 'x.example' },
        { name: 'x.example', type: 'A', value: '203.0.113.5' },
        { name: 'x.example', type: 'AAAA', value: '2001:db8::5' },
      ],
    });
    let parsed = 0;
    for (let round = 0; round < 20_000; round++) {
      let bytes: Uint8Array;
      const kind = round % 3;
      if (kind === 0) bytes = Uint8Array.from({ length: Math.floor(next() * 80) }, () => Math.floor(next() * 256));
      else if (kind === 1) bytes = good.slice(0, Math.floor(next() * good.length));
      else {
        bytes = good.slice();
        for (let flips = 1 + Math.floor(next() * 4); flips > 0; flips--) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      }
      // Surround with bytes the reader must not touch: a message inside a larger buffer.
      const framed = new Uint8Array(bytes.length + 8).fill(0xc0);
      framed.set(bytes, 4);
      const message = new DnsMessage();
      expect(() => {
        if (message.read(framed, 4, 4 + bytes.length)) {
          parsed++;
          const records = readAnswers(message, 16);
          for (const record of records?.addresses ?? []) {
            if (record.offset < 4 || record.offset + record.length > 4 + bytes.length) throw new Error('address outside the message');
          }
        }
      }).not.toThrow();
    }
    // The flipped and truncated copies of a good message do parse sometimes: the fuzz reached the record reader.
    expect(parsed).toBeGreaterThan(100);
  });

  it('encodes test names as the wire does (a helper check)', () => {
    expect(encodeName('ab.c')).toEqual([2, 0x61, 0x62, 1, 0x63, 0]);
  });
});
