import { describe, expect, it } from 'vitest';
import { BitTorrentModule, BitTorrentRule, BitTorrentVia, DHT_CONTACT_TTL_MS, MAX_PEERS } from '../../src/detect/bittorrent/bittorrent.js';
import type { PeerEntry } from '../../src/track/peers.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn, tcpSynAck, type FeedResult } from '../support/detector-harness.js';
import { ACK, PSH, bittorrent as bt, tcp, udp, type Endpoints } from '@p2pwall/lab';

/** An inside client on a high port and outside peers, trackers and DHT nodes in documentation ranges. */
const PEER: Endpoints = { src: '10.0.0.5', dst: '203.0.113.7', sport: 51413, dport: 6881 };
const PEER6: Endpoints = { src: 'fd00::5', dst: '2001:db8::7', sport: 51413, dport: 6881 };
const DHT_NODE: Endpoints = { src: '10.0.0.5', dst: '198.51.100.20', sport: 51413, dport: 6881 };
const TRACKER: Endpoints = { src: '10.0.0.5', dst: '198.51.100.30', sport: 40000, dport: 6969 };
const WEB: Endpoints = { src: '10.0.0.5', dst: '198.51.100.80', sport: 40001, dport: 80 };
const LSD4: Endpoints = { src: '10.0.0.5', dst: bt.LSD_IPV4_GROUP, sport: 6771, dport: 6771 };
const LSD6: Endpoints = { src: 'fd00::5', dst: bt.LSD_IPV6_GROUP, sport: 6771, dport: 6771 };

const SWARM = [
  { ip: '203.0.113.21', port: 51413 },
  { ip: '203.0.113.22', port: 6881 },
  { ip: '198.51.100.23', port: 40000 },
];
const SWARM6 = [{ ip: '2001:db8::21', port: 51413 }];

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new BitTorrentModule()] });
}

/** What the packet produced that the engine accepted (the rule ids). */
function accepted(result: FeedResult): string[] {
  return result.seen.filter((seen) => seen.accepted).map((seen) => seen.evidence.rule);
}

function all(results: readonly FeedResult[]): string[] {
  return results.flatMap(accepted);
}

/** Every rule any module returned, accepted or not. */
function returned(results: readonly FeedResult[]): string[] {
  return results.flatMap((result) => result.evidence.map((evidence) => evidence.rule));
}

function segment(ends: Endpoints, payload: string | Uint8Array, seq = 1000): Uint8Array {
  return tcp({ ...ends, flags: PSH | ACK, seq, payload });
}

function datagram(ends: Endpoints, payload: string | Uint8Array): Uint8Array {
  return udp({ ...ends, payload });
}

function peers(h: DetectorHarness): PeerEntry[] {
  return [...h.engine.peers.values()];
}

function peerKeys(h: DetectorHarness, via?: string): string[] {
  return peers(h)
    .filter((entry) => via === undefined || entry.via === via)
    .map((entry) => `${entry.ip}:${entry.port}/${entry.transport}`)
    .sort();
}

describe('BitTorrent peer wire', () => {
  it('identifies the inside host by its handshake and learns the contacted peer for TCP and uTP', () => {
    const h = harness();
    const [result] = h.feedAll([segment(PEER, bt.handshake())]);
    expect(accepted(result!)).toEqual([BitTorrentRule.handshake]);
    expect(result!.evidence[0]!.detail).toBe('-TR4060-');
    expect(h.engine.clients.get(result!.flow.insideAddress)).toBeDefined();
    expect(peerKeys(h)).toEqual(['203.0.113.7:6881/both']);
  });

  it('catches a handshake whose first byte came alone in its own segment', () => {
    const h = harness();
    const results = h.feedAll([tcpSyn(PEER), tcpSynAck(PEER), ...tcpSegments(bt.handshake(), { ...PEER, cuts: [1] })]);
    expect(all(results)).toEqual([BitTorrentRule.handshake]);
    expect(results[3]!.flow.moduleStates?.every((state) => state === undefined) ?? true).toBe(true);
  });

  it('a handshake cut anywhere after its protocol string is one; its client is read only from bytes present', () => {
    // The peer_id is bytes 48-67: a piece that ends before its client prefix names no client.
    const cases: [number[], string | undefined][] = [
      [[1, 20], undefined],
      [[20], undefined],
      [[1, 30, 60], undefined],
      [[60], '-TR4060-'],
      [[1], '-TR4060-'],
    ];
    for (const [cuts, client] of cases) {
      const h = harness();
      const results = h.feedAll(tcpSegments(bt.handshake(), { ...PEER, cuts }));
      expect(all(results)).toEqual([BitTorrentRule.handshake]);
      expect(results.flatMap((result) => result.evidence).map((evidence) => evidence.detail)).toEqual([client]);
    }
  });

  it('a lone 0x13 followed by anything else is nothing, and frees its state', () => {
    const h = harness();
    const results = h.feedAll(tcpSegments(Uint8Array.from([0x13, ...Buffer.from('Bittorrent protocol, not quite')]), { ...PEER, cuts: [1] }));
    expect(returned(results)).toEqual([]);
    expect(results[1]!.flow.moduleStates?.every((state) => state === undefined) ?? true).toBe(true);
  });

  it('an outside host that calls in is not believed; the inside host answering with a handshake is', () => {
    const h = harness();
    const inbound = reversed(PEER);
    const results = h.feedAll([tcpSyn(inbound), tcpSynAck(inbound), segment(inbound, bt.handshake()), segment(PEER, bt.handshake({ peerId: '-qB4630-abcdefghijkl' }), 1000)]);
    expect(results[2]!.seen.map((seen) => seen.accepted)).toEqual([false]);
    expect(accepted(results[3]!)).toEqual([BitTorrentRule.handshake]);
    // It called in: its source port says nothing about where it listens, so the whole address.
    expect(peerKeys(h)).toEqual(['203.0.113.7:0/both']);
  });

  it('learns the peers of a ut_pex message on a connection the inside host opened, IPv4 and IPv6', () => {
    const h = harness();
    const pex = bt.pexMessage({ added: SWARM, added6: SWARM6 });
    const results = h.feedAll([segment(PEER, bt.handshake()), segment(reversed(PEER), bt.handshake(), 5000), segment(reversed(PEER), bt.extensionHandshake(), 5068), segment(reversed(PEER), pex, 5068 + bt.extensionHandshake().length)]);
    expect(accepted(results[3]!)).toEqual([BitTorrentRule.extension]);
    expect(peerKeys(h, BitTorrentVia.pex)).toEqual(['198.51.100.23:40000/both', '2001:db8::21:51413/both', '203.0.113.21:51413/both', '203.0.113.22:6881/both']);
  });

  it('an extension handshake or a block request from the inside host identifies it mid-stream', () => {
    const h = harness();
    expect(all(h.feedAll([segment(PEER, bt.extensionHandshake())]))).toEqual([BitTorrentRule.extension]);
    const other = harness();
    expect(all(other.feedAll([segment(PEER, bt.request(7, 0x8000))]))).toEqual([BitTorrentRule.pieceRequest]);
    // Several messages in one segment: interested then a request.
    const third = harness();
    const both = Uint8Array.from([...bt.interested(), ...bt.request(1, 0)]);
    expect(all(third.feedAll([segment(PEER, both)]))).toEqual([BitTorrentRule.pieceRequest]);
  });

  it('mid-stream, a segment of whole BitTorrent messages only (PORT then an extended message) identifies the host', () => {
    const h = harness();
    const portAndExtended = Uint8Array.from([...bt.portMessage(40959), ...bt.peerMessage(20, [3, 0])]);
    expect(all(h.feedAll([segment(PEER, portAndExtended)]))).toEqual([BitTorrentRule.peerMessages]);
    // Lengths framed like BitTorrent's but not its messages: choke and unchoke alone, a have of
    // the wrong length, a message cut by the segment's end, a Kafka-style request.
    const lookAlikes = [
      Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 0, 1, 1]),
      Uint8Array.from([...bt.portMessage(6881), 0, 0, 0, 6, 4, 0, 0, 0, 1, 2]),
      Uint8Array.from([...bt.portMessage(6881), ...bt.have(3).subarray(0, 7)]),
      Uint8Array.from([0, 0, 0, 0x1d, 0, 3, 0, 9, 0, 0, 0, 1, 0, 6, ...Buffer.from('client'), 0, 0, 0, 1, 0, 5, ...Buffer.from('topic')]),
      // SSH packets whose padding lengths (5, 7) read as a bitfield and a piece.
      Uint8Array.from([0, 0, 0, 12, 5, ...bt.randomBytes(11, 1), 0, 0, 0, 28, 7, ...bt.randomBytes(27, 2)]),
    ];
    for (const [i, payload] of lookAlikes.entries()) {
      const other = harness();
      expect(returned(other.feedAll([segment({ ...PEER, sport: 30000 + i }, payload)]))).toEqual([]);
    }
  });

  it('PEX from a host that called in is not believed (nobody asked it)', () => {
    const h = harness();
    const inbound = reversed(PEER);
    h.feedAll([segment(inbound, bt.handshake()), segment(PEER, bt.handshake(), 7000)]);
    const result = h.feed(segment(inbound, bt.pexMessage({ added: SWARM }), 1068));
    expect(accepted(result)).toEqual([]);
    expect(peerKeys(h, BitTorrentVia.pex)).toEqual([]);
  });
});

describe('what the module passes on (FlowMemory.pass)', () => {
  const passed = (result: FeedResult): boolean => result.flow.passedModules !== 0;

  it('passes a web stream seen from its SYN once both sides spoke, and sees none of its later packets', () => {
    const h = harness();
    // Fed one at a time: the flow object is the same for every result, read as each packet leaves.
    const packets = [tcpSyn(WEB), tcpSynAck(WEB), segment(WEB, 'GET / HTTP/1.1\r\n\r\n'), segment(reversed(WEB), 'HTTP/1.1 200 OK\r\n\r\n', 9000)];
    expect(packets.map((packet) => passed(h.feedAll([packet])[0]!))).toEqual([false, false, false, true]);
    // A later segment that would read as peer messages from inside is not even shown.
    const [later] = h.feedAll([segment(WEB, Uint8Array.of(0, 0, 0, 1, 2), 1100)]);
    expect(later!.seen).toEqual([]);
  });

  it('keeps reading a connection it concluded on (PEX after the handshake) and one picked up mid-way', () => {
    const h = harness();
    const pex = bt.pexMessage({ added: SWARM });
    const results = h.feedAll([tcpSyn(PEER), tcpSynAck(PEER), segment(PEER, bt.handshake()), segment(reversed(PEER), bt.handshake(), 5000), segment(reversed(PEER), bt.extensionHandshake(), 5068), segment(reversed(PEER), pex, 5068 + bt.extensionHandshake().length)]);
    expect(results.some(passed)).toBe(false);
    expect(peerKeys(h, BitTorrentVia.pex)).toHaveLength(SWARM.length);
    // No SYN seen: peer messages from inside may still come.
    const midway = harness().feedAll([segment(WEB, 'x'), segment(reversed(WEB), 'y', 9000)]);
    expect(midway.some(passed)).toBe(false);
  });
});

describe('uTP', () => {
  const opening = bt.utpOpening();
  const peer = reversed(PEER);

  it('a SYN answered by STATE from the contacted endpoint, then the initiator goes on: uTP', () => {
    const h = harness();
    const results = h.feedAll([datagram(PEER, opening.syn), datagram(peer, opening.state), datagram(PEER, opening.data)]);
    expect(results.map(accepted)).toEqual([[], [], [BitTorrentRule.utp]]);
    expect(peerKeys(h)).toEqual(['203.0.113.7:6881/both']);
    expect(results[2]!.flow.moduleStates?.every((state) => state === undefined) ?? true).toBe(true);
  });

  it('a SYN alone, or one answered by anything but its STATE, is nothing', () => {
    const alone = harness();
    expect(returned(alone.feedAll([datagram(PEER, opening.syn), datagram(PEER, opening.syn)]))).toEqual([]);
    const wrongAck = harness();
    const badState = bt.utpPacket({ type: bt.UtpType.state, connectionId: 0x5a3c, ack: 0x9999 });
    expect(returned(wrongAck.feedAll([datagram(PEER, opening.syn), datagram(peer, badState), datagram(PEER, opening.data)]))).toEqual([]);
    const wrongId = harness();
    const otherState = bt.utpPacket({ type: bt.UtpType.state, connectionId: 0x1111, ack: 0x1234 });
    expect(returned(wrongId.feedAll([datagram(PEER, opening.syn), datagram(peer, otherState), datagram(PEER, opening.data)]))).toEqual([]);
  });

  it('an outside SYN that the inside host answers with STATE: the inside host speaks uTP', () => {
    const h = harness();
    const results = h.feedAll([datagram(peer, opening.syn), datagram(PEER, bt.utpPacket({ type: bt.UtpType.state, connectionId: 0x5a3c, ack: 0x1234 }))]);
    expect(results.map(accepted)).toEqual([[], [BitTorrentRule.utp]]);
  });

  it('mid-stream: both ends with connection ids one apart', () => {
    const h = harness();
    const fromPeer = bt.utpPacket({ type: bt.UtpType.data, connectionId: 0x2000, seq: 10, ack: 20, payload: bt.randomBytes(300, 1) });
    const fromHost = bt.utpPacket({ type: bt.UtpType.state, connectionId: 0x2001, seq: 21, ack: 10, extensions: [{ type: 1, data: [0, 0, 0, 1] }] });
    const results = h.feedAll([datagram(peer, fromPeer), datagram(PEER, fromHost)]);
    expect(results.map(accepted)).toEqual([[], [BitTorrentRule.utpStream]]);
  });

  it('strict headers: version, type, extension chain, SYN timestamp difference and payload rules', () => {
    const bad = [
      bt.utpPacket({ version: 0 }),
      bt.utpPacket({ timestampDifference: 5 }),
      bt.utpPacket({ timestamp: 0 }),
      bt.utpPacket({ payload: Uint8Array.of(1, 2, 3) }),
      bt.utpPacket({ extensions: [{ type: 1, data: [] }] }),
      bt.utpPacket({ extensions: [{ type: 1, data: [1, 2, 3, 4] }, { type: 2, data: [0, 0, 0, 1] }, { type: 1, data: [1, 2, 3, 4] }, { type: 1, data: [5, 6, 7, 8] }, { type: 1, data: [9, 9, 9, 9] }] }),
      bt.utpPacket({ extensions: [{ type: 9, data: [1, 2, 3, 4] }] }),
      Uint8Array.from([...bt.utpPacket({ type: bt.UtpType.state }).subarray(0, 1), 1, ...bt.utpPacket().subarray(2)]),
    ];
    for (const syn of bad) {
      const h = harness();
      // The inside host answers the outside "SYN" with a good STATE: only a good SYN makes that uTP.
      const state = bt.utpPacket({ type: bt.UtpType.state, connectionId: 0x5a3c, ack: 1 });
      expect(returned(h.feedAll([datagram(peer, syn), datagram(PEER, state)]))).toEqual([]);
    }
  });
});

describe('mainline DHT', () => {
  const node = reversed(DHT_NODE);

  it('a query identifies the host; the queried node is a DHT contact with the short lifetime', () => {
    const h = harness();
    for (const method of ['ping', 'find_node', 'get_peers', 'announce_peer'] as const) {
      const result = h.feed(datagram({ ...DHT_NODE, sport: DHT_NODE.sport + 1 }, bt.dhtQuery({ method, version: 'LT\x01\x02' })), 1000);
      expect(accepted(result)).toEqual([BitTorrentRule.dhtQuery]);
      h.engine.flows.flush();
    }
    const [entry] = peers(h);
    expect(entry!.expiresAt).toBe(1000 + DHT_CONTACT_TTL_MS);
    expect(entry!.transport).toBe('udp');
  });

  it('learns a reply’s values as swarm peers and its nodes as short-lived UDP contacts, also when it begins d2:ip', () => {
    for (const ip of [undefined, { ip: '192.0.2.99', port: 51413 }]) {
      const h = harness();
      const nodes = [
        { ip: '203.0.113.41', port: 6881 },
        { ip: '203.0.113.42', port: 25401 },
      ];
      const nodes6 = [{ ip: '2001:db8::43', port: 6881 }];
      const reply = bt.dhtReply({ ip, nodes, nodes6, values: SWARM });
      if (ip) expect(Buffer.from(reply.subarray(0, 5)).toString('latin1')).toBe('d2:ip');
      const results = h.feedAll([datagram(DHT_NODE, bt.dhtQuery()), datagram(node, reply)]);
      expect(results.map(accepted)).toEqual([[BitTorrentRule.dhtQuery], [BitTorrentRule.dhtReply]]);
      expect(peerKeys(h, BitTorrentVia.dhtValues)).toEqual(['198.51.100.23:40000/both', '203.0.113.21:51413/both', '203.0.113.22:6881/both']);
      expect(peerKeys(h, BitTorrentVia.dhtNodes)).toEqual(['2001:db8::43:6881/udp', '203.0.113.41:6881/udp', '203.0.113.42:25401/udp']);
      const byVia = (via: string): PeerEntry => peers(h).find((entry) => entry.via === via)!;
      expect(byVia(BitTorrentVia.dhtNodes).expiresAt).toBe(1 + DHT_CONTACT_TTL_MS);
      expect(byVia(BitTorrentVia.dhtValues).expiresAt).toBe(1 + h.engine.config.peerTtlMs);
    }
  });

  it('a DHT contact seen again lives on; one not seen again expires long before swarm peers', () => {
    const h = harness();
    const reply = bt.dhtReply({ nodes: [{ ip: '203.0.113.41', port: 6881 }], values: [{ ip: '203.0.113.21', port: 51413 }] });
    h.feedAll([datagram(DHT_NODE, bt.dhtQuery()), datagram(node, reply)]);
    const later = DHT_CONTACT_TTL_MS - 1000;
    const again = { ...DHT_NODE, dst: '198.51.100.21' };
    h.feed(datagram(again, bt.dhtQuery()), later);
    h.feed(datagram(reversed(again), reply), later);
    const contact = h.engine.peers.values().next().value as PeerEntry;
    expect(peers(h).find((entry) => entry.ip === '203.0.113.41')!.expiresAt).toBe(later + DHT_CONTACT_TTL_MS);
    expect(contact).toBeDefined();
    const past = later + DHT_CONTACT_TTL_MS + 1;
    h.engine.housekeeping(past);
    expect(peerKeys(h)).toContain('203.0.113.21:51413/both');
    expect(peerKeys(h)).not.toContain('203.0.113.41:6881/udp');
  });

  it('a reply nobody asked for names nothing', () => {
    const h = harness();
    const results = h.feedAll([datagram(node, bt.dhtReply({ values: SWARM }))]);
    expect(all(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
  });

  it('a reply whose transaction id is not the query’s names nothing; the right one then does, once', () => {
    const h = harness();
    const forged = bt.dhtReply({ transactionId: 'zz', values: SWARM });
    const results = h.feedAll([datagram(DHT_NODE, bt.dhtQuery({ transactionId: 'q1' })), datagram(node, forged), datagram(node, bt.dhtReply({ transactionId: '\x00q1', values: SWARM }))]);
    expect(all(results)).toEqual([BitTorrentRule.dhtQuery]);
    expect(peerKeys(h, BitTorrentVia.dhtValues)).toEqual([]);
    const right = h.feedAll([datagram(node, bt.dhtReply({ transactionId: 'q1', values: SWARM })), datagram(node, bt.dhtReply({ transactionId: 'q1', values: [{ ip: '203.0.113.99', port: 7000 }] }))]);
    expect(right.map(accepted)).toEqual([[BitTorrentRule.dhtReply], []]);
    expect(peerKeys(h, BitTorrentVia.dhtValues)).toHaveLength(3);
  });

  it('the inside host answering queries is a DHT node: identified, but its own reply names nobody', () => {
    const h = harness();
    const results = h.feedAll([datagram(node, bt.dhtQuery()), datagram(DHT_NODE, bt.dhtReply({ nodes: [{ ip: '203.0.113.41', port: 6881 }] }))]);
    expect(results.map(accepted)).toEqual([[], [BitTorrentRule.dhtReply]]);
    expect(peerKeys(h, BitTorrentVia.dhtNodes)).toEqual([]);
  });

  it('poisoned replies: reserved, inside and low-port entries are refused, and one reply names at most its cap', () => {
    const h = harness();
    const poison = [
      { ip: '8.8.8.8', port: 53 },
      { ip: '10.0.0.9', port: 6881 },
      { ip: '127.0.0.1', port: 6881 },
      { ip: '224.0.0.1', port: 6881 },
      { ip: '203.0.113.50', port: 0 },
    ];
    const many = Array.from({ length: 40 }, (_, i) => ({ ip: `203.0.113.${100 + i}`, port: 7000 + i }));
    h.feedAll([datagram(DHT_NODE, bt.dhtQuery()), datagram(node, bt.dhtReply({ nodes: [...poison, ...many] }))]);
    const learned = peerKeys(h, BitTorrentVia.dhtNodes);
    expect(learned.some((key) => /^(8\.8\.8\.8|10\.|127\.|224\.)|:0\//.test(key))).toBe(false);
    expect(learned.length).toBeLessThanOrEqual(MAX_PEERS.dhtNodes);
    expect(h.engine.counters.peersRefusedLowPort + h.engine.counters.peersRefusedInside + h.engine.counters.peersRefusedReserved).toBe(4);
  });

  it('errors, truncated, padded and non-KRPC bencode are not replies', () => {
    const h = harness();
    const query = bt.dhtQuery();
    const reply = bt.dhtReply({ values: SWARM });
    const bad = [reply.subarray(0, reply.length - 1), Uint8Array.from([...reply, 0x00]), bt.bencode({ r: { id: 'x'.repeat(20) }, y: 'r' }), bt.bencode({ a: { id: 'short' }, q: 'get_peers', t: 'aa', y: 'q' }), bt.bencode({ a: { id: 'x'.repeat(20) }, q: 'hello', t: 'aa', y: 'q' })];
    h.feed(datagram(DHT_NODE, query));
    for (const payload of bad) expect(accepted(h.feed(datagram(node, payload)))).toEqual([]);
    expect(returned([h.feed(datagram({ ...DHT_NODE, sport: 9999 }, bad[4]!))])).toEqual([]);
    expect(peerKeys(h, BitTorrentVia.dhtValues)).toEqual([]);
  });
});

describe('HTTP tracker', () => {
  const response = reversed(TRACKER);

  it('the announce identifies the client; the reply’s compact peers are learned', () => {
    const h = harness();
    const results = h.feedAll([segment(TRACKER, bt.announceRequest()), segment(response, bt.announceResponse({ peers: SWARM, peers6: SWARM6 }), 9000)]);
    expect(results.map(accepted)).toEqual([[BitTorrentRule.trackerAnnounce], [BitTorrentRule.trackerReply]]);
    expect(peerKeys(h, BitTorrentVia.tracker)).toEqual(['198.51.100.23:40000/both', '2001:db8::21:51413/both', '203.0.113.21:51413/both', '203.0.113.22:6881/both']);
    expect(peerKeys(h, BitTorrentRule.trackerAnnounce)).toEqual(['198.51.100.30:6969/tcp']);
  });

  it('a reply split over TCP segments (anywhere, even inside the peer list) is collected within the buffer budget', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ ip: `203.0.113.${i + 1}`, port: 20000 + i }));
    const reply = bt.announceResponse({ peers: many });
    for (const cuts of [[10], [40, 200], [reply.length - 300, reply.length - 1]]) {
      const h = harness();
      const results = h.feedAll([segment(TRACKER, bt.announceRequest()), ...tcpSegments(reply, { ...response, seq: 9000, cuts })]);
      expect(all(results)).toEqual([BitTorrentRule.trackerAnnounce, BitTorrentRule.trackerReply]);
      expect(peerKeys(h, BitTorrentVia.tracker)).toHaveLength(120);
      // The buffer is given back once the reply is read.
      expect(h.engine.moduleBuffers.held).toBe(0);
    }
  });

  it('the dictionary form of peers', () => {
    const h = harness();
    h.feedAll([segment(TRACKER, bt.announceRequest()), segment(response, bt.announceResponse({ peers: SWARM, dictionaryPeers: true }), 9000)]);
    expect(peerKeys(h, BitTorrentVia.tracker)).toEqual(['198.51.100.23:40000/both', '203.0.113.21:51413/both', '203.0.113.22:6881/both']);
  });

  it('a tracker on port 80 is not blocked itself (its address serves other sites); the swarm it names is', () => {
    const h = harness();
    const ends = { ...TRACKER, dport: 80 };
    h.feedAll([segment(ends, bt.announceRequest({ path: '/a1b2c3/announce' })), segment(reversed(ends), bt.announceResponse({ peers: SWARM }), 9000)]);
    expect(peerKeys(h)).toEqual(['198.51.100.23:40000/both', '203.0.113.21:51413/both', '203.0.113.22:6881/both']);
  });

  it('a web page that mentions info_hash, and a search for it, are not announces', () => {
    const h = harness();
    const page = 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>GET /announce?info_hash=abc&peer_id=xyz is how trackers are asked</p>';
    const results = h.feedAll([
      segment(WEB, 'GET /wiki/BitTorrent_tracker HTTP/1.1\r\nHost: en.example.org\r\nReferer: http://x/?info_hash=1&peer_id=2\r\n\r\n'),
      segment(reversed(WEB), page, 9000),
      segment({ ...WEB, sport: 40002 }, 'GET /search?q=info_hash%3D+peer_id HTTP/1.1\r\nHost: example.org\r\n\r\n'),
      segment({ ...WEB, sport: 40003 }, 'GET /info_hash=1&peer_id=2 HTTP/1.1\r\nHost: example.org\r\n\r\n'),
    ]);
    expect(returned(results)).toEqual([]);
  });

  it('a bencoded file served over HTTP (a .torrent) names nobody', () => {
    const h = harness();
    const torrent = bt.bencode({ announce: 'http://tracker.example.net/announce', info: { length: 16777216, name: 'lab.bin', 'piece length': 262144, pieces: new Uint8Array(20) }, peers: bt.compactPeers(SWARM) });
    const head = `HTTP/1.1 200 OK\r\nContent-Type: application/x-bittorrent\r\nContent-Length: ${torrent.length}\r\n\r\n`;
    const results = h.feedAll([segment(WEB, 'GET /lab.torrent HTTP/1.1\r\nHost: example.org\r\n\r\n'), segment(reversed(WEB), Uint8Array.from([...Buffer.from(head, 'latin1'), ...torrent]), 9000)]);
    expect(returned(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
  });

  it('a reply that is not 200, or not bencoded, names nobody and frees its state', () => {
    const h = harness();
    const results = h.feedAll([segment(TRACKER, bt.announceRequest()), segment(response, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 9000)]);
    expect(all(results)).toEqual([BitTorrentRule.trackerAnnounce]);
    expect(results[1]!.flow.moduleStates?.every((state) => state === undefined) ?? true).toBe(true);
  });
});

describe('UDP tracker', () => {
  const tracker = reversed(TRACKER);

  it('connect, announce, and the announce reply’s peers (only with the host’s transaction id)', () => {
    const h = harness();
    const results = h.feedAll([
      datagram(TRACKER, bt.udpTrackerConnect(7)),
      datagram(tracker, bt.udpTrackerConnectResponse(7)),
      datagram(TRACKER, bt.udpTrackerAnnounce({ transactionId: 8 })),
      datagram(tracker, bt.udpTrackerAnnounceResponse({ transactionId: 9, peers: [{ ip: '203.0.113.99', port: 5000 }] })),
      datagram(tracker, bt.udpTrackerAnnounceResponse({ transactionId: 8, peers: SWARM })),
    ]);
    expect(results.map(accepted)).toEqual([[BitTorrentRule.udpTrackerConnect], [], [BitTorrentRule.udpTrackerAnnounce], [], [BitTorrentRule.udpTrackerReply]]);
    expect(peerKeys(h, BitTorrentVia.udpTracker)).toEqual(['198.51.100.23:40000/both', '203.0.113.21:51413/both', '203.0.113.22:6881/both']);
  });

  it('IPv6 replies carry 18-byte peers', () => {
    const h = harness();
    const ends = { ...PEER6, dport: 6969 };
    h.feedAll([datagram(ends, bt.udpTrackerConnect(7)), datagram(ends, bt.udpTrackerAnnounce({ transactionId: 8 })), datagram(reversed(ends), bt.udpTrackerAnnounceResponse({ transactionId: 8, peers: SWARM6 }))]);
    expect(peerKeys(h, BitTorrentVia.udpTracker)).toEqual(['2001:db8::21:51413/both']);
  });

  it('an announce-shaped datagram without a connect first is nothing', () => {
    const h = harness();
    expect(returned(h.feedAll([datagram(TRACKER, bt.udpTrackerAnnounce())]))).toEqual([]);
  });
});

describe('Local Service Discovery', () => {
  it('a BT-SEARCH to the IPv4 or IPv6 group identifies the client; the group is never a peer', () => {
    for (const [ends, ipv6] of [
      [LSD4, false],
      [LSD6, true],
    ] as const) {
      const h = harness();
      const result = h.feed(datagram(ends, bt.lsdSearch({ ipv6, infoHashes: ['A'.repeat(40), 'B'.repeat(40)] })));
      expect(accepted(result)).toEqual([BitTorrentRule.lsd]);
      expect(peerKeys(h)).toEqual([]);
      expect(h.engine.counters.peersRefusedReserved).toBe(1);
    }
  });

  it('an SSDP M-SEARCH or a BT-SEARCH without an infohash is not LSD', () => {
    const h = harness();
    expect(returned([h.feed(datagram(LSD4, 'BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\r\n'))])).toEqual([]);
    expect(returned([h.feed(datagram({ ...LSD4, dport: 1900, dst: '239.255.255.250' }, 'M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n'))])).toEqual([]);
  });
});

describe('MSE/PE (encrypted peers)', () => {
  it('a high-entropy first payload of 96-608 bytes to a learned peer re-arms the host as supporting evidence', () => {
    for (const padLength of [0, 200, 512]) {
      const h = harness();
      h.addKnownPeer('203.0.113.7', 6881);
      const results = h.feedAll([tcpSyn(PEER), tcpSynAck(PEER), segment(PEER, bt.mseFirstPayload({ padLength, seed: padLength + 1 }))]);
      expect(results[2]!.seen.map((seen) => [seen.evidence.rule, seen.evidence.supporting, seen.accepted])).toEqual([[BitTorrentRule.mseOpening, true, true]]);
    }
  });

  it('to an endpoint nobody learned it counts for nothing', () => {
    const h = harness();
    const results = h.feedAll([tcpSyn(PEER), tcpSynAck(PEER), segment(PEER, bt.mseFirstPayload())]);
    expect(results[2]!.seen.map((seen) => seen.accepted)).toEqual([false]);
    expect(peerKeys(h)).toEqual([]);
  });

  it('text and structured binary of that size are not high-entropy', () => {
    const h = harness();
    h.addKnownPeer('203.0.113.7', 0);
    const text = 'x'.repeat(40) + 'The quick brown fox jumps over the lazy dog. '.repeat(4);
    const tlsLike = Uint8Array.from({ length: 300 }, (_, i) => (i < 40 ? [0x16, 3, 1, 1, 0x2b, 1, 0, 1, 0x27, 3, 3][i % 11]! : i % 7 === 0 ? i & 0xff : 0));
    for (const [i, payload] of [text, tlsLike].entries()) {
      const ends = { ...PEER, sport: 50000 + i };
      const results = h.feedAll([tcpSyn(ends), tcpSynAck(ends), segment(ends, payload)]);
      expect(returned(results)).toEqual([]);
    }
  });
});

describe('look-alikes that must not match', () => {
  /** Feeds a conversation and expects no module to return anything. */
  function nothing(packets: readonly Uint8Array[]): void {
    const h = harness();
    const results = h.feedAll(packets);
    expect(returned(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
  }

  it('a 20-byte DNS query whose id begins 0x41 (passes a naive uTP SYN test) and its answer', () => {
    // id 0x4100, flags 0x0100, qd 1, an 0, ns 0, ar 0, then `\x01a\x00` A IN: 20 bytes.
    const query = Uint8Array.from([0x41, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00]);
    const answer = Uint8Array.from([...query.subarray(0, 2), 0x81, 0x80, ...query.subarray(4, 6), 0x00, 0x01, ...query.subarray(8)]);
    for (const port of [53, 5353, 40000]) {
      const ends = { ...DHT_NODE, dport: port };
      nothing([datagram(ends, query), datagram(reversed(ends), answer), datagram(ends, query)]);
    }
  });

  it('QUIC initial packets (long header) and short-header packets', () => {
    const initial = Uint8Array.from([0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, ...bt.randomBytes(8, 3), 0x00, 0x44, 0xe6, ...bt.randomBytes(1180, 4)]);
    const short = Uint8Array.from([0x41, ...bt.randomBytes(40, 5)]);
    for (const port of [443, 8443]) {
      const ends = { ...PEER, dport: port };
      nothing([datagram(ends, initial), datagram(reversed(ends), initial), datagram(ends, short), datagram(reversed(ends), short)]);
    }
  });

  it('STUN binding requests and WebRTC media (RTP, DTLS)', () => {
    const stun = Uint8Array.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, ...bt.randomBytes(12, 6)]);
    const stunReply = Uint8Array.from([0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, ...bt.randomBytes(12, 6), 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
    const rtp = Uint8Array.from([0x80, 0x6f, 0x12, 0x34, 0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef, ...bt.randomBytes(160, 7)]);
    const dtls = Uint8Array.from([0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, ...bt.randomBytes(128, 8)]);
    const ends = { ...PEER, dport: 3478 };
    nothing([datagram(ends, stun), datagram(reversed(ends), stunReply), datagram({ ...PEER, dport: 50000 }, rtp), datagram({ ...PEER, dport: 50000 }, dtls), datagram(reversed({ ...PEER, dport: 50000 }), rtp)]);
  });

  it('Teredo on 3544, even carrying bytes shaped like a uTP exchange', () => {
    const opening = bt.utpOpening();
    const ends = { ...PEER, dport: 3544 };
    nothing([datagram(ends, opening.syn), datagram(reversed(ends), opening.state), datagram(ends, opening.data)]);
  });

  it('Windows Delivery Optimization on 7680: block requests and handshakes both ways', () => {
    const ends = { ...PEER, dport: 7680 };
    nothing([segment(ends, bt.handshake()), segment(reversed(ends), bt.handshake(), 7000), segment(ends, bt.request(1, 0), 1068), segment({ ...reversed(PEER), sport: 7680 }, bt.request(1, 0))]);
  });

  it('game traffic: small frequent UDP datagrams both ways on high ports', () => {
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) {
      const payload = Uint8Array.from([i & 1 ? 0x01 : 0x11, i, ...bt.randomBytes(18 + (i % 30), 100 + i)]);
      packets.push(datagram(i % 2 === 0 ? PEER : reversed(PEER), payload));
    }
    nothing(packets);
  });

  it('an HTTP page that mentions info_hash, and a bencoded file over HTTP', () => {
    const body = bt.announceBody({ peers: SWARM });
    nothing([
      segment(WEB, 'GET /docs/bep_0003.html HTTP/1.1\r\nHost: www.bittorrent.org\r\n\r\n'),
      segment(reversed(WEB), `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\ninfo_hash=...&peer_id=...&port=6881 d5:peers6:......e`, 5000),
      segment({ ...WEB, sport: 40010 }, 'GET /x.torrent HTTP/1.1\r\nHost: example.org\r\n\r\n'),
      segment(reversed({ ...WEB, sport: 40010 }), Uint8Array.from([...Buffer.from('HTTP/1.1 200 OK\r\n\r\n', 'latin1'), ...body]), 5000),
    ]);
  });
});

describe('hostile bytes', () => {
  it('never throws on truncations and random corruptions of every message', () => {
    const messages = [
      bt.handshake(),
      bt.extensionHandshake(),
      bt.pexMessage({ added: SWARM, added6: SWARM6 }),
      bt.dhtQuery(),
      bt.dhtReply({ ip: { ip: '192.0.2.1', port: 1 }, nodes: [{ ip: '203.0.113.1', port: 6881 }], values: SWARM }),
      bt.announceResponse({ peers: SWARM, dictionaryPeers: true }),
      bt.udpTrackerAnnounceResponse({ peers: SWARM }),
      bt.utpPacket({ extensions: [{ type: 1, data: [1, 2, 3, 4] }] }),
      Buffer.from(bt.lsdSearch()),
    ];
    let seed = 1;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    const h = harness();
    let port = 20000;
    for (const message of messages) {
      for (let trial = 0; trial < 60; trial++) {
        const copy = Uint8Array.from(message.subarray(0, 1 + Math.floor(random() * message.length)));
        for (let flips = 0; flips < 3; flips++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        const ends = { ...PEER, sport: port++ };
        expect(() => {
          h.feed(datagram(ends, bt.dhtQuery()));
          h.feed(datagram(reversed(ends), copy));
          h.feed(segment(ends, bt.announceRequest()));
          h.feed(segment(reversed(ends), Uint8Array.from([...Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), ...copy]), 5000));
          h.feed(segment({ ...ends, dport: 6882 }, copy));
        }).not.toThrow();
      }
    }
  });
});
