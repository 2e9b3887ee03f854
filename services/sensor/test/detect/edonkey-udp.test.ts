import { describe, expect, it } from 'vitest';
import { EdonkeyModule, EdonkeyRule, EdonkeyVia, KAD_CONTACT_TTL_MS, MAX_PEERS } from '../../src/detect/edonkey/edonkey.js';
import { accepted, allAccepted, expectNothing, learnedPeers, peerKeys, returned } from '../support/detector-results.js';
import { DetectorHarness, reversed } from '../support/detector-harness.js';
import { bittorrent as bt, udp, type Endpoints, edonkey } from '@p2pwall/lab';

const { bootstrapRes, corruptedCopies, foundSourcesBody, hash, kadHello, kadReq, kadRes, kadShort, packedKad, serverListBody, serverUdp } = edonkey;
type KadContact = edonkey.KadContact;

/** The inside client's Kad/UDP port (eMule's default 4672) and an outside Kad node. */
const NODE: Endpoints = { src: '10.0.0.5', dst: '203.0.113.7', sport: 4672, dport: 41234 };
const SERVER: Endpoints = { src: '10.0.0.5', dst: '198.51.100.9', sport: 4672, dport: 4665 };
const CONTACTS: KadContact[] = [
  { ip: '203.0.113.81', udpPort: 4672, tcpPort: 4662 },
  { ip: '198.51.100.82', udpPort: 51000, tcpPort: 51001 },
  // Firewalled: no TCP port.
  { ip: '203.0.113.83', udpPort: 6000, tcpPort: 0 },
];
const CONTACT_KEYS = ['198.51.100.82:51000/udp', '198.51.100.82:51001/tcp', '203.0.113.81:4662/tcp', '203.0.113.81:4672/udp', '203.0.113.83:6000/udp'];

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new EdonkeyModule()] });
}

function datagram(ends: Endpoints, payload: Uint8Array): Uint8Array {
  return udp({ ...ends, payload });
}

describe('Kad and eDonkey over UDP', () => {
  it('a Kad2 Hello (its tags walked to the end) identifies the host and learns the node for UDP', () => {
    for (const opcode of [0x11, 0x19]) {
      const h = harness();
      const [result] = h.feedAll([datagram(NODE, kadHello(opcode))]);
      expect(accepted(result!)).toEqual([EdonkeyRule.kad]);
      expect(peerKeys(h)).toEqual(['203.0.113.7:41234/udp']);
    }
    const bare = harness();
    expect(accepted(bare.feedAll([datagram(NODE, kadHello(0x11, { tags: [] }))])[0]!)).toEqual([EdonkeyRule.kad]);
  });

  it('a KADEMLIA2_RES repeating the target of the host’s REQ names its contacts: reversed octets, UDP and TCP ports each for its own transport', () => {
    const target = hash(21);
    const h = harness();
    const results = h.feedAll([datagram(NODE, kadReq(target)), datagram(reversed(NODE), kadRes(target, CONTACTS))]);
    expect(allAccepted(results)).toEqual([EdonkeyRule.kad, EdonkeyRule.kad]);
    expect(results[1]!.evidence[0]!.detail).toBe('KADEMLIA2_RES');
    expect(peerKeys(h, EdonkeyVia.kadContact)).toEqual(CONTACT_KEYS);
    expect(learnedPeers(h).filter((entry) => entry.via === EdonkeyVia.kadContact).every((entry) => entry.expiresAt - entry.learnedAt <= KAD_CONTACT_TTL_MS)).toBe(true);
  });

  it('a RES for another target names nobody; one nobody asked for is not believed', () => {
    const h = harness();
    h.feedAll([datagram(NODE, kadReq(hash(21))), datagram(reversed(NODE), kadRes(hash(22), CONTACTS))]);
    expect(peerKeys(h, EdonkeyVia.kadContact)).toEqual([]);
    const unasked = harness();
    const results = unasked.feedAll([datagram(reversed(NODE), kadRes(hash(21), CONTACTS))]);
    expect(allAccepted(results)).toEqual([]);
    expect(peerKeys(unasked)).toEqual([]);
  });

  it(`takes at most ${MAX_PEERS.kadContacts} contacts from one RES, and refuses a count that does not match`, () => {
    const target = hash(23);
    const many = Array.from({ length: 40 }, (_, i) => ({ ip: `198.51.100.${i + 1}`, udpPort: 5000 + i, tcpPort: 6000 + i }));
    const h = harness();
    const results = h.feedAll([datagram(NODE, kadReq(target)), datagram(reversed(NODE), kadRes(target, many.slice(0, 32)))]);
    expect(results[1]!.evidence[0]!.peers).toHaveLength(2 * MAX_PEERS.kadContacts);
    const over = harness();
    expect(returned(over.feedAll([datagram(NODE, kadReq(target)), datagram(reversed(NODE), kadRes(target, many))]))).toEqual([EdonkeyRule.kad]);
    const miscounted = harness();
    expect(returned(miscounted.feedAll([datagram(NODE, kadReq(target)), datagram(reversed(NODE), kadRes(target, CONTACTS, 2))]))).toEqual([EdonkeyRule.kad]);
  });

  it('a BOOTSTRAP_RES after the host’s 2-byte BOOTSTRAP_REQ names contacts once the flow is the host’s', () => {
    // The 2-byte request only supports: on a flow to a node the host did not reach before, the
    // answer is not believed (see the README's limits).
    const h = harness();
    const results = h.feedAll([datagram(NODE, kadShort(0x01)), datagram(reversed(NODE), bootstrapRes(CONTACTS))]);
    expect(returned(results)).toEqual([EdonkeyRule.udpFixedSize, EdonkeyRule.kad]);
    expect(allAccepted(results)).toEqual([]);
    // After the host's Hello on the same flow, it is.
    const known = harness();
    known.feedAll([datagram(NODE, kadHello()), datagram(NODE, kadShort(0x01)), datagram(reversed(NODE), bootstrapRes(CONTACTS))]);
    expect(peerKeys(known, EdonkeyVia.kadContact)).toEqual(CONTACT_KEYS);
  });

  it('one list per request: a second RES or BOOTSTRAP_RES on the flow names nobody', () => {
    const target = hash(24);
    const others = [{ ip: '198.51.100.91', udpPort: 7000, tcpPort: 7001 }];
    const h = harness();
    h.feedAll([datagram(NODE, kadReq(target)), datagram(reversed(NODE), kadRes(target, CONTACTS)), datagram(reversed(NODE), kadRes(target, others))]);
    expect(peerKeys(h, EdonkeyVia.kadContact)).toEqual(CONTACT_KEYS);
    const bootstrap = harness();
    bootstrap.feedAll([datagram(NODE, kadHello()), datagram(NODE, kadShort(0x01)), datagram(reversed(NODE), bootstrapRes(CONTACTS)), datagram(reversed(NODE), bootstrapRes(others))]);
    expect(peerKeys(bootstrap, EdonkeyVia.kadContact)).toEqual(CONTACT_KEYS);
    // A new request opens the way for one more answer.
    bootstrap.feedAll([datagram(NODE, kadShort(0x01)), datagram(reversed(NODE), bootstrapRes(others))]);
    expect(peerKeys(bootstrap, EdonkeyVia.kadContact)).toEqual([...CONTACT_KEYS, '198.51.100.91:7000/udp', '198.51.100.91:7001/tcp'].sort());
  });

  it('2-byte PING and BOOTSTRAP_REQ, the 4-byte PONG and fixed-size searches only support: they count on a flow to a learned peer', () => {
    const h = harness();
    const fresh = h.feedAll([datagram(NODE, kadShort(0x60)), datagram({ ...NODE, dport: 41235 }, kadShort(0x01))]);
    expect(returned(fresh)).toEqual([EdonkeyRule.udpFixedSize, EdonkeyRule.udpFixedSize]);
    expect(allAccepted(fresh)).toEqual([]);
    h.feedAll([datagram({ ...NODE, sport: 4673 }, kadHello())]);
    expect(allAccepted(h.feedAll([datagram({ ...NODE, sport: 4674 }, kadShort(0x60))]))).toEqual([EdonkeyRule.udpFixedSize]);
  });

  it('packed Kad (E5) with a zlib header identifies', () => {
    const h = harness();
    expect(accepted(h.feedAll([datagram(NODE, packedKad())])[0]!)).toEqual([EdonkeyRule.kadPacked]);
  });

  it('server UDP: the server list and found sources answering the host’s requests name servers and sources for TCP', () => {
    const servers = [{ ip: '203.0.113.61', port: 4661 }];
    const sources = [{ ip: '203.0.113.71', port: 4662 }];
    const file = hash(31);
    const h = harness();
    // The host's Kad Hello to the server's address makes the flow its own (its own requests only support).
    h.feedAll([datagram(SERVER, kadHello()), datagram(SERVER, serverUdp(0xa0)), datagram(reversed(SERVER), serverUdp(0xa1, serverListBody(servers)))]);
    h.feedAll([datagram(SERVER, serverUdp(0x9a, file)), datagram(reversed(SERVER), serverUdp(0x9b, foundSourcesBody(file, sources)))]);
    expect(peerKeys(h, EdonkeyVia.serverList)).toEqual(['203.0.113.61:4661/tcp']);
    expect(peerKeys(h, EdonkeyVia.foundSources)).toEqual(['203.0.113.71:4662/tcp']);
  });
});

describe('Kad datagrams of a real client', () => {
  // aMule 2.3.3 (Debian's amule-daemon) in a three-node Kad network in lab namespaces,
  // protocol obfuscation off: the Kad datagrams it sent, byte for byte.
  const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
  const BOOTSTRAP_REQ = hex('e401');
  const PING = hex('e460');
  const PONG = hex('e4614012'); // the UDP port it saw, 4672 LE
  const EMPTY_BOOTSTRAP_RES = hex('e40940c2a43e173d979663ed172cd18201de3612080000'); // KadID, TCP port 4662, version 8, 0 contacts
  const FIREWALLED2_REQ = hex('e45336123f184111c43f0e4c1198a299eb6f83b700'); // TCP port, user hash, options

  it('its bootstrap request, ping, pong and firewall-check request only support; a bootstrap answer without contacts identifies nobody', () => {
    const h = harness();
    const results = h.feedAll([datagram(NODE, BOOTSTRAP_REQ), datagram(reversed(NODE), EMPTY_BOOTSTRAP_RES), datagram(NODE, PING), datagram(reversed(NODE), PONG), datagram(NODE, FIREWALLED2_REQ)]);
    expect(returned(results)).toEqual([EdonkeyRule.udpFixedSize, EdonkeyRule.udpFixedSize, EdonkeyRule.udpFixedSize, EdonkeyRule.udpFixedSize]);
    expect(allAccepted(results)).toEqual([]);
  });

  it('its Kad2 Hello (one tag, TAG_KADMISCOPTIONS) identifies it, and so does its answer to a node that said Hello first', () => {
    const HELLO_REQ = hex('e411bc606ced4b59e53a39fb86f74ff0a29a36120801090100f202');
    const HELLO_RES = hex('e419ee1d19a441b69f3ec40baf2ec89db06f36120801090100f206');
    const h = harness();
    expect(allAccepted(h.feedAll([datagram(NODE, HELLO_REQ)]))).toEqual([EdonkeyRule.kad]);
    expect(peerKeys(h)).toEqual(['203.0.113.7:41234/udp']);
    const answering = harness();
    const results = answering.feedAll([datagram(reversed(NODE), HELLO_REQ), datagram(NODE, HELLO_RES)]);
    expect(returned(results)).toEqual([EdonkeyRule.kad, EdonkeyRule.kad]);
    expect(allAccepted(results)).toEqual([EdonkeyRule.kad]);
  });
});

describe('Kad datagrams of real clients in the lab (lab/test/e2e/edonkey-real.test.ts)', () => {
  // aMule 2.3.3 inside a site, bootstrapping from one of three outside nodes that know each other.
  const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
  const BOOTSTRAP_NODE: Endpoints = { src: '10.0.0.5', dst: '203.0.113.181', sport: 4672, dport: 4672 };
  const OTHER_NODE: Endpoints = { src: '10.0.0.5', dst: '198.51.100.182', sport: 4672, dport: 5672 };
  // The node's KadID, TCP port 4662, Kad version 8, then 2 contacts: 203.0.113.183 (UDP 6672, TCP
  // 6662) and 198.51.100.182 (UDP 5672, TCP 5662), each address's octets reversed.
  const BOOTSTRAP_RES = hex(
    'e40925303b46515c67727d88939ea9b4bfca361208020' +
      '06f7a85909ba6b1bcc7d2dde8f3fe0914b77100cb101a061a08' +
      '4a55606b76818c97a2adb8c3ced9e4efb66433c628161e1608',
  );
  // A FIND_VALUE (type 2) REQ, and the node's answer repeating its target with no contact.
  const REQ = hex('e42102754386f762b8e5919ff45197c0307df96f7a85909ba6b1bcc7d2dde8f3fe0914');
  const EMPTY_RES = hex('e429754386f762b8e5919ff45197c0307df900');
  const FROM_BOOTSTRAP = ['198.51.100.182:5662/tcp', '198.51.100.182:5672/udp', '203.0.113.183:6662/tcp', '203.0.113.183:6672/udp'];

  it('its bootstrap answer is read (two contacts), but on a fresh flow it teaches nothing: the 2-byte request only supports', () => {
    const h = harness();
    const results = h.feedAll([datagram(BOOTSTRAP_NODE, hex('e401')), datagram(reversed(BOOTSTRAP_NODE), BOOTSTRAP_RES)]);
    expect(returned(results)).toEqual([EdonkeyRule.udpFixedSize, EdonkeyRule.kad]);
    expect(results[1]!.evidence[0]!.peers?.map((peer) => `${peer.ip}:${peer.port}/${peer.transport}`).sort()).toEqual(FROM_BOOTSTRAP);
    expect(allAccepted(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
    // Once the host's own REQ made the flow Kad's, the same answer names both contacts.
    const known = harness();
    known.feedAll([datagram(BOOTSTRAP_NODE, REQ), datagram(BOOTSTRAP_NODE, hex('e401')), datagram(reversed(BOOTSTRAP_NODE), BOOTSTRAP_RES)]);
    expect(peerKeys(known, EdonkeyVia.kadContact)).toEqual(FROM_BOOTSTRAP);
  });

  it('its REQ to a contact identifies it; the answer without contacts shows nothing', () => {
    const h = harness();
    const results = h.feedAll([datagram(OTHER_NODE, REQ), datagram(reversed(OTHER_NODE), EMPTY_RES)]);
    expect(returned(results)).toEqual([EdonkeyRule.kad]);
    expect(allAccepted(results)).toEqual([EdonkeyRule.kad]);
    expect(results[0]!.evidence[0]!.detail).toBe('KADEMLIA2_REQ');
    expect(peerKeys(h)).toEqual(['198.51.100.182:5672/udp']);
  });

  it('with protocol obfuscation its Kad datagrams (bootstrap, REQ, RES, PING, PONG: 16 bytes longer, first byte random) show nothing', () => {
    const obfuscated = [
      'b4d764a83eba4078d36c74e729d9f484e827',
      'd27e38a52cbd9544f50551dcb59680f4efebf4bc35510b6de2e73b669971b22b0f7741eff70f6c5b3120578cf1f8ccf57cded23be7d3b4b90e6efa4ba4725b08833034282bf12b060eaf76628aef9a7cf1fc1606715fec1212',
      'ecf40770cc52a9eaf5575a91d04773d897f2754bfada686b811b74cd54d36297dcd64a90371e0854f65dcf9dc2b3e608a8c207',
      'de28cfce32e132410f059033efcb2e21ac6571ec09c526352ce63a942393072b51f9f3',
      '6472fa2032b1d4874b542f9b0bc3a7063338',
      '6e8070f22e197ea78c8f29ec770946df279ce761',
    ].map(hex);
    const h = harness();
    expect(returned(h.feedAll(obfuscated.map((payload, i) => datagram(i % 2 === 0 ? BOOTSTRAP_NODE : reversed(BOOTSTRAP_NODE), payload))))).toEqual([]);
  });
});

describe('Kad and eDonkey over UDP: look-alikes', () => {
  const HIGH: Endpoints = { src: '10.0.0.9', dst: '198.51.100.50', sport: 50000, dport: 27015 };

  it('random datagrams starting with E3, E4 or E5, of every length from 1 to 600', () => {
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 1800; i++) {
      const marker = [0xe3, 0xe4, 0xe5][i % 3]!;
      packets.push(datagram({ ...HIGH, sport: 20000 + (i % 500) }, Uint8Array.from([marker, ...bt.randomBytes(i % 600, 900 + i)])));
    }
    const h = harness();
    expect(returned(h.feedAll(packets))).toEqual([]);
  });

  it('random datagrams with a Kad opcode at byte 1 and the wrong length or layout', () => {
    const packets: Uint8Array[] = [];
    for (const opcode of [0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x60, 0x61]) {
      for (let n = 3; n < 120; n += 7) packets.push(datagram({ ...HIGH, sport: 21000 + n }, Uint8Array.from([0xe4, opcode, ...bt.randomBytes(n, opcode * 1000 + n)])));
    }
    // A Hello whose tags do not end where the datagram does, and a REQ with an unknown type.
    packets.push(datagram(HIGH, Uint8Array.from([...kadHello(), 0x00])), datagram(HIGH, kadReq(hash(1), 0x07)), datagram(HIGH, kadHello(0x11, { version: 0 })));
    const h = harness();
    expect(returned(h.feedAll(packets))).toEqual([]);
  });

  it('DNS, QUIC, STUN and NTP on their ports; QUIC, STUN, RTP and a game’s datagrams on high ports', () => {
    const dns = Uint8Array.from([0xe4, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 7, ...new TextEncoder().encode('example'), 3, 0x63, 0x6f, 0x6d, 0, 0, 1, 0, 1]);
    const quic = Uint8Array.from([0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, ...bt.randomBytes(1200, 3)]);
    const stun = Uint8Array.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, ...bt.randomBytes(12, 6)]);
    const rtp = Uint8Array.from([0x80, 0x6f, 0x12, 0x34, ...bt.randomBytes(160, 7)]);
    const game = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x54, ...new TextEncoder().encode('Source Engine Query'), 0]);
    const shortKad = kadShort(0x60);
    for (const ends of [
      { src: '10.0.0.9', dst: '198.51.100.53', sport: 40000, dport: 53 },
      { src: '10.0.0.9', dst: '198.51.100.43', sport: 40001, dport: 443 },
      { src: '10.0.0.9', dst: '198.51.100.12', sport: 123, dport: 123 },
    ]) {
      expectNothing(harness, [datagram(ends, dns), datagram(ends, quic), datagram(ends, kadHello()), datagram(reversed(ends), bootstrapRes(CONTACTS))]);
    }
    const h = harness();
    const results = h.feedAll([datagram(HIGH, quic), datagram(HIGH, stun), datagram(HIGH, rtp), datagram(HIGH, game), datagram(HIGH, shortKad)]);
    // Only the 2-byte Kad PING is returned, and as support it counts for nothing on a fresh flow.
    expect(returned(results)).toEqual([EdonkeyRule.udpFixedSize]);
    expect(allAccepted(results)).toEqual([]);
  });

  it('never throws on truncations and random corruptions of every message', () => {
    const target = hash(5);
    const messages = [kadHello(), kadReq(target), kadRes(target, CONTACTS), bootstrapRes(CONTACTS), packedKad(), serverUdp(0xa1, serverListBody([{ ip: '203.0.113.1', port: 4661 }])), serverUdp(0x9b, foundSourcesBody(target, [{ ip: '203.0.113.2', port: 4662 }]))];
    const h = harness();
    for (const [round, copy] of corruptedCopies(messages, 400, 11).entries()) {
      const ends = { ...NODE, dport: 30000 + (round % 60) };
      expect(() => h.feedAll([datagram(ends, kadReq(target)), datagram(ends, serverUdp(0xa0)), datagram(reversed(ends), copy), datagram(ends, copy)])).not.toThrow();
    }
  });
});
