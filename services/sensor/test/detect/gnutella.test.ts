import { describe, expect, it } from 'vitest';
import { GnutellaModule, GnutellaRule, GnutellaVia, MAX_PEERS } from '../../src/detect/gnutella/gnutella.js';
import { accepted, allAccepted, expectNothing, learnedPeers, noModuleState, peerKeys, returned } from '../support/detector-results.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn, tcpSynAck } from '../support/detector-harness.js';
import { ACK, PSH, tcp, type Endpoints, gnutella } from '@p2pwall/lab';

const { USER_AGENT, answer, connect, endpointList, endpointKeys } = gnutella;
type Endpoint = gnutella.Endpoint;

/** An inside servent on a high port, outside servents and web servers in documentation ranges. */
const SERVENT: Endpoints = { src: '10.0.0.5', dst: '203.0.113.7', sport: 50196, dport: 6346 };
const WEB: Endpoints = { src: '10.0.0.5', dst: '198.51.100.80', sport: 40001, dport: 80 };

const ULTRAPEERS: Endpoint[] = [
  { ip: '203.0.113.21', port: 12854 },
  { ip: '198.51.100.22', port: 49825 },
  { ip: '203.0.113.23', port: 6346 },
];
const HUBS: Endpoint[] = [
  { ip: '198.51.100.31', port: 8255 },
  { ip: '203.0.113.32', port: 23458 },
];

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new GnutellaModule()] });
}

function segment(ends: Endpoints, payload: string | Uint8Array, seq = 1000): Uint8Array {
  return tcp({ ...ends, flags: PSH | ACK, seq, payload });
}

const REFUSAL = answer('503 No Leaf Slots', [
  'User-Agent: Foxy 1.9.10.0',
  'Remote-IP: 192.0.2.53',
  `X-Try-Ultrapeers: ${endpointList(ULTRAPEERS)}`,
  `X-Try-Hubs: ${endpointList(HUBS, ' 2022-03-07T03:22Z')}`,
  'Listen-IP: 203.0.113.8:6347',
]);

describe('Gnutella handshake', () => {
  it('identifies the inside servent by its CONNECT and learns the contacted servent for TCP and UDP', () => {
    const h = harness();
    const [result] = h.feedAll([segment(SERVENT, connect())]);
    expect(accepted(result!)).toEqual([GnutellaRule.handshake]);
    expect(result!.evidence[0]!.detail).toBe(USER_AGENT);
    expect(h.engine.clients.get(result!.flow.insideAddress)).toBeDefined();
    // The inside servent's own Node header (the organisation's public address) is never learned.
    expect(peerKeys(h)).toEqual(['203.0.113.7:6346/both']);
  });

  it('learns X-Try-Ultrapeers, X-Try-Hubs and Listen-IP from a 503 refusal, never Remote-IP', () => {
    const h = harness();
    const results = h.feedAll([segment(SERVENT, connect()), segment(reversed(SERVENT), REFUSAL, 5000)]);
    expect(allAccepted(results)).toEqual([GnutellaRule.handshake, GnutellaRule.handshakeReply]);
    expect(results[1]!.evidence[0]!.detail).toBe('Foxy 1.9.10.0');
    expect(peerKeys(h, GnutellaVia.xTry)).toEqual(endpointKeys(ULTRAPEERS));
    expect(peerKeys(h, GnutellaVia.xTryHubs)).toEqual(endpointKeys(HUBS));
    expect(peerKeys(h, GnutellaVia.listenIp)).toEqual(['203.0.113.8:6347/both']);
    expect(learnedPeers(h).map((entry) => entry.ip)).not.toContain('192.0.2.53');
  });

  it('learns from 0.6 X-Try and a 200 answer too; the third step of the handshake is no new evidence', () => {
    const h = harness();
    const reply = answer('200 OK', ['User-Agent: Shareaza 2.7.10.2', `X-Try: ${endpointList(ULTRAPEERS.slice(0, 1))}`]);
    const results = h.feedAll([segment(SERVENT, connect()), segment(reversed(SERVENT), reply, 5000), segment(SERVENT, 'GNUTELLA/0.6 200 OK\r\nContent-Encoding: deflate\r\n\r\n', 1000 + connect().length)]);
    expect(returned(results)).toEqual([GnutellaRule.handshake, GnutellaRule.handshakeReply]);
    expect(peerKeys(h, GnutellaVia.xTry)).toEqual(endpointKeys(ULTRAPEERS.slice(0, 1)));
  });

  it('Gnutella 0.4: `GNUTELLA CONNECT/0.4` and `GNUTELLA OK`', () => {
    const h = harness();
    const results = h.feedAll([segment(SERVENT, connect({ version: '0.4' })), segment(reversed(SERVENT), 'GNUTELLA OK\n\n', 5000)]);
    expect(allAccepted(results)).toEqual([GnutellaRule.handshake, GnutellaRule.handshakeReply]);
  });

  it('reads a handshake and an answer split over segments, learning lists in later segments, and frees its buffers', () => {
    for (const cuts of [[4], [9], [30], [4, 5, 6, 60, 200]]) {
      const h = harness();
      const request = tcpSegments(connect(), { ...SERVENT, cuts });
      const reply = tcpSegments(REFUSAL, { ...reversed(SERVENT), seq: 5000, cuts: [5, 40, 120] });
      const results = h.feedAll([tcpSyn(SERVENT), tcpSynAck(SERVENT), ...request, ...reply]);
      expect(allAccepted(results)).toContain(GnutellaRule.handshake);
      expect(allAccepted(results)).toContain(GnutellaRule.handshakeReply);
      expect(peerKeys(h, GnutellaVia.xTry)).toEqual(endpointKeys(ULTRAPEERS));
      expect(peerKeys(h, GnutellaVia.xTryHubs)).toEqual(endpointKeys(HUBS));
      expect(noModuleState(results.at(-1)!)).toBe(true);
      expect(h.engine.moduleBuffers.held).toBe(0);
    }
  });

  it('a first segment of fewer than 4 bytes is not kept (FastTrack keeps lone `G`s already): that handshake is missed', () => {
    const h = harness();
    const results = h.feedAll([tcpSyn(SERVENT), tcpSynAck(SERVENT), ...tcpSegments(connect(), { ...SERVENT, cuts: [1] })]);
    expect(returned(results)).toEqual([]);
    expect(h.engine.moduleBuffers.held).toBe(0);
  });

  it(`takes at most ${MAX_PEERS.handshake} peers from one answer`, () => {
    const h = harness();
    const many = Array.from({ length: 60 }, (_, i) => ({ ip: `198.51.100.${i + 1}`, port: 6346 + i }));
    h.feedAll([segment(SERVENT, connect()), segment(reversed(SERVENT), answer('503 Full', [`X-Try-Ultrapeers: ${endpointList(many)}`]), 5000)]);
    expect(peerKeys(h, GnutellaVia.xTry)).toHaveLength(MAX_PEERS.handshake);
  });

  it('named inside, reserved and low-port servents go through the engine guards', () => {
    const h = harness();
    const named = [{ ip: '10.0.0.9', port: 6346 }, { ip: '127.0.0.1', port: 6346 }, { ip: '224.0.0.1', port: 6346 }, { ip: '198.51.100.9', port: 80 }, ...ULTRAPEERS.slice(0, 1)];
    h.feedAll([segment(SERVENT, connect()), segment(reversed(SERVENT), answer('503 Full', [`X-Try-Ultrapeers: ${endpointList(named)}, [2001:db8::1]:6346, not-an-address`]), 5000)]);
    expect(peerKeys(h, GnutellaVia.xTry)).toEqual(endpointKeys(ULTRAPEERS.slice(0, 1)));
    const c = h.engine.counters;
    expect([c.peersRefusedInside, c.peersRefusedReserved, c.peersRefusedLowPort]).toEqual([1, 2, 1]);
  });

  it('an answer on a flow whose inside host never spoke Gnutella names nobody', () => {
    const h = harness();
    const results = h.feedAll([segment(WEB, 'GET / HTTP/1.1\r\nHost: example.org\r\n\r\n'), segment(reversed(WEB), REFUSAL.replace('503', '200'), 5000)]);
    expect(returned(results)).toEqual([GnutellaRule.handshakeReply]);
    expect(allAccepted(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
    expect(h.engine.counters.evidenceRefusedUnanswered).toBe(1);
  });

  it('an outside servent calling in is not believed; the inside servent answering is, and its own X-Try is learned', () => {
    const h = harness();
    const inbound = reversed(SERVENT);
    const own = answer('200 OK', [`User-Agent: ${USER_AGENT}`, 'Listen-IP: 192.0.2.53:28681', `X-Try-Ultrapeers: ${endpointList(ULTRAPEERS.slice(1))}`]);
    const results = h.feedAll([tcpSyn(inbound), tcpSynAck(inbound), segment(inbound, connect()), segment(SERVENT, own, 5000)]);
    expect(results[2]!.seen.map((seen) => seen.accepted)).toEqual([false]);
    expect(accepted(results[3]!)).toEqual([GnutellaRule.handshakeReply]);
    // It called in: the whole address. The inside servent's own Listen-IP is not learned.
    expect(peerKeys(h)).toEqual(['203.0.113.7:0/both', ...endpointKeys(ULTRAPEERS.slice(1))].sort());
  });
});

describe('Gnutella pushes and downloads', () => {
  const GIV = 'GIV 1234:74e83102414c9fb617abb10c9760594a/song.mp3\n\n';

  it('GIV from the inside servent identifies it; an outside GIV calling in does not', () => {
    const h = harness();
    expect(allAccepted(h.feedAll([segment(SERVENT, GIV)]))).toEqual([GnutellaRule.giv]);
    const other = harness();
    const inbound = reversed({ ...SERVENT, sport: 50300 });
    expect(allAccepted(other.feedAll([tcpSyn(inbound), tcpSynAck(inbound), segment(inbound, GIV)]))).toEqual([]);
  });

  it('a GIV without its index, GUID or slash is nothing', () => {
    const h = harness();
    const lines = ['GIV :74e83102414c9fb617abb10c9760594a/x\n\n', 'GIV 12:74e83102414c9fb617abb10c9760594/x\n\n', 'GIV 12:74e83102414c9fb617abb10c9760594az\n\n', 'GIVE 12\r\n\r\n', 'GIV ME THE MONEY\r\n\r\n'];
    lines.forEach((line, i) => expect(returned(h.feedAll([segment({ ...SERVENT, sport: 41000 + i }, line)]))).toEqual([]));
  });

  const N2R = 'GET /uri-res/N2R?urn:sha1:LXIP2A72T5H3BU3GRUMZFYNU3OYDK6FI HTTP/1.1';

  it('a download with Gnutella-only headers identifies; the uploader is learned', () => {
    const h = harness();
    const request = `${N2R}\r\nUser-Agent: ${USER_AGENT}\r\nHost: 203.0.113.7:6346\r\nX-Features: tls/1.0, queue/1.1\r\nX-Queue: 1.1\r\nRange: bytes=0-1048575\r\n\r\n`;
    const [result] = h.feedAll([segment(SERVENT, request)]);
    expect(accepted(result!)).toEqual([GnutellaRule.download]);
    expect(result!.evidence[0]!.detail).toBe(USER_AGENT);
    expect(peerKeys(h)).toEqual(['203.0.113.7:6346/both']);
  });

  it('`/get/<index>/<name with spaces>` and `/gnutella/thex/…` downloads, their headers split over segments', () => {
    const requests = [
      'GET /get/2468/Foo Bar.mp3 HTTP/1.0\r\nUser-Agent: LimeWire/4.18\r\nX-Gnutella-Content-URN: urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB\r\n\r\n',
      'GET /gnutella/thex/v1?urn:tree:tiger/:3WMUS6WM2ZC7XIPRQDKXWHHJRV4IKYC4OX4ELCA&depth=9 HTTP/1.1\r\nHost: 203.0.113.7:6346\r\nX-Alt: 203.0.113.40:6346\r\n\r\n',
    ];
    for (const request of requests) {
      for (const cuts of [[], [4], [50], [request.length - 10]]) {
        const h = harness();
        const results = h.feedAll([tcpSyn(SERVENT), tcpSynAck(SERVENT), ...tcpSegments(request, { ...SERVENT, cuts })]);
        expect(allAccepted(results)).toEqual([GnutellaRule.download]);
        expect(h.engine.moduleBuffers.held).toBe(0);
      }
    }
  });

  it('the request line alone (what a web page can make a browser send) only supports: counted to a learned peer', () => {
    const browser = `${N2R}\r\nHost: 203.0.113.7:6346\r\nUser-Agent: Mozilla/5.0\r\nAccept: image/avif,image/webp,*/*\r\nReferer: https://attacker.example/\r\n\r\n`;
    const h = harness();
    const results = h.feedAll([segment(SERVENT, browser)]);
    expect(returned(results)).toEqual([GnutellaRule.downloadRequest]);
    expect(allAccepted(results)).toEqual([]);
    expect(h.engine.clients.size).toBe(0);
    expect(peerKeys(h)).toEqual([]);
    const known = harness();
    known.addKnownPeer('203.0.113.7');
    expect(allAccepted(known.feedAll([segment(SERVENT, browser)]))).toEqual([GnutellaRule.downloadRequest]);
  });
});

describe('look-alikes that must not match', () => {
  const nothing = (packets: readonly Uint8Array[]): void => expectNothing(harness, packets);

  it('a web page that mentions `GNUTELLA CONNECT/0.6` and `/uri-res/N2R?` in its body', () => {
    const page = `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<pre>${connect()}</pre><a href="/uri-res/N2R?urn:sha1:X">GET /uri-res/N2R?urn:sha1:X HTTP/1.1</a>`;
    nothing([segment(WEB, 'GET /wiki/Gnutella HTTP/1.1\r\nHost: en.wikipedia.org\r\n\r\n'), segment(reversed(WEB), page, 5000)]);
  });

  it('requests that mention them after the start of the line, or in a body', () => {
    const requests = [
      'GET /search?q=GNUTELLA+CONNECT/0.6 HTTP/1.1\r\nHost: example.org\r\n\r\n',
      'GET /docs/uri-res/N2R?urn:sha1:X HTTP/1.1\r\nX-Queue: 1\r\n\r\n',
      `POST /paste HTTP/1.1\r\nContent-Length: 200\r\n\r\n${connect()}`,
      'GET /uri-res/N2R?urn:sha1:X HTTP/1.1 trailing\r\nX-Queue: 1\r\n\r\n',
      'GET /get/abc/x HTTP/1.1\r\nX-Queue: 1\r\n\r\n',
      'GNUTELLA CONNECT/0.6 please\r\n\r\n',
      'GNUTELLA/0.6 2OO OK\r\n\r\n',
      'GNUTELLA CONNECT\r\n\r\n',
      'GNUTELLAx\r\n\r\n',
      `EHLO mail.example.org\r\nDATA\r\n${connect()}`,
    ];
    nothing(requests.map((request, i) => segment({ ...WEB, sport: 42000 + i, dport: 8080 }, request)));
  });

  it('a later segment of a stream is never a start line', () => {
    const ends = { ...SERVENT, dport: 8080 };
    nothing([segment(ends, 'POST /upload HTTP/1.1\r\nContent-Length: 600\r\n\r\n'), segment(ends, connect(), 1047)]);
  });

  it('TLS records of 46, 49, 82 and 89 bytes (nDPI still labels these Gnutella)', () => {
    const packets = [46, 49, 82, 89].flatMap((size, i) => {
      const record = Uint8Array.from({ length: size }, (_, j) => (j === 0 ? 0x17 : j === 1 ? 3 : j === 2 ? 3 : j === 3 ? 0 : j === 4 ? size - 5 : (j * 31 + i) & 0xff));
      const ends = { ...SERVENT, sport: 43000 + i, dport: 443 };
      return [segment(ends, record), segment(reversed(ends), record, 7000)];
    });
    nothing(packets);
  });
});
