import { describe, expect, it } from 'vitest';
import { GnutellaModule, GnutellaRule, GnutellaVia, MAX_PEERS } from '../../src/detect/gnutella/gnutella.js';
import { accepted, allAccepted, expectNothing, peerKeys, returned } from '../support/detector-results.js';
import { DetectorHarness, reversed } from '../support/detector-harness.js';
import { bittorrent as bt, udp, type Endpoints, gnutella } from '@p2pwall/lab';

const { MessageType, deflatedGnd, descriptor, g2Packet, gnd, guid, knownHubList, mojito, ping, pong, query, queryHit, queryKeyRequest, vendorMessage, endpointKeys } = gnutella;
type Endpoint = gnutella.Endpoint;

/** The inside servent's UDP port (the shared capture's client uses 28681) and outside servents. */
const SERVENT: Endpoints = { src: '10.0.0.5', dst: '203.0.113.7', sport: 28681, dport: 6346 };
const SELF: Endpoint = { ip: '203.0.113.7', port: 6346 };
const CACHE: Endpoint[] = [
  { ip: '198.51.100.41', port: 4832 },
  { ip: '203.0.113.42', port: 6346 },
  { ip: '198.51.100.43', port: 52367 },
];

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new GnutellaModule()] });
}

function datagram(ends: Endpoints, payload: Uint8Array): Uint8Array {
  return udp({ ...ends, payload });
}

describe('Gnutella over UDP', () => {
  it('a ping from the inside servent identifies it (with a GGEP block or bare) and learns the pinged servent', () => {
    for (const bare of [false, true]) {
      const h = harness();
      const [result] = h.feedAll([datagram(SERVENT, ping({ bare }))]);
      expect(accepted(result!)).toEqual([GnutellaRule.udpMessage]);
      expect(result!.evidence[0]!.detail).toBe('ping');
      expect(peerKeys(h)).toEqual(['203.0.113.7:6346/both']);
    }
  });

  it('the pong to that ping names its servent and its GGEP IPP list', () => {
    const h = harness();
    const id = guid(3);
    const results = h.feedAll([datagram(SERVENT, ping({ guid: id })), datagram(reversed(SERVENT), pong({ ip: '198.51.100.40', port: 6348 }, { guid: id, ipp: CACHE }))]);
    expect(allAccepted(results)).toEqual([GnutellaRule.udpMessage, GnutellaRule.udpMessage]);
    expect(peerKeys(h, GnutellaVia.pong)).toEqual(['198.51.100.40:6348/both']);
    expect(peerKeys(h, GnutellaVia.ggepIpp)).toEqual(endpointKeys(CACHE));
  });

  it(`takes at most ${MAX_PEERS.pong} servents from one pong`, () => {
    const h = harness();
    const id = guid(4);
    const many = Array.from({ length: 60 }, (_, i) => ({ ip: `198.51.100.${i + 1}`, port: 7000 + i }));
    const results = h.feedAll([datagram(SERVENT, ping({ guid: id })), datagram(reversed(SERVENT), pong(SELF, { guid: id, ipp: many }))]);
    // The pong's own address (the pinged servent, already learned) and 31 IPP entries.
    expect(results[1]!.evidence[0]!.peers).toHaveLength(MAX_PEERS.pong);
    expect(peerKeys(h, GnutellaVia.ggepIpp)).toHaveLength(MAX_PEERS.pong - 1);
  });

  it('a pong that does not repeat the ping’s GUID names nobody; one without any ping is not believed', () => {
    const h = harness();
    const results = h.feedAll([datagram(SERVENT, ping({ guid: guid(5) })), datagram(reversed(SERVENT), pong(SELF, { guid: guid(6), ipp: CACHE }))]);
    expect(peerKeys(h)).toEqual(['203.0.113.7:6346/both']);
    expect(results[1]!.evidence.every((evidence) => evidence.peers === undefined)).toBe(true);
    const unasked = harness();
    const ends = { ...SERVENT, sport: 28682 };
    expect(allAccepted(unasked.feedAll([datagram(reversed(ends), pong(SELF, { guid: guid(7), ipp: CACHE }))]))).toEqual([]);
    expect(peerKeys(unasked)).toEqual([]);
  });

  it('a GUESS query and its hit: the hit names the servent that has the file', () => {
    const h = harness();
    const id = guid(8);
    const results = h.feedAll([datagram(SERVENT, query('pinkfloyd', { guid: id })), datagram(reversed(SERVENT), queryHit({ ip: '198.51.100.50', port: 6350 }, { guid: id }))]);
    expect(results.map((result) => result.evidence[0]?.detail)).toEqual(['query', 'query hit']);
    expect(peerKeys(h, GnutellaVia.queryHit)).toEqual(['198.51.100.50:6350/both']);
  });

  it('vendor messages and gtk-gnutella’s Mojito DHT identify', () => {
    const h = harness();
    expect(allAccepted(h.feedAll([datagram(SERVENT, vendorMessage())]))).toEqual([GnutellaRule.udpMessage]);
    const m = harness();
    expect(allAccepted(m.feedAll([datagram(SERVENT, mojito())]))).toEqual([GnutellaRule.mojito]);
  });

  it('a flow already concluded reports no more constant evidence', () => {
    const h = harness();
    const results = h.feedAll([datagram(SERVENT, ping()), datagram(SERVENT, ping()), datagram(SERVENT, vendorMessage())]);
    expect(returned(results)).toEqual([GnutellaRule.udpMessage]);
  });
});

describe('Gnutella2 over UDP', () => {
  it('the query-key request of the shared capture identifies the inside servent', () => {
    const h = harness();
    expect(allAccepted(h.feedAll([datagram(SERVENT, queryKeyRequest({ ip: '192.0.2.53', port: 28681 }))]))).toEqual([GnutellaRule.g2Udp]);
  });

  it('deflated datagrams are taken by their zlib header; later parts and acknowledgements are not', () => {
    const h = harness();
    expect(allAccepted(h.feedAll([datagram(SERVENT, deflatedGnd())]))).toEqual([GnutellaRule.g2Udp]);
    const later = gnd([0x12, 0x34, 0x56], { flags: 0x01, part: 2, count: 2 });
    const ack = gnd([], { flags: 0x00, part: 1, count: 0 });
    const o = harness();
    expect(returned(o.feedAll([datagram({ ...SERVENT, sport: 28682 }, later), datagram({ ...SERVENT, sport: 28683 }, ack)]))).toEqual([]);
  });

  it('a /KHL answering the inside servent names its neighbour and cached hubs', () => {
    const h = harness();
    const neighbours = CACHE.slice(0, 2);
    const cached = CACHE.slice(2);
    h.feedAll([datagram(SERVENT, queryKeyRequest({ ip: '192.0.2.53', port: 28681 })), datagram(reversed(SERVENT), knownHubList(neighbours, cached))]);
    expect(peerKeys(h, GnutellaVia.g2Khl)).toEqual(endpointKeys(CACHE));
  });

  it('a /KHL sent unasked is not believed', () => {
    const h = harness();
    expect(allAccepted(h.feedAll([datagram(reversed(SERVENT), knownHubList(CACHE, []))]))).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
  });
});

describe('look-alikes that must not match', () => {
  const nothing = (packets: readonly Uint8Array[]): void => expectNothing(harness, packets);

  const HIGH: Endpoints = { src: '10.0.0.5', dst: '198.51.100.20', sport: 40000, dport: 40001 };

  it('DNS queries of 20 and 23 bytes, and their answers, on port 53, 5353 and a high port', () => {
    // id, flags 0x0100, qd 1, then a name and A IN: `\x01a\x00` (20 bytes) and `\x04abcd\x00` (23 bytes, a NUL where the length's last byte lies).
    const q20 = Uint8Array.from([0x41, 0x00, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x01, 0x61, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00]);
    const q23 = Uint8Array.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x04, 0x61, 0x62, 0x63, 0x64, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00]);
    for (const port of [53, 5353, 40001]) {
      const ends = { ...HIGH, dport: port };
      for (const query of [q20, q23]) {
        const answer = Uint8Array.from([...query.subarray(0, 2), 0x81, 0x80, ...query.subarray(4, 6), 0x00, 0x01, ...query.subarray(8)]);
        nothing([datagram(ends, query), datagram(reversed(ends), answer)]);
      }
    }
  });

  it('QUIC initial and short-header packets, STUN, RTP and DTLS', () => {
    const initial = Uint8Array.from([0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, ...bt.randomBytes(8, 3), 0x00, 0x44, 0xe6, ...bt.randomBytes(1180, 4)]);
    const short = Uint8Array.from([0x41, ...bt.randomBytes(40, 5)]);
    const stun = Uint8Array.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, ...bt.randomBytes(12, 6)]);
    const rtp = Uint8Array.from([0x80, 0x6f, 0x12, 0x34, 0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef, ...bt.randomBytes(160, 7)]);
    const dtls = Uint8Array.from([0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, ...bt.randomBytes(128, 8)]);
    for (const port of [443, 3478, 50000]) {
      const ends = { ...HIGH, dport: port };
      nothing([datagram(ends, initial), datagram(ends, short), datagram(ends, stun), datagram(ends, rtp), datagram(ends, dtls), datagram(reversed(ends), initial)]);
    }
  });

  it('datagrams whose length field matches but whose type, TTL or payload does not', () => {
    const badType = descriptor(0x55, bt.randomBytes(30, 9));
    const ttlZero = descriptor(MessageType.ping, [], { ttl: 0 });
    const ttlHigh = descriptor(MessageType.ping, [], { ttl: 9, hops: 3 });
    const zeroPadded = new Uint8Array(23); // a 23-byte record of zeros: type 0, length 0 — but TTL 0
    zeroPadded[17] = 1; // and even with TTL 1: its GUID is all zeros
    const pongNoGgep = descriptor(MessageType.pong, [...bt.randomBytes(20, 10)]);
    const queryNoNul = descriptor(MessageType.query, [0x00, 0x00, 0x41, 0x42, 0x43]);
    const pingNoGgep = descriptor(MessageType.ping, [0x01, 0x02, 0x03]);
    const mojitoTtl = descriptor(MessageType.mojito, [0x01, ...Buffer.from('GTKG')], { ttl: 1 });
    const vendorLower = descriptor(MessageType.vendor, [...Buffer.from('gtkg'), 0, 0, 1, 0]);
    const lengthOff = descriptor(MessageType.ping, [], { length: 1 });
    nothing([badType, ttlZero, ttlHigh, zeroPadded, pongNoGgep, queryNoNul, pingNoGgep, mojitoTtl, vendorLower, lengthOff].map((payload, i) => datagram({ ...HIGH, sport: 41000 + i }, payload)));
  });

  it('random datagrams of 23 bytes and more whose length field happens to match', () => {
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 64; i++) {
      const payload = Uint8Array.from(bt.randomBytes(23 + (i % 40), 200 + i));
      new DataView(payload.buffer).setUint32(19, payload.length - 23, true);
      // Every type byte but Gnutella's; TTL and hops left random.
      if ([0x00, 0x01, 0x02, 0x31, 0x32, 0x40, 0x44, 0x80, 0x81].includes(payload[16]!)) payload[16] = 0x99;
      packets.push(datagram({ ...HIGH, sport: 42000 + i }, payload));
    }
    nothing(packets);
  });

  it('game traffic: small frequent datagrams both ways on high ports', () => {
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) packets.push(datagram(i % 2 === 0 ? HIGH : reversed(HIGH), Uint8Array.from([i & 1 ? 0x01 : 0x11, i, ...bt.randomBytes(18 + (i % 30), 100 + i)])));
    nothing(packets);
  });

  it('`GND` with unknown flags, a part beyond its count, no count, or bytes that are no G2 packet', () => {
    const body = g2Packet('PI', []);
    const cases = [
      gnd(body, { flags: 0x80 }),
      gnd(body, { part: 3, count: 2 }),
      gnd(body, { part: 0, count: 1 }),
      gnd([0x00, 0x01, 0x02]),
      gnd([0x48, 0x05, 0x70, 0x69]), // a lower-case name
      gnd([...body, 0x01, 0x02]), // trailing bytes after the only part
      gnd([0x78, 0x9d, 0x00], { flags: 0x01 }), // not a zlib header (0x789d % 31 ≠ 0)
      Uint8Array.from(Buffer.from('GNDGNDGNDGND')),
    ];
    nothing(cases.map((payload, i) => datagram({ ...HIGH, sport: 43000 + i }, payload)));
  });
});

describe('hostile bytes', () => {
  it('never throws on truncations and random corruptions of every message', () => {
    const id = guid(11);
    const messages = [ping({ guid: id }), pong(SELF, { guid: id, ipp: CACHE }), query('x', { guid: id }), queryHit(SELF, { guid: id }), vendorMessage(), mojito(), queryKeyRequest(SELF), knownHubList(CACHE, CACHE), deflatedGnd()];
    let seed = 1;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    const h = harness();
    let port = 20000;
    for (const message of messages) {
      for (let trial = 0; trial < 80; trial++) {
        const copy = Uint8Array.from(message.subarray(0, 1 + Math.floor(random() * message.length)));
        for (let flips = 0; flips < 3; flips++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        const ends = { ...SERVENT, sport: port++ };
        expect(() => {
          h.feed(datagram(ends, ping({ guid: id })));
          h.feed(datagram(reversed(ends), copy));
          h.feed(datagram(ends, copy));
        }).not.toThrow();
      }
    }
  });
});
