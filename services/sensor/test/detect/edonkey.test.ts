import { describe, expect, it } from 'vitest';
import { EdonkeyModule, EdonkeyRule, EdonkeyVia, MAX_PEERS } from '../../src/detect/edonkey/edonkey.js';
import { accepted, allAccepted, expectNothing, noModuleState, peerKeys, returned } from '../support/detector-results.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn, tcpSynAck } from '../support/detector-harness.js';
import { ACK, PSH, bittorrent as bt, tcp, type Endpoints, edonkey } from '@p2pwall/lab';

const { concat, corruptedCopies, foundSourcesBody, frame, getServerList, getSources, hash, hello, helloAnswer, idChange, login, serverListBody, serverMessage } = edonkey;
type Endpoint = edonkey.Endpoint;

/** An inside eMule client, an outside client on eMule's TCP port and an outside server. */
const CLIENT: Endpoints = { src: '10.0.0.5', dst: '203.0.113.7', sport: 50196, dport: 4662 };
const SERVER: Endpoints = { src: '10.0.0.5', dst: '198.51.100.9', sport: 50197, dport: 4661 };
const WEB: Endpoints = { src: '10.0.0.5', dst: '198.51.100.80', sport: 40001, dport: 443 };

const SERVERS: Endpoint[] = [
  { ip: '203.0.113.61', port: 4661 },
  { ip: '198.51.100.62', port: 5687 },
];
const SOURCES: Endpoint[] = [
  { ip: '203.0.113.71', port: 4662 },
  { ip: '198.51.100.72', port: 20561 },
];
const keys = (list: readonly Endpoint[], transport: string): string[] => list.map((entry) => `${entry.ip}:${entry.port}/${transport}`).sort();

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new EdonkeyModule()] });
}

function segment(ends: Endpoints, payload: Uint8Array, seq = 1000): Uint8Array {
  return tcp({ ...ends, flags: PSH | ACK, seq, payload });
}

describe('eDonkey over TCP', () => {
  it('a client Hello from inside identifies the host and learns the contacted client for TCP', () => {
    const h = harness();
    const [result] = h.feedAll([segment(CLIENT, hello())]);
    expect(accepted(result!)).toEqual([EdonkeyRule.hello]);
    expect(peerKeys(h)).toEqual(['203.0.113.7:4662/tcp']);
    expect(noModuleState(result!)).toBe(true);
  });

  it('the Hello answer counts after the host’s Hello; from a client that called in, its Hello is not believed', () => {
    const h = harness();
    const results = h.feedAll([tcpSyn(CLIENT), tcpSynAck(CLIENT), segment(CLIENT, hello()), segment(reversed(CLIENT), helloAnswer(), 5000)]);
    expect(allAccepted(results)).toEqual([EdonkeyRule.hello]);
    expect(returned(results)).toEqual([EdonkeyRule.hello]);
    const inbound = harness();
    const caller = reversed(CLIENT);
    const unsolicited = inbound.feedAll([tcpSyn(caller), tcpSynAck(caller), segment(caller, hello())]);
    expect(returned(unsolicited)).toEqual([EdonkeyRule.hello]);
    expect(allAccepted(unsolicited)).toEqual([]);
    expect(peerKeys(inbound)).toEqual([]);
  });

  it('a server login identifies; the server list it asked for names servers (TCP), chained after other answers', () => {
    const h = harness();
    const answer = concat(serverMessage('Welcome'), idChange(0x0500000a), frame(0xe3, 0x32, serverListBody(SERVERS)));
    const results = h.feedAll([segment(SERVER, login()), segment(SERVER, getServerList(), 2000), segment(reversed(SERVER), answer, 5000)]);
    expect(allAccepted(results)).toEqual([EdonkeyRule.serverLogin, EdonkeyRule.tcpMessage]);
    expect(peerKeys(h, EdonkeyVia.serverList)).toEqual(keys(SERVERS, 'tcp'));
    expect(peerKeys(h)).toContain('198.51.100.9:4661/tcp');
  });

  it('a server list nobody asked for names nobody', () => {
    const h = harness();
    h.feedAll([segment(SERVER, login()), segment(reversed(SERVER), frame(0xe3, 0x32, serverListBody(SERVERS)), 5000)]);
    expect(peerKeys(h, EdonkeyVia.serverList)).toEqual([]);
  });

  it('found sources name their HighID clients only when they repeat the hash the host asked for', () => {
    const file = hash(11);
    const h = harness();
    h.feedAll([segment(SERVER, login()), segment(SERVER, getSources(file), 2000), segment(reversed(SERVER), frame(0xe3, 0x42, foundSourcesBody(file, SOURCES, [0x00001234])), 5000)]);
    expect(peerKeys(h, EdonkeyVia.foundSources)).toEqual(keys(SOURCES, 'tcp'));
    const other = harness();
    other.feedAll([segment(SERVER, login()), segment(SERVER, getSources(file), 2000), segment(reversed(SERVER), frame(0xe3, 0x42, foundSourcesBody(hash(12), SOURCES)), 5000)]);
    expect(peerKeys(other, EdonkeyVia.foundSources)).toEqual([]);
  });

  it(`takes at most ${MAX_PEERS.serverList} servers from one list`, () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ ip: `198.51.100.${i + 1}`, port: 4661 + i }));
    const h = harness();
    const results = h.feedAll([segment(SERVER, login()), segment(SERVER, getServerList(), 2000), segment(reversed(SERVER), frame(0xe3, 0x32, serverListBody(many)), 5000)]);
    expect(results[2]!.evidence[0]!.peers).toHaveLength(MAX_PEERS.serverList);
  });

  it('a Hello split over segments counts once the stream ends it where its length said, and frees its state', () => {
    for (const cuts of [[7], [20], [10, 40, 90]]) {
      const h = harness();
      const results = h.feedAll(tcpSegments(hello(), { ...CLIENT, cuts }));
      expect(allAccepted(results)).toEqual([EdonkeyRule.hello]);
      expect(accepted(results.at(-1)!)).toEqual([EdonkeyRule.hello]);
      expect(noModuleState(results.at(-1)!)).toBe(true);
    }
  });

  it('a first segment of fewer than 6 bytes (marker, length, opcode) is missed: nothing is buffered; of exactly 6, the Hello is a message', () => {
    const h = harness();
    expect(returned(h.feedAll(tcpSegments(hello(), { ...CLIENT, cuts: [3] })))).toEqual([]);
    const six = harness();
    expect(allAccepted(six.feedAll(tcpSegments(hello(), { ...CLIENT, cuts: [6] })))).toEqual([EdonkeyRule.tcpMessage]);
  });

  it('a frame longer than its segment is believed when the next frame starts where it ends', () => {
    const stream = concat(hello(), frame(0xc5, 0x01, [0x42, 0x01, 0, 0, 0, 0]));
    const h = harness();
    const results = h.feedAll(tcpSegments(stream, { ...CLIENT, cuts: [30] }));
    expect(allAccepted(results)).toEqual([EdonkeyRule.hello]);
  });

  it('a frame whose length the stream does not confirm is not taken', () => {
    const h = harness();
    // The length says 200 bytes; 60 arrive, then a segment that is no frame.
    const head = frame(0xe3, 0x47, Array.from({ length: 199 }, (_, i) => i & 0xff)).subarray(0, 60);
    expect(returned(h.feedAll([segment(CLIENT, head), segment(CLIENT, Uint8Array.from(bt.randomBytes(200, 5)), 1060)]))).toEqual([]);
  });

  it('eMule extended (C5) and packed (D4) frames are eDonkey messages', () => {
    for (const payload of [frame(0xc5, 0x01, [0x42, 0x01, 0, 0, 0, 0]), frame(0xd4, 0x40, [...bt.randomBytes(300, 8)]), concat(frame(0xc5, 0x81, hash(3)), frame(0xe3, 0x58, hash(4)))]) {
      const h = harness();
      expect(accepted(h.feedAll([segment(CLIENT, payload)])[0]!)).toEqual([EdonkeyRule.tcpMessage]);
    }
  });
});

describe('eDonkey over TCP from a real client', () => {
  // aMule 2.3.3 in the lab: one client's Hello to another (Kad's TCP firewall check), and the answer.
  const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
  const TAGS = '010000003612070000000201000105006c61622d';
  const TAIL = '030100113c000000030100f940124012030100fb800d0403030100fa16321334030100fe38040000030100ef01000000000000000000';
  const HELLO = hex(`e35d00000001101141183f4c0e3fc499a29811b7836feb${TAGS}63${TAIL}`);
  const ANSWER = hex(`e35c0000004c5481423cd20ea8b4aad872611d986f91${TAGS}62${TAIL}`);

  it('its Hello identifies it; a caller’s Hello does not, the host’s answer to it does', () => {
    const h = harness();
    expect(allAccepted(h.feedAll([segment(CLIENT, HELLO)]))).toEqual([EdonkeyRule.hello]);
    expect(peerKeys(h)).toEqual(['203.0.113.7:4662/tcp']);
    const caller = reversed(CLIENT);
    const answering = harness();
    const results = answering.feedAll([tcpSyn(caller), tcpSynAck(caller), segment(caller, HELLO), segment(CLIENT, ANSWER, 5000)]);
    expect(returned(results)).toEqual([EdonkeyRule.hello, EdonkeyRule.hello]);
    expect(allAccepted(results)).toEqual([EdonkeyRule.hello]);
  });
});

describe('eDonkey over TCP: look-alikes', () => {
  it('TLS, HTTP, SSH and a BitTorrent handshake', () => {
    const tls = Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, ...bt.randomBytes(500, 1)]);
    const http = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: example.org\r\n\r\n');
    const ssh = new TextEncoder().encode('SSH-2.0-OpenSSH_9.6\r\n');
    const handshake = Uint8Array.from([0x13, ...new TextEncoder().encode('BitTorrent protocol'), ...bt.randomBytes(48, 2)]);
    for (const payload of [tls, http, ssh, handshake]) expectNothing(harness, [segment(WEB, payload), segment(reversed(WEB), payload, 5000), segment(CLIENT, payload)]);
  });

  it('random segments that start with a marker, and frames one byte off their segment', () => {
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 600; i++) {
      const marker = [0xe3, 0xc5, 0xd4][i % 3]!;
      packets.push(segment({ ...CLIENT, sport: 20000 + i }, Uint8Array.from([marker, ...bt.randomBytes(1 + (i % 1400), 300 + i)])));
    }
    for (const delta of [-1, 1]) {
      const bad = Uint8Array.from(hello());
      bad[1] = bad[1]! + delta;
      packets.push(segment({ ...CLIENT, sport: 30000 + delta }, bad));
    }
    const h = harness();
    expect(returned(h.feedAll(packets))).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
  });

  it('a frame with an opcode its marker does not carry, or a length past 2 MiB', () => {
    expectNothing(harness, [segment(CLIENT, frame(0xe3, 0x02, [1, 2, 3])), segment({ ...CLIENT, sport: 50300 }, Uint8Array.from([0xe3, 0x00, 0x00, 0x30, 0x00, 0x46, ...bt.randomBytes(100, 3)]))]);
  });

  it('never throws on truncations and random corruptions of every message', () => {
    const messages = [hello(), helloAnswer(), login(), concat(serverMessage('x'), frame(0xe3, 0x32, serverListBody(SERVERS))), frame(0xe3, 0x42, foundSourcesBody(hash(1), SOURCES))];
    const h = harness();
    for (const [round, copy] of corruptedCopies(messages, 300, 7).entries()) {
      const ends = { ...SERVER, sport: 40000 + (round % 50) };
      expect(() => h.feedAll([segment(ends, getServerList(), 900), segment(reversed(ends), copy, 5000 + round), segment(ends, copy, 1000 + round)])).not.toThrow();
    }
  });
});
