/**
 * Soulseek from protocol bytes (Nicotine+ `doc/SLSKPROTOCOL.md`): Debian packages no Soulseek
 * server or client, so no real one runs in the lab.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { protocolModules } from '../../src/detect/registry.js';
import { SoulseekModule, SoulseekRule, SoulseekVia } from '../../src/detect/soulseek/soulseek.js';
import { accepted, allAccepted, expectNothing, noModuleState, peerKeys, returned } from '../support/detector-results.js';
import { DetectorHarness, reversed, tcpSegments, tcpSyn, tcpSynAck } from '../support/detector-harness.js';
import { SKIP_SHARED } from '../analyze/support.js';
import { evidenceIn } from '../support/capture-evidence.js';
import { ACK, PSH, bittorrent as bt, tcp, type Endpoints } from '@p2pwall/lab';

const SERVER: Endpoints = { src: '10.0.0.5', dst: '198.51.100.59', sport: 50300, dport: 2242 };
const PEER: Endpoints = { src: '10.0.0.5', dst: '203.0.113.34', sport: 50301, dport: 2234 };

const u32 = (value: number): number[] => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
const str = (text: string): number[] => [...u32(Buffer.byteLength(text)), ...Buffer.from(text)];
/** An IP as Soulseek sends it: a uint32 LE, so the octets come reversed. */
const ip = (text: string): number[] => text.split('.').map(Number).reverse();
/** A server message: length (of code and body), uint32 code, body. */
const serverMessage = (code: number, body: number[]): Uint8Array => Uint8Array.from([...u32(4 + body.length), ...u32(code), ...body]);
/** A peer init message: length, uint8 code, body. */
const initMessage = (code: number, body: number[]): Uint8Array => Uint8Array.from([...u32(1 + body.length), code, ...body]);

function login(user = 'username', password = 'password', version = 160, minor = 1): Uint8Array {
  const md5 = createHash('md5').update(user + password).digest('hex');
  return serverMessage(1, [...str(user), ...str(password), ...u32(version), ...str(md5), ...u32(minor)]);
}
const peerInit = (user = 'someone', type = 'P', token = 7): Uint8Array => initMessage(1, [...str(user), ...str(type), ...u32(token)]);
/** The tail after the port: none (old servers), a bool and a uint32, or (today's layout) a uint32 `1` and a uint16 obfuscated port. */
type AddressTail = 'none' | 'bool' | 'current';
const ADDRESS_TAILS: Record<AddressTail, number[]> = { none: [], bool: [0, ...u32(0)], current: [...u32(1), 0x23, 0x09] };
const getPeerAddressAnswer = (user: string, address: string, port: number, tail: AddressTail | boolean = 'current'): Uint8Array =>
  serverMessage(3, [...str(user), ...ip(address), ...u32(port), ...ADDRESS_TAILS[tail === true ? 'current' : tail === false ? 'none' : tail]]);
/** ConnectToPeer with privileged and today's obfuscation words, or in the oldest layout (ending at the token). */
const connectToPeer = (user: string, type: string, address: string, port: number, token = 99, oldest = false): Uint8Array =>
  serverMessage(18, [...str(user), ...str(type), ...ip(address), ...u32(port), ...u32(token), ...(oldest ? [] : [0, ...u32(1), ...u32(port + 1)])]);
const loginAnswer = (): Uint8Array => serverMessage(1, [1, ...str('Welcome to Soulseek'), ...ip('203.0.113.9'), ...str(createHash('md5').update('password').digest('hex'))]);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((part) => [...part]));

function harness(): DetectorHarness {
  return new DetectorHarness({ detectors: [new SoulseekModule()] });
}

function segment(ends: Endpoints, payload: Uint8Array, seq = 1000): Uint8Array {
  return tcp({ ...ends, flags: PSH | ACK, seq, payload });
}

describe('Soulseek', () => {
  it('the documented Login example is byte for byte what the test builds', () => {
    // SLSKPROTOCOL.md, "Sending Login Example".
    const documented =
      '48 00 00 00 01 00 00 00 08 00 00 00 75 73 65 72 6e 61 6d 65 08 00 00 00 70 61 73 73 77 6f 72 64 a0 00 00 00 20 00 00 ' +
      '00 64 35 31 63 39 61 37 65 39 33 35 33 37 34 36 61 36 30 32 30 66 39 36 30 32 64 34 35 32 39 32 39 01 00 00 00';
    expect(Buffer.from(login()).toString('hex')).toBe(documented.replaceAll(' ', ''));
  });

  it('a Login identifies the client and learns the server; its GetPeerAddress and ConnectToPeer answers name peers for TCP (IP octets reversed on the wire)', () => {
    const h = harness();
    const answers = concat(loginAnswer(), getPeerAddressAnswer('alice', '203.0.113.41', 2234), connectToPeer('bob', 'P', '198.51.100.42', 50000));
    const results = h.feedAll([tcpSyn(SERVER), tcpSynAck(SERVER), segment(SERVER, login()), segment(reversed(SERVER), answers, 5000)]);
    expect(allAccepted(results)).toEqual([SoulseekRule.login, SoulseekRule.serverAnswer]);
    expect(peerKeys(h, SoulseekVia.peerAddress)).toEqual(['203.0.113.41:2234/tcp']);
    expect(peerKeys(h, SoulseekVia.connectToPeer)).toEqual(['198.51.100.42:50000/tcp']);
    expect(peerKeys(h)).toContain('198.51.100.59:2242/tcp');
  });

  it('answers follow messages across segments: a message cut by one segment, and one that starts in the next', () => {
    const h = harness();
    const address = getPeerAddressAnswer('alice', '203.0.113.41', 2234, false);
    const answers = concat(loginAnswer(), address, connectToPeer('bob', 'F', '198.51.100.42', 50000));
    const cut = loginAnswer().length + 10;
    h.feedAll([segment(SERVER, login()), ...tcpSegments(answers, { ...reversed(SERVER), seq: 5000, cuts: [cut, loginAnswer().length + address.length] })]);
    // The cut GetPeerAddress answer is missed (nothing is buffered); the ConnectToPeer that starts
    // the third segment is read, where the counted bytes say a message starts.
    expect(peerKeys(h, SoulseekVia.peerAddress)).toEqual([]);
    expect(peerKeys(h, SoulseekVia.connectToPeer)).toEqual(['198.51.100.42:50000/tcp']);
  });

  it('a Login followed in its segment by more server messages (SetWaitPort, and one cut by the segment) identifies; followed by bytes that are no server message, it does not', () => {
    const waitPort = serverMessage(2, [...u32(2234), ...u32(1), ...u32(2235)]);
    const status = serverMessage(28, u32(2));
    const h = harness();
    const stream = concat(login(), waitPort, status);
    const results = h.feedAll(tcpSegments(stream, { ...SERVER, cuts: [login().length + waitPort.length + 9] }));
    expect(allAccepted(results)).toEqual([SoulseekRule.login]);
    // The stream stays followed: the server's answer is read.
    h.feed(segment(reversed(SERVER), getPeerAddressAnswer('alice', '203.0.113.41', 2234), 5000));
    expect(peerKeys(h, SoulseekVia.peerAddress)).toEqual(['203.0.113.41:2234/tcp']);
    expectNothing(harness, [segment(SERVER, concat(login(), Uint8Array.from([0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50])))]);
  });

  it('answers in every layout met: GetPeerAddress with no, a bool, or today’s obfuscation tail; ConnectToPeer from the oldest to today’s; a tail of another length names nobody', () => {
    const h = harness();
    const answers = concat(
      getPeerAddressAnswer('a', '203.0.113.51', 2234, 'none'),
      getPeerAddressAnswer('b', '203.0.113.52', 2235, 'bool'),
      getPeerAddressAnswer('c', '203.0.113.53', 2236, 'current'),
      connectToPeer('d', 'P', '198.51.100.54', 2237, 5, true),
      connectToPeer('e', 'D', '198.51.100.55', 2238),
      serverMessage(3, [...str('f'), ...ip('203.0.113.56'), ...u32(2239), 0, 0, 0]),
    );
    h.feedAll([segment(SERVER, login()), segment(reversed(SERVER), answers, 5000)]);
    expect(peerKeys(h, SoulseekVia.peerAddress)).toEqual(['203.0.113.51:2234/tcp', '203.0.113.52:2235/tcp', '203.0.113.53:2236/tcp']);
    expect(peerKeys(h, SoulseekVia.connectToPeer)).toEqual(['198.51.100.54:2237/tcp', '198.51.100.55:2238/tcp']);
  });

  it('answers on a flow without the host’s Login name nobody; an offline user (port 0) names nobody', () => {
    const h = harness();
    h.feedAll([segment(SERVER, serverMessage(3, str('alice'))), segment(reversed(SERVER), getPeerAddressAnswer('alice', '203.0.113.41', 2234), 5000)]);
    expect(peerKeys(h, SoulseekVia.peerAddress)).toEqual([]);
    const offline = harness();
    offline.feedAll([segment(SERVER, login()), segment(reversed(SERVER), getPeerAddressAnswer('alice', '0.0.0.0', 0), 5000)]);
    expect(peerKeys(offline, SoulseekVia.peerAddress)).toEqual([]);
  });

  it('a PeerInit (P, F, D) identifies and learns the other client; PierceFirewall and other short server messages only support', () => {
    for (const type of ['P', 'F', 'D']) {
      const h = harness();
      const [result] = h.feedAll([segment(PEER, peerInit('someone', type))]);
      expect(accepted(result!), type).toEqual([SoulseekRule.peerInit]);
      expect(peerKeys(h)).toEqual(['203.0.113.34:2234/tcp']);
      expect(noModuleState(result!)).toBe(true);
    }
    const pierce = harness();
    const [pierced] = pierce.feedAll([segment(PEER, initMessage(0, u32(12345)))]);
    expect(returned([pierced!])).toEqual([SoulseekRule.pierceFirewall]);
    expect(accepted(pierced!)).toEqual([]);
    // The same on a flow to a learned peer counts.
    const known = harness();
    known.addKnownPeer('203.0.113.34');
    expect(allAccepted(known.feedAll([tcpSyn(PEER), tcpSynAck(PEER), segment(PEER, initMessage(0, u32(12345)))]))).toEqual([SoulseekRule.pierceFirewall]);
    const waitPort = harness();
    expect(returned(waitPort.feedAll([segment(SERVER, serverMessage(2, [...u32(2234), 1, ...u32(2235)]))]))).toEqual([SoulseekRule.serverMessage]);
  });

  it('Login look-alikes: a wrong length, a bad hash, a version out of range, control bytes in the name, trailing bytes that are no server message', () => {
    const good = login();
    // Bytes after the Login that are no server message (a length past 4 MiB, an unknown code).
    const longer = Uint8Array.from([...good, ...u32(0x01000000), ...u32(1)]);
    const unknownCode = Uint8Array.from([...good, ...u32(4), ...u32(700)]);
    const variants = [
      Uint8Array.from([...u32(good.length - 3), ...good.subarray(4)]), // length one too many
      longer,
      unknownCode,
      serverMessage(1, [...str('username'), ...str('password'), ...u32(160), ...str('D51C9A7E9353746A6020F9602D452929'), ...u32(1)]),
      login('username', 'password', 42),
      login('user\u0001name'),
      login('x'.repeat(65)),
    ];
    expectNothing(
      harness,
      variants.map((payload, i) => segment({ ...SERVER, sport: 51000 + i }, payload)),
    );
  });

  it('other length-prefixed protocols and random bytes: eDonkey, MySQL, TLS, SMB, a length that matches but a code out of range', () => {
    const edonkey = Uint8Array.from([0xe3, ...u32(20), 0x01, ...bt.randomBytes(20, 1)]);
    const mysqlGreeting = Uint8Array.from([0x4a, 0x00, 0x00, 0x00, 0x0a, ...Buffer.from('8.0.36\0'), ...bt.randomBytes(66, 2)]);
    const tls = Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, ...bt.randomBytes(199, 3)]);
    const smb = Uint8Array.from([0x00, 0x00, 0x00, 0x54, 0xfe, 0x53, 0x4d, 0x42, ...bt.randomBytes(80, 4)]);
    const outOfRange = serverMessage(500, u32(1));
    const packets = [edonkey, mysqlGreeting, tls, smb, outOfRange].map((payload, i) => segment({ ...SERVER, sport: 52000 + i }, payload));
    for (let i = 0; i < 500; i++) {
      const body = bt.randomBytes(4 + (i % 600), 700 + i);
      // Random bodies behind a length that is right: only the code and layout checks stand between them and a match.
      const framed = Uint8Array.from([...u32(body.length), ...body]);
      packets.push(segment({ ...SERVER, sport: 53000 + i }, i % 2 === 0 ? framed : body));
    }
    const h = harness();
    const results = h.feedAll(packets);
    // A random 8-byte code below 161 behind a right length is what a supporting server message is: none here.
    expect(returned(results)).toEqual([]);
    expect(peerKeys(h)).toEqual([]);
  });

  it('never throws on truncations and corruptions of every message', () => {
    const whole = concat(login(), peerInit(), getPeerAddressAnswer('alice', '203.0.113.41', 2234), connectToPeer('bob', 'P', '198.51.100.42', 50000));
    for (let i = 0; i < 300; i++) {
      const copy = whole.slice(0, 1 + ((i * 29) % whole.length));
      for (const at of bt.randomBytes(3, i)) copy[at % copy.length] = bt.randomBytes(1, i + 5)[0]!;
      const e = { ...SERVER, sport: 30000 + i };
      harness().feedAll([segment(e, login()), segment(reversed(e), copy, 5000), segment(e, copy, 1000 + login().length)]);
    }
  });

  it.skipIf(SKIP_SHARED !== '')(`the ordinary shared captures show no Soulseek${SKIP_SHARED ? ` (${SKIP_SHARED})` : ''}`, () => {
    for (const name of ['http.pcapng', '443-curl.pcap', 'dns.pcap', 'quic.pcap', 'ssh.pcap', 'NTPv4.pcap', 'ftp.pcap']) {
      expect(evidenceIn(name, harness()), name).toEqual([]);
    }
  });

  it('is registered', () => {
    expect(protocolModules.some((module) => module.name === 'soulseek')).toBe(true);
  });
});
