import { describe, expect, it } from 'vitest';
import type { Evidence } from '../../src/detect/module.js';
import { FastTrackModule } from '../../src/detect/fasttrack/fasttrack.js';
import { ascii, parseIpv4Endpoint } from '../../src/detect/http-headers.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn, tcpSynAck, type FeedResult } from '../support/detector-harness.js';
import {
  EXAMPLE_HASH,
  NETWORKS,
  giveLine,
  hashRequest,
  nodeId,
  nodePing,
  nodePong,
  nodePong2,
  sessionHello,
  sessionHelloReply,
  uploadReply,
  type NetworkName,
} from '@p2pwall/lab';
import { ACK, PSH, hex, tcp, udp, type Endpoints } from '@p2pwall/lab';

/** An inside client on a random port talking to an outside node on Kazaa's port. */
const CLIENT: Endpoints = { src: '10.0.0.5', dst: '203.0.113.7', sport: 3456, dport: 1214 };
const CLIENT6: Endpoints = { src: 'fd00::5', dst: '2001:db8::7', sport: 3456, dport: 1214 };
const NODE = reversed(CLIENT);

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new FastTrackModule()] });
}

/** The single piece of evidence a packet produced, or null. */
function evidenceOf(result: FeedResult): Evidence | null {
  expect(result.evidence.length).toBeLessThanOrEqual(1);
  return result.evidence[0] ?? null;
}

function rulesOf(results: readonly FeedResult[]): (string | null)[] {
  return results.map((result) => evidenceOf(result)?.rule ?? null);
}

function udpTo(ends: Endpoints, payload: Uint8Array): Uint8Array {
  return udp({ ...ends, payload });
}

/** One TCP segment carrying `payload` (PSH|ACK). */
function segment(ends: Endpoints, payload: string | Uint8Array, seq = 1000): Uint8Array {
  return tcp({ ...ends, flags: PSH | ACK, seq, payload });
}

/** Feeds one single-segment TCP payload on a fresh harness and returns its evidence. */
function tcpEvidence(payload: string, ends: Endpoints = CLIENT): Evidence | null {
  return evidenceOf(harness().feed(segment(ends, payload)));
}

/** A plain HTTP request (no FastTrack path) with the given extra header lines. */
function plainRequest(...lines: string[]): string {
  return `GET /13609/song.mp3 HTTP/1.1\r\nHost: 203.0.113.7:1214\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n`;
}

describe('FastTrack UDP node ping (udp-ping)', () => {
  it('builds giFT’s 12-byte KaZaA ping byte for byte', () => {
    expect(nodePing()).toEqual(hex('27 00000029 80 4b615a614100'));
  });

  it.each(Object.entries(NETWORKS) as [NetworkName, number][])('matches the %s ping (%i bytes)', (network, length) => {
    const payload = nodePing({ network });
    expect(payload.length).toBe(length);
    expect(evidenceOf(harness().feed(udpTo(CLIENT, payload)))).toStrictEqual({
      rule: 'fasttrack/udp-ping',
      supporting: false, transport: 'both',
      detail: network,
    });
  });

  it('matches the exact bytes of a Grokster ping with another encryption type', () => {
    const payload = hex('27 deadbeef 80 47726f6b7374657200');
    expect(evidenceOf(harness().feed(udpTo(CLIENT, payload)))?.detail).toBe('Grokster');
  });

  it('accepts any encryption type in bytes 1–4', () => {
    for (const encType of [0, 0x29, 0xffffffff, 0x80000000]) {
      expect(evidenceOf(harness().feed(udpTo(CLIENT, nodePing({ encType }))))?.rule).toBe('fasttrack/udp-ping');
    }
  });

  it('accepts other printable network names, 1 to 32 characters, as the detail', () => {
    for (const network of ['X', 'Morpheus net', 'a'.repeat(32)]) {
      expect(evidenceOf(harness().feed(udpTo(CLIENT, nodePing({ network }))))).toStrictEqual({
        rule: 'fasttrack/udp-ping',
        supporting: false, transport: 'both',
        detail: network,
      });
    }
  });

  it('matches over IPv6 and in either direction', () => {
    expect(evidenceOf(harness().feed(udpTo(CLIENT6, nodePing())))?.rule).toBe('fasttrack/udp-ping');
    const h = new DetectorHarness({ detectors: [new FastTrackModule()], inside: ['10.0.0.5'] });
    const result = h.feed(udpTo(NODE, nodePing({ network: 'fileshare' })));
    expect(result.fromInside).toBe(false);
    expect(evidenceOf(result)?.detail).toBe('fileshare');
  });

  it('labels the flow and reports every ping on it', () => {
    const h = harness();
    const results = h.feedAll([udpTo(CLIENT, nodePing()), udpTo(CLIENT, nodePing())]);
    expect(rulesOf(results)).toEqual(['fasttrack/udp-ping', 'fasttrack/udp-ping']);
    expect(results[0]!.flow.app).toBe('fasttrack');
    expect(results[0]!.flow.moduleStates).toBeNull();
  });
});

describe('FastTrack UDP look-alikes that must not match', () => {
  const cases: [string, Uint8Array][] = [
    ['a 12-byte 0x27 datagram with non-printable name bytes', hex('27 00000029 80 4b61016141 00')],
    ['a 12-byte 0x27 datagram whose name holds a NUL', hex('27 00000029 80 4b61006141 00')],
    ['a 12-byte 0x27 datagram without the trailing NUL', hex('27 00000029 80 4b615a614141')],
    ['a 12-byte 0x27 datagram with byte 5 not 0x80', hex('27 00000029 81 4b615a614100')],
    ['a 0x27 datagram with an empty name', hex('27 00000029 80 00')],
    ['a 0x27 datagram with a 33-character name', nodePing({ network: 'a'.repeat(33) })],
    ['a ping name with a byte above 0x7e', hex('27 00000029 80 4b615a61c100')],
    // ID 0x27a1, standard query, one question for "kazaa.com" A IN: starts 0x27 like a ping.
    ['a DNS query', hex('27a1 0100 0001 0000 0000 0000 056b617a616103636f6d00 0001 0001')],
    ['a pong with byte 5 not 0x00', hex('28 00000029 01 07 0102 2a 00 4b615a614100')],
    ['a pong too short to hold a name', hex('28 00000029 00 07 0102 2a 00')],
    ['a pong without the trailing NUL', hex('28 00000029 00 07 0102 2a 00 4b615a614141')],
  ];

  it.each(cases)('ignores %s', (_name, payload) => {
    const result = harness().feed(udpTo(CLIENT, payload));
    expect(result.evidence).toEqual([]);
    expect(result.flow.app).toBeNull();
  });

  it('ignores a ping payload carried over TCP', () => {
    expect(evidenceOf(harness().feed(segment(CLIENT, nodePing())))).toBeNull();
  });

  it('ignores a datagram whose UDP length says it was cut short', () => {
    const packet = udpTo(CLIENT, Uint8Array.from([...nodePing(), 0x41, 0x00]));
    // Keep the declared UDP length (22 bytes of payload) but hand the detector 12 of them, as a short capture would.
    const truncated = packet.slice(0, 20 + 8 + 12);
    truncated[2] = 0;
    truncated[3] = 40;
    expect(evidenceOf(harness().feed(truncated))).toBeNull();
  });
});

describe('FastTrack UDP node pong (udp-pong)', () => {
  it('builds the 17-byte KaZaA pong byte for byte', () => {
    expect(nodePong()).toEqual(hex('28 00000029 00 07 0102 2a 00 4b615a614100'));
  });

  it.each(Object.keys(NETWORKS) as NetworkName[])('matches the %s pong', (network) => {
    const payload = nodePong({ network });
    expect(payload.length).toBe(12 + network.length);
    expect(evidenceOf(harness().feed(udpTo(NODE, payload)))).toStrictEqual({
      rule: 'fasttrack/udp-pong',
      supporting: false, transport: 'both',
      detail: network,
    });
  });

  it('ignores the bytes between 6 and 10', () => {
    const payload = hex('28 ffffffff 00 ff ffff ff ff 4b615a614100');
    expect(evidenceOf(harness().feed(udpTo(NODE, payload)))?.rule).toBe('fasttrack/udp-pong');
  });
});

describe('FastTrack UDP pong-2 (udp-pong2) and 0x2A (udp-id)', () => {
  /** A harness whose client → node flow is already labelled FastTrack by a ping. */
  function labelled(ends: Endpoints = CLIENT): DetectorHarness {
    const h = harness();
    expect(evidenceOf(h.feed(udpTo(ends, nodePing())))?.rule).toBe('fasttrack/udp-ping');
    return h;
  }

  it('builds the 13- and 21-byte layouts', () => {
    expect(nodePong2({ kind: 2, id: 0x01020304 })).toEqual(hex('29 00000029 02 00 0000 01020304'));
    expect(nodePong2({ id: 0x01020304, node: { ip: '198.51.100.20', port: 1214 } })).toEqual(
      hex('29 00000029 01 01 0000 01020304 c6336414 04be 0000'),
    );
    expect(nodeId(0x01020304)).toEqual(hex('2a 01020304'));
  });

  it('matches a 13-byte pong-2 without a node on a labelled flow', () => {
    for (const kind of [1, 2]) {
      const h = labelled();
      expect(evidenceOf(h.feed(udpTo(NODE, nodePong2({ kind }))))).toStrictEqual({
        rule: 'fasttrack/udp-pong2',
        supporting: false, transport: 'both',
      });
    }
  });

  it('turns the node in a 21-byte pong-2 into a peer hint', () => {
    const h = labelled();
    const found = evidenceOf(h.feed(udpTo(NODE, nodePong2({ node: { ip: '198.51.100.20', port: 2121 } }))));
    expect(found).toStrictEqual({
      rule: 'fasttrack/udp-pong2',
      supporting: false, transport: 'both',
      detail: '198.51.100.20:2121',
      peers: [{ ip: '198.51.100.20', port: 2121, transport: 'both', via: 'fasttrack/udp-pong2-node' }],
    });
  });

  it('gives no hint for a node on port 0', () => {
    const h = labelled();
    const found = evidenceOf(h.feed(udpTo(NODE, nodePong2({ node: { ip: '198.51.100.20', port: 0 } }))));
    expect(found?.rule).toBe('fasttrack/udp-pong2');
    expect(found?.peers).toBeUndefined();
  });

  it('matches on an IPv6 flow', () => {
    const h = labelled(CLIENT6);
    expect(evidenceOf(h.feed(udpTo(reversed(CLIENT6), nodePong2())))?.rule).toBe('fasttrack/udp-pong2');
  });

  it('matches 0x2A on a labelled flow', () => {
    const h = labelled();
    expect(evidenceOf(h.feed(udpTo(CLIENT, nodeId())))).toStrictEqual({ rule: 'fasttrack/udp-id', supporting: false, transport: 'both' });
  });

  it('ignores pong-2 and 0x2A on a flow not labelled FastTrack', () => {
    expect(evidenceOf(harness().feed(udpTo(NODE, nodePong2({ node: { ip: '198.51.100.20', port: 2121 } }))))).toBeNull();
    expect(evidenceOf(harness().feed(udpTo(CLIENT, nodeId())))).toBeNull();
  });

  it.each([
    ['flag 1 but 13 bytes', hex('29 00000029 01 01 0000 01020304')],
    ['flag 0 but 21 bytes', hex('29 00000029 01 00 0000 01020304 c6336414 04be 0000')],
    ['byte 5 not 1 or 2', hex('29 00000029 03 00 0000 01020304')],
    ['flag 2', hex('29 00000029 01 02 0000 01020304')],
    ['bytes 7–8 not zero', hex('29 00000029 01 00 0001 01020304')],
  ])('ignores a pong-2 with %s, even on a labelled flow', (_name, payload) => {
    expect(evidenceOf(labelled().feed(udpTo(NODE, payload)))).toBeNull();
  });

  it('ignores a 0x2A datagram that is not 5 bytes', () => {
    expect(evidenceOf(labelled().feed(udpTo(CLIENT, hex('2a 0102030405'))))).toBeNull();
  });
});

describe('FastTrack HTTP request lines', () => {
  it('matches GET /.hash=<40 hex> in one segment, with detail and hints', () => {
    const found = tcpEvidence(hashRequest({ kazaaIp: '192.168.1.10:1214', supernodeIp: '198.51.100.20:2121' }));
    expect(found).toStrictEqual({
      rule: 'fasttrack/http-hash-request',
      supporting: false, transport: 'both',
      detail: `/.hash=${EXAMPLE_HASH}`,
      // Both are reported; the engine drops inside and unroutable addresses.
      peers: [
        { ip: '192.168.1.10', port: 1214, transport: 'both', via: 'fasttrack/x-kazaa-ip' },
        { ip: '198.51.100.20', port: 2121, transport: 'both', via: 'fasttrack/x-kazaa-supernodeip' },
      ],
    });
  });

  it('matches a HEAD request, HTTP/1.0, upper-case hex and a bare minimum of headers', () => {
    expect(tcpEvidence(hashRequest({ method: 'HEAD' }))?.rule).toBe('fasttrack/http-hash-request');
    expect(tcpEvidence(`GET /.hash=${EXAMPLE_HASH.toUpperCase()} HTTP/1.0\r\n\r\n`)?.rule).toBe('fasttrack/http-hash-request');
  });

  it('fires when the request line is complete, before the rest of the head arrives', () => {
    const h = harness();
    const results = h.feedAll(tcpSegments(hashRequest(), { ...CLIENT, cuts: [`GET /.hash=${EXAMPLE_HASH} HTTP/1.1\r\n`.length] }));
    // The rest carries UserAgent and X-Kazaa lines: the X-Kazaa header outranks the user agent.
    expect(rulesOf(results)).toEqual(['fasttrack/http-hash-request', 'fasttrack/x-kazaa-header']);
  });

  it.each(['/.download/123.mp3', '/.supernode', '/.supernodes?x=1', '/.status', '/.network', '/.networks/KaZaA', '/.files'])(
    'matches the FastTrack path %s',
    (path) => {
      for (const method of ['GET', 'HEAD']) {
        expect(tcpEvidence(`${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)).toStrictEqual({
          rule: 'fasttrack/http-fasttrack-path',
          supporting: false, transport: 'both',
          detail: path,
        });
      }
    },
  );

  it('matches over IPv6', () => {
    expect(tcpEvidence(hashRequest(), CLIENT6)?.rule).toBe('fasttrack/http-hash-request');
  });

  it('reports the strongest rule when one packet completes several', () => {
    // Path + X-Kazaa header + Kazaa user agent: the X-Kazaa header is the strongest.
    const found = tcpEvidence('GET /.status HTTP/1.1\r\nUserAgent: KazaaClient\r\nX-Kazaa-Network: KaZaA\r\n\r\n');
    expect(found?.rule).toBe('fasttrack/x-kazaa-header');
  });
});

describe('FastTrack HTTP header lines', () => {
  it.each(['X-Kazaa-Username', 'X-Kazaa-Network', 'X-Kazaa-IP', 'X-Kazaa-SupernodeIP', 'X-Kazaa-XferId', 'X-Kazaa-XferUid', 'X-KazaaTag'])(
    'matches %s in an ordinary-looking request, whatever its case',
    (name) => {
      for (const written of [name, name.toLowerCase(), name.toUpperCase()]) {
        const found = tcpEvidence(plainRequest(`${written}: something`));
        expect(found?.rule).toBe('fasttrack/x-kazaa-header');
        expect(found?.detail).toBe(name);
        expect(found?.peers).toBeUndefined();
      }
    },
  );

  it('matches X-Kazaa headers in a response, in either direction', () => {
    const fromNode = evidenceOf(harness().feed(segment(NODE, uploadReply())));
    expect(fromNode).toStrictEqual({
      rule: 'fasttrack/x-kazaa-header',
      supporting: false, transport: 'both',
      detail: 'X-Kazaa-Username',
      peers: [
        { ip: '203.0.113.7', port: 1214, transport: 'both', via: 'fasttrack/x-kazaa-ip' },
        { ip: '198.51.100.20', port: 2121, transport: 'both', via: 'fasttrack/x-kazaa-supernodeip' },
      ],
    });
    // An inside host uploading: the head travels inside → outside.
    const fromInside = evidenceOf(harness().feed(segment(CLIENT, uploadReply({ kazaaIp: '10.0.0.5:3456' }))));
    expect(fromInside?.peers?.map((hint) => hint.via)).toEqual(['fasttrack/x-kazaa-ip', 'fasttrack/x-kazaa-supernodeip']);
  });

  it('matches the pseudo response to /.files', () => {
    const found = tcpEvidence('HTTP/1.0 403 Forbidden 38 2273515777\r\nX-Kazaa-Username: carol\r\n\r\n', NODE);
    expect(found?.rule).toBe('fasttrack/x-kazaa-header');
  });

  it.each([
    ['UserAgent: KazaaClient Jan 18 2003 19:58:49', 'fasttrack/kazaa-useragent', 'KazaaClient Jan 18 2003 19:58:49'],
    ['User-Agent: KazaaClient', 'fasttrack/kazaa-useragent', 'KazaaClient'],
    ['useragent:kazaaclient 2.6', 'fasttrack/kazaa-useragent', 'kazaaclient 2.6'],
    ['User-Agent: PeerEnabler/2.0', 'fasttrack/peerenabler-useragent', 'PeerEnabler/2.0'],
  ])('matches "%s"', (line, rule, detail) => {
    expect(tcpEvidence(plainRequest(line))).toStrictEqual({ rule, supporting: false, transport: 'both', detail });
  });

  it('accepts blanks around an X-Kazaa-IP value', () => {
    const found = tcpEvidence(plainRequest('X-Kazaa-IP:\t 198.51.100.9:3000  '));
    expect(found?.peers).toEqual([{ ip: '198.51.100.9', port: 3000, transport: 'both', via: 'fasttrack/x-kazaa-ip' }]);
  });

  it.each([
    '198.51.100.9',
    '198.51.100.9:',
    '198.51.100.9:0',
    '198.51.100.9:65536',
    '198.51.100.9:123456',
    '198.51.100.256:80',
    '198.51.100:80',
    '198.51.100.9.1:80',
    '1980.51.100.9:80',
    'node.example:80',
    '198.51.100.9:80x',
    '198.51.100.9 :80',
    '[2001:db8::1]:80',
    '',
  ])('gives no hint for the malformed X-Kazaa-SupernodeIP value "%s"', (value) => {
    const found = tcpEvidence(plainRequest(`X-Kazaa-SupernodeIP: ${value}`));
    expect(found?.rule).toBe('fasttrack/x-kazaa-header');
    expect(found?.peers).toBeUndefined();
  });

  it('parses endpoints at the edges of the ranges', () => {
    const parse = (text: string) => parseIpv4Endpoint(ascii(text), 0, text.length, 'test');
    expect(parse('0.0.0.0:1')).toEqual({ ip: '0.0.0.0', port: 1, transport: 'both', via: 'test' });
    expect(parse('255.255.255.255:65535')).toEqual({ ip: '255.255.255.255', port: 65535, transport: 'both', via: 'test' });
    expect(parse('010.001.000.009:01214')).toEqual({ ip: '10.1.0.9', port: 1214, transport: 'both', via: 'test' });
  });
});

describe('FastTrack GIVE push (give-push)', () => {
  it('matches GIVE <push id>\\r\\n', () => {
    expect(tcpEvidence(giveLine(4253679545), NODE)).toStrictEqual({
      rule: 'fasttrack/give-push',
      supporting: false, transport: 'both',
      detail: '4253679545',
    });
    expect(tcpEvidence(giveLine(0))?.rule).toBe('fasttrack/give-push');
    expect(tcpEvidence(giveLine(4294967295))?.rule).toBe('fasttrack/give-push');
  });

  it('reads the reversed HTTP exchange that follows on the same stream', () => {
    const h = harness();
    const payload = giveLine(17) + uploadReply({ supernodeIp: '198.51.100.30:1214' });
    const results = h.feedAll(tcpSegments(payload, { ...NODE, cuts: [giveLine(17).length] }));
    expect(rulesOf(results)).toEqual(['fasttrack/give-push', 'fasttrack/x-kazaa-header']);
    expect(evidenceOf(results[1]!)?.peers).toContainEqual({ ip: '198.51.100.30', port: 1214, transport: 'both', via: 'fasttrack/x-kazaa-supernodeip' });
  });

  it.each([
    ['GIVE abc\r\n'],
    ['GIVE 4294967296\r\n'],
    ['GIVE 12345678901\r\n'],
    ['GIVE \r\n'],
    ['GIVE 12 34\r\n'],
    ['GIVE 123\n'],
    ['GIVE -1\r\n'],
  ])('ignores %j', (payload) => {
    expect(tcpEvidence(payload)).toBeNull();
  });
});

describe('FastTrack HTTP look-alikes that must not match', () => {
  it('never examines a body: a response whose body mentions X-Kazaa headers and a hash request', () => {
    const body = `X-Kazaa-Username: bob\r\nGET /.hash=${EXAMPLE_HASH} HTTP/1.1\r\nUserAgent: KazaaClient\r\n\r\n`;
    const response = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    expect(tcpEvidence(response, NODE)).toBeNull();
    // Nor when the body arrives in later segments.
    const results = harness().feedAll(tcpSegments(response, { ...NODE, cuts: [20, response.length - body.length, response.length - 30] }));
    expect(rulesOf(results)).toEqual([null, null, null, null]);
  });

  it('ignores GET /index.html with ordinary headers, and keeps no state for it', () => {
    const request =
      'GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n' +
      'Accept: text/html\r\nAccept-Language: en\r\nConnection: keep-alive\r\n\r\n';
    const result = harness().feed(segment(CLIENT, request));
    expect(result.evidence).toEqual([]);
    expect(result.flow.moduleStates).toBeNull();
  });

  it.each([
    ['/.hash=xyz', 'GET /.hash=xyz HTTP/1.1\r\n\r\n'],
    ['a hash of 39 hex digits', `GET /.hash=${EXAMPLE_HASH.slice(1)} HTTP/1.1\r\n\r\n`],
    ['a hash of 41 hex digits', `GET /.hash=${EXAMPLE_HASH}0 HTTP/1.1\r\n\r\n`],
    ['40 characters that are not all hex', `GET /.hash=${EXAMPLE_HASH.slice(0, 39)}g HTTP/1.1\r\n\r\n`],
    ['a request line without a version', `GET /.hash=${EXAMPLE_HASH}\r\n\r\n`],
    ['HTTP/2.0', `GET /.hash=${EXAMPLE_HASH} HTTP/2.0\r\n\r\n`],
    ['a lower-case method', `get /.hash=${EXAMPLE_HASH} HTTP/1.1\r\n\r\n`],
    ['POST', `POST /.hash=${EXAMPLE_HASH} HTTP/1.1\r\nX-Kazaa-Username: bob\r\n\r\n`],
    ['a path that only contains a FastTrack path', 'GET /x/.status HTTP/1.1\r\n\r\n'],
    ['X-Kazaa-IP in the middle of a line', plainRequest('Referer: http://x/?X-Kazaa-IP: 1.2.3.4:5')],
    ['a longer header name', plainRequest('X-Kazaa-Usernames: bob')],
    ['a header name followed by a space', plainRequest('X-Kazaa-Username : bob')],
    ['a folded continuation line', plainRequest('Referer: x', ' X-Kazaa-Username: bob')],
    ['another user agent', plainRequest('User-Agent: Mozilla/5.0 KazaaClient')],
    ['PeerEnabler without its slash', plainRequest('User-Agent: PeerEnabler')],
  ])('ignores %s', (_name, payload) => {
    expect(tcpEvidence(payload)).toBeNull();
  });

  it('ignores X-Kazaa headers after a start line that is neither a request nor a response', () => {
    expect(tcpEvidence('HTTP/1.1\r\nX-Kazaa-Username: bob\r\n\r\n', NODE)).toBeNull();
    expect(tcpEvidence('GIVE abc\r\nX-Kazaa-Username: bob\r\n\r\n', NODE)).toBeNull();
  });

  it('only looks at streams that start with GET, HEAD, GIVE or HTTP/', () => {
    const h = harness();
    const results = h.feedAll(tcpSegments(`POST /x HTTP/1.1\r\n${'X-Kazaa-Username: bob\r\n'}\r\n`, { ...CLIENT, cuts: [18] }));
    expect(rulesOf(results)).toEqual([null, null]);
    expect(results[0]!.flow.moduleStates).toBeNull();
  });

  it('stops at 4 KiB: a header past the capacity is never seen', () => {
    const filler = `X-Filler: ${'a'.repeat(4096)}`;
    const results = harness().feedAll(tcpSegments(plainRequest(filler, 'X-Kazaa-Username: bob'), { ...CLIENT, cuts: [1000, 2000, 3000, 4000] }));
    expect(rulesOf(results).every((rule) => rule === null)).toBe(true);
    expect(results[0]!.flow.moduleStates?.[0]).toBeUndefined();
  });

  it('sees a header that ends just inside the capacity', () => {
    const header = 'X-Kazaa-Username: bob\r\n';
    const start = 'GET /x HTTP/1.1\r\n';
    const filler = `X-Filler: ${'a'.repeat(4096 - start.length - header.length - 'X-Filler: \r\n'.length)}\r\n`;
    const payload = `${start}${filler}${header}\r\n`;
    expect(payload.indexOf(header) + header.length).toBe(4096);
    const results = harness().feedAll(tcpSegments(payload, { ...CLIENT, cuts: [1400, 2800] }));
    expect(rulesOf(results)).toEqual([null, null, 'fasttrack/x-kazaa-header']);
  });
});

describe('FastTrack HTTP reassembly across segments', () => {
  const request = hashRequest({ supernodeIp: '198.51.100.20:2121' });

  it('fires on the second segment when the request line is split', () => {
    const results = harness().feedAll(tcpSegments(request, { ...CLIENT, cuts: [20] }));
    expect(rulesOf(results)).toEqual([null, 'fasttrack/http-hash-request']);
    expect(evidenceOf(results[1]!)?.peers).toEqual([{ ip: '198.51.100.20', port: 2121, transport: 'both', via: 'fasttrack/x-kazaa-supernodeip' }]);
  });

  it('fires on the segment that completes a split header line', () => {
    const cut = request.indexOf('X-Kazaa-Username') + 4;
    const results = harness().feedAll(tcpSegments(request, { ...CLIENT, cuts: [cut] }));
    // Segment 1: request line and UserAgent; segment 2: the X-Kazaa lines.
    expect(rulesOf(results)).toEqual(['fasttrack/http-hash-request', 'fasttrack/x-kazaa-header']);
  });

  it('handles a first segment of one byte', () => {
    const results = harness().feedAll(tcpSegments(request, { ...CLIENT, cuts: [1] }));
    expect(rulesOf(results)).toEqual([null, 'fasttrack/http-hash-request']);
  });

  it('drops a one-byte start as soon as the next bytes rule it out', () => {
    const h = harness();
    const results = h.feedAll(tcpSegments('GXT /.hash=x HTTP/1.1\r\nX-Kazaa-Username: bob\r\n\r\n', { ...CLIENT, cuts: [1, 3] }));
    expect(rulesOf(results)).toEqual([null, null, null]);
    expect(results[0]!.flow.moduleStates?.[0]).toBeUndefined();
  });

  it('follows segments by sequence number, wrapping at 2^32', () => {
    const requestLine = `GET /.hash=${EXAMPLE_HASH} HTTP/1.1\r\n`.length;
    const results = harness().feedAll(tcpSegments(request, { ...CLIENT, seq: 0xfffffff0, cuts: [10, requestLine] }));
    expect(rulesOf(results)).toEqual([null, 'fasttrack/http-hash-request', 'fasttrack/x-kazaa-header']);
  });

  it('ignores a segment that arrives ahead of a gap, and takes it when it comes again in order', () => {
    const cutA = 20;
    const cutB = request.indexOf('X-Kazaa-Network') + 3;
    const [first, second, third] = tcpSegments(request, { ...CLIENT, cuts: [cutA, cutB] });
    const results = harness().feedAll([first!, third!, second!, third!]);
    expect(rulesOf(results)).toEqual([null, null, 'fasttrack/http-hash-request', 'fasttrack/x-kazaa-header']);
  });

  it('ignores retransmissions: nothing fires twice', () => {
    const [first, second] = tcpSegments(request, { ...CLIENT, cuts: [20] });
    const results = harness().feedAll([first!, first!, second!, second!, first!]);
    expect(rulesOf(results)).toEqual([null, null, 'fasttrack/http-hash-request', null, null]);
  });

  it('does not fire twice when a complete head is retransmitted', () => {
    const packet = segment(CLIENT, request);
    expect(rulesOf(harness().feedAll([packet, packet]))).toEqual(['fasttrack/http-hash-request', null]);
  });

  it('counts the SYN in the sequence when the first segment is a SYN with data', () => {
    const [first, second] = [
      tcp({ ...CLIENT, flags: 0x02, seq: 999, payload: request.slice(0, 20) }),
      segment(CLIENT, request.slice(20), 1000 + 20),
    ];
    expect(rulesOf(harness().feedAll([first!, second!]))).toEqual([null, 'fasttrack/http-hash-request']);
  });

  it('fires each rule once per direction, except to carry a later address', () => {
    const head =
      'GET /13609/song.mp3 HTTP/1.1\r\nX-Kazaa-Username: alice\r\n' +
      'X-Kazaa-Network: KaZaA\r\nUserAgent: KazaaClient\r\n' +
      'X-Kazaa-SupernodeIP: 198.51.100.20:2121\r\n\r\n';
    const cuts = [head.indexOf('X-Kazaa-Network'), head.indexOf('X-Kazaa-SupernodeIP')];
    // Segment 2's X-Kazaa-Network adds nothing new (x-kazaa-header already fired); its user agent does.
    const results = harness().feedAll(tcpSegments(head, { ...CLIENT, cuts }));
    expect(rulesOf(results)).toEqual(['fasttrack/x-kazaa-header', 'fasttrack/kazaa-useragent', 'fasttrack/x-kazaa-header']);
    expect(evidenceOf(results[2]!)).toStrictEqual({
      rule: 'fasttrack/x-kazaa-header',
      supporting: false, transport: 'both',
      detail: 'X-Kazaa-SupernodeIP',
      peers: [{ ip: '198.51.100.20', port: 2121, transport: 'both', via: 'fasttrack/x-kazaa-supernodeip' }],
    });
  });

  it('does not report a rule again for a later line of the same kind', () => {
    const head = 'GET /13609/song.mp3 HTTP/1.1\r\nX-Kazaa-Username: alice\r\nX-Kazaa-Network: KaZaA\r\n\r\n';
    const results = harness().feedAll(tcpSegments(head, { ...CLIENT, cuts: [head.indexOf('X-Kazaa-Network')] }));
    expect(rulesOf(results)).toEqual(['fasttrack/x-kazaa-header', null]);
  });

  it('keeps the two directions apart', () => {
    const h = harness();
    const up = tcpSegments(hashRequest(), { ...CLIENT, cuts: [30] });
    const down = tcpSegments(uploadReply(), { ...NODE, seq: 5000, cuts: [30] });
    const results = h.feedAll([up[0]!, down[0]!, up[1]!, down[1]!]);
    expect(rulesOf(results)).toEqual([null, null, 'fasttrack/http-hash-request', 'fasttrack/x-kazaa-header']);
    expect(results.map((result) => result.fromInside)).toEqual([true, false, true, false]);
  });

  it('frees its state once both heads are done', () => {
    const h = harness();
    const results = h.feedAll([...tcpSegments(hashRequest(), { ...CLIENT, cuts: [30] }), ...tcpSegments(uploadReply({ body: 'data' }), { ...NODE, cuts: [30] })]);
    const flow = results[0]!.flow;
    expect(flow.moduleStates).not.toBeNull();
    expect(flow.moduleStates![0]).toBeUndefined();
  });

  it('stops reading a head at its blank line even with a body in the same segment', () => {
    const h = harness();
    const response = uploadReply({ body: 'X-Kazaa-Username: mallory\r\n' });
    const [first, second] = tcpSegments(`${response}X-Kazaa-Network: x\r\n`, { ...NODE, cuts: [40] });
    expect(rulesOf(h.feedAll([first!, second!]))).toEqual([null, 'fasttrack/x-kazaa-header']);
    expect(h.feedAll([segment(NODE, 'X-Kazaa-Username: later\r\n', 1000 + response.length + 20)]).map(evidenceOf)).toEqual([null]);
  });
});

describe('FastTrack encrypted handshake (supporting)', () => {
  const SESSION: Endpoints = { src: '10.0.0.5', dst: '198.51.100.20', sport: 40000, dport: 2121 };

  /** SYN, SYN-ACK, 12 bytes out, 8 bytes back; returns the evidence of each packet. */
  function handshake(h: DetectorHarness, ends: Endpoints = SESSION, hello = sessionHello(), reply = sessionHelloReply()): FeedResult[] {
    return h.feedAll([
      tcpSyn(ends),
      tcpSynAck(ends),
      tcp({ ...ends, flags: PSH | ACK, seq: 1000, payload: hello }),
      tcp({ ...reversed(ends), flags: PSH | ACK, seq: 1000, payload: reply }),
    ]);
  }

  it('builds the 12- and 8-byte messages', () => {
    expect(sessionHello({ seed: 0x01020304, encType: 0 })).toEqual(hex('fa00b62b 01020304 00000000'));
    expect(sessionHelloReply({ seed: 0x05060708, encType: 0x29 })).toEqual(hex('05060708 00000029'));
  });

  it('fires on the 8-byte reply when the flow leads to a known peer', () => {
    const h = harness();
    h.addKnownPeer('198.51.100.20');
    const results = handshake(h);
    expect(results.map((result) => result.evidence)).toEqual([
      [],
      [],
      [],
      [{ rule: 'fasttrack/encrypted-handshake', supporting: true, transport: 'both' }],
    ]);
    expect(results[3]!.seen[0]!.accepted).toBe(true);
  });

  it('fires for a peer known on that port, and over IPv6', () => {
    const h = harness();
    h.addKnownPeer('198.51.100.20', 2121);
    expect(rulesOf(handshake(h))[3]).toBe('fasttrack/encrypted-handshake');
    const h6 = harness();
    const ends6: Endpoints = { src: 'fd00::5', dst: '2001:db8::20', sport: 40000, dport: 2121 };
    h6.addKnownPeer('2001:db8:0::20');
    expect(rulesOf(handshake(h6, ends6))[3]).toBe('fasttrack/encrypted-handshake');
  });

  it('never counts alone: the engine refuses it for a peer that is not known', () => {
    const h = harness();
    h.addKnownPeer('198.51.100.99');
    h.addKnownPeer('198.51.100.20', 1214);
    const results = handshake(h);
    expect(results.map((result) => result.seen.map((seen) => seen.accepted))).toEqual([[], [], [], [false]]);
    expect(results[3]!.flow.app).toBeNull();
    expect(h.engine.counters.evidenceRefusedSupporting).toBe(1);
  });

  it('needs the inside host to open the connection, to a port above 1023', () => {
    const outsideOpened = new DetectorHarness({ detectors: [new FastTrackModule()], inside: ['10.0.0.5'] });
    outsideOpened.addKnownPeer('198.51.100.20');
    // The outside peer connects in and sends 12 bytes; the inside host answers 8.
    const incoming: Endpoints = { src: '198.51.100.20', dst: '10.0.0.5', sport: 2121, dport: 40000 };
    expect(rulesOf(handshake(outsideOpened, incoming, sessionHello(), sessionHelloReply()))).toEqual([null, null, null, null]);

    const lowPort = harness();
    lowPort.addKnownPeer('198.51.100.20');
    expect(rulesOf(handshake(lowPort, { ...SESSION, dport: 1023 }))[3]).toBeNull();
  });

  it('needs exactly 12 bytes out first and exactly 8 bytes back first', () => {
    const cases: [Uint8Array, Uint8Array][] = [
      [Uint8Array.from([...sessionHello(), 0]), sessionHelloReply()],
      [sessionHello().subarray(0, 11), sessionHelloReply()],
      [sessionHello(), Uint8Array.from([...sessionHelloReply(), 0])],
      [sessionHello(), sessionHelloReply().subarray(0, 7)],
    ];
    for (const [hello, reply] of cases) {
      const h = harness();
      h.addKnownPeer('198.51.100.20');
      expect(rulesOf(handshake(h, SESSION, hello, reply))).toEqual([null, null, null, null]);
    }
  });

  it('does not fire on a later 8-byte reply, nor when the reply came before the hello', () => {
    const h = harness();
    h.addKnownPeer('198.51.100.20');
    const results = h.feedAll([
      tcpSyn(SESSION),
      tcp({ ...reversed(SESSION), flags: PSH | ACK, seq: 1000, payload: sessionHelloReply() }),
      tcp({ ...SESSION, flags: PSH | ACK, seq: 1000, payload: sessionHello() }),
      tcp({ ...reversed(SESSION), flags: PSH | ACK, seq: 1008, payload: sessionHelloReply() }),
    ]);
    expect(rulesOf(results)).toEqual([null, null, null, null]);
  });

  it('needs the connection’s start: not for a flow picked up mid-stream', () => {
    const h = harness();
    h.addKnownPeer('198.51.100.20');
    const results = h.feedAll([
      tcp({ ...SESSION, flags: PSH | ACK, seq: 1000, payload: sessionHello() }),
      tcp({ ...reversed(SESSION), flags: PSH | ACK, seq: 1000, payload: sessionHelloReply() }),
    ]);
    expect(rulesOf(results)).toEqual([null, null]);
  });
});
