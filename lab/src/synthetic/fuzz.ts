/**
 * Fuzzing the sensor's per-packet path: link layer, decoder and engine, as the live sensor and
 * analyze run them. Frames are random bytes, or real packets (FastTrack pings, pongs, HTTP heads
 * split over several TCP segments, pushes; BitTorrent handshakes, PEX, uTP, DHT, tracker replies
 * split over segments, UDP tracker, LSD) dressed in what the simple cases leave out — Ethernet
 * with VLAN tags, IPv4 options, IPv6 extension headers, IP fragments — then cut short and
 * flipped. Nothing may throw past the decoder: malformed input is counted and accepted.
 *
 * The same generator drives the fast sample in `npm test` and the nightly `npm run fuzz`.
 */
import { CidrSet, DecodeStatus, Engine, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINK_MALFORMED, LINK_NOT_IP, PacketView, Verdict, decodeIp, locateIp } from '@p2pwall/sensor';
import * as bt from '../bittorrent/payloads.js';
import { ACK, PSH, SYN, ethernet, tcp, udp } from '../packets.js';
import { seededRandom } from './random.js';

export interface FuzzFrame {
  linkType: number;
  data: Uint8Array;
}

const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_DEST_OPTIONS = 60;

/** The IPv4 packet with `words` 4-byte words of options (NOPs, then a record-route option) after its header. */
export function withIpv4Options(packet: Uint8Array, words: number): Uint8Array {
  const options = new Uint8Array(words * 4).fill(0x01);
  if (words >= 2) options.set([0x07, 7, 4, 0, 0, 0, 0], 1);
  const out = new Uint8Array(packet.length + options.length);
  out.set(packet.subarray(0, 20), 0);
  out.set(options, 20);
  out.set(packet.subarray(20), 20 + options.length);
  out[0] = 0x40 | (5 + words);
  new DataView(out.buffer).setUint16(2, out.length);
  return out;
}

/** The IPv4 packet as a fragment: `offset` in 8-byte units, `more` for the More Fragments flag. */
export function ipv4Fragment(packet: Uint8Array, offset: number, more: boolean): Uint8Array {
  const out = packet.slice();
  new DataView(out.buffer).setUint16(6, (more ? 0x2000 : 0) | (offset & 0x1fff));
  return out;
}

/**
 * The IPv6 packet with extension headers of the given types (8 bytes each) between its header and
 * its payload; a fragment header carries `fragmentOffset` (8-byte units) and the M flag.
 */
export function withIpv6Extensions(packet: Uint8Array, types: readonly number[], fragmentOffset = 0, more = true): Uint8Array {
  const out = new Uint8Array(packet.length + types.length * 8);
  out.set(packet.subarray(0, 40), 0);
  const view = new DataView(out.buffer);
  let next = packet[6]!;
  // Written back to front, so each header names the one after it.
  for (let i = types.length - 1; i >= 0; i--) {
    const at = 40 + i * 8;
    out[at] = next;
    if (types[i] === IPV6_FRAGMENT) {
      view.setUint16(at + 2, ((fragmentOffset & 0x1fff) << 3) | (more ? 1 : 0));
      view.setUint32(at + 4, 0x1234 + i);
    } else {
      // Length 0 (8 bytes): a PadN option filling the rest.
      out.set([1, 4, 0, 0, 0, 0], at + 2);
    }
    next = types[i]!;
  }
  out[6] = next;
  out.set(packet.subarray(40), 40 + types.length * 8);
  view.setUint16(4, out.length - 40);
  return out;
}

const PING = new Uint8Array([0x27, 0, 0, 0, 0x29, 0x80, 0x4b, 0x61, 0x5a, 0x61, 0x41, 0]);
const PONG = new Uint8Array([0x28, 0, 0, 0, 0x29, 0, 1, 0, 0, 10, 0, 0x4b, 0x61, 0x5a, 0x61, 0x41, 0]);
const HEAD = `GET /.hash=${'ab'.repeat(20)} HTTP/1.1\r\nHost: 198.51.100.4\r\nX-Kazaa-Username: x\r\nX-Kazaa-IP: 198.51.100.4:1214\r\nX-Kazaa-SupernodeIP: 203.0.113.77:1214\r\nUserAgent: KazaaClient\r\n\r\n`;

/** One request head split into segments at the given cuts, in sequence order (a stream's start). */
function splitHead(src: string, dst: string, sport: number, cuts: readonly number[]): Uint8Array[] {
  const segments: Uint8Array[] = [tcp({ src, dst, sport, dport: 1214, flags: SYN, seq: 999 })];
  let from = 0;
  for (const cut of [...cuts, HEAD.length]) {
    segments.push(tcp({ src, dst, sport, dport: 1214, flags: ACK | PSH, seq: 1000 + from, payload: HEAD.slice(from, cut) }));
    from = cut;
  }
  return segments;
}

/** Packet sequences to start from: each is sent in order, as one flow's packets would be. */
function seedSequences(next: () => number): Uint8Array[][] {
  const v4 = { src: '192.168.1.5', dst: '203.0.113.9' };
  const v6 = { src: 'fd00::5', dst: '2001:db8::9' };
  const ping4 = udp({ ...v4, sport: 3531, dport: 1214, payload: PING });
  const ping6 = udp({ ...v6, sport: 3531, dport: 1214, payload: PING });
  const head6 = tcp({ ...v6, sport: 40000, dport: 1214, payload: HEAD });
  return [
    [ping4, udp({ src: v4.dst, dst: v4.src, sport: 1214, dport: 3531, payload: PONG })],
    [tcp({ ...v4, sport: 40000, dport: 1214, flags: SYN }), tcp({ ...v4, sport: 40000, dport: 1214, payload: HEAD })],
    [tcp({ src: v4.dst, dst: v4.src, sport: 1214, dport: 40000, payload: 'GIVE 1234567\r\n' })],
    [tcp({ ...v6, sport: 40000, dport: 1214, payload: 'HTTP/1.1 200 OK\r\nX-Kazaa-SupernodeIP: 198.51.100.9:1214\r\n\r\n' })],
    [udp({ ...v6, sport: 5, dport: 6, payload: new Uint8Array(Math.floor(next() * 64)) })],
    // HTTP heads over several segments: the module's reassembly.
    splitHead(v4.src, v4.dst, 40001, [1]),
    splitHead(v4.src, v4.dst, 40002, [3, 20, 60, 61, 120]),
    splitHead(v6.src, v6.dst, 40003, [50, 100]),
    // IPv4 options.
    [withIpv4Options(ping4, 2), withIpv4Options(tcp({ ...v4, sport: 40004, dport: 1214, payload: HEAD }), 10)],
    // IPv4 fragments: a first fragment (ports readable), a later one (no ports).
    [ipv4Fragment(ping4, 0, true), ipv4Fragment(ping4, 3, false)],
    // IPv6 extension headers, a first fragment and a later one.
    [withIpv6Extensions(head6, [IPV6_HOP_BY_HOP, IPV6_DEST_OPTIONS]), withIpv6Extensions(ping6, [IPV6_ROUTING])],
    [withIpv6Extensions(ping6, [IPV6_HOP_BY_HOP, IPV6_FRAGMENT], 0, true), withIpv6Extensions(ping6, [IPV6_FRAGMENT], 2, false)],
    ...bitTorrentSequences(v4, v6),
  ];
}

/** BitTorrent: every path of its module, with the replies that make it learn peers. */
function bitTorrentSequences(v4: { src: string; dst: string }, v6: { src: string; dst: string }): Uint8Array[][] {
  const swarm = [
    { ip: '203.0.113.21', port: 51413 },
    { ip: '198.51.100.22', port: 6881 },
  ];
  const out = (ends: { src: string; dst: string }, sport: number, dport: number): { src: string; dst: string; sport: number; dport: number } => ({ ...ends, sport, dport });
  const back = (ends: { src: string; dst: string }, sport: number, dport: number): { src: string; dst: string; sport: number; dport: number } => ({ src: ends.dst, dst: ends.src, sport: dport, dport: sport });
  const handshake = bt.handshake();
  const reply = bt.announceResponse({ peers: swarm, peers6: [{ ip: '2001:db8::21', port: 51413 }] });
  const opening = bt.utpOpening();
  return [
    [udp({ ...out(v4, 6881, 6881), payload: bt.dhtQuery() }), udp({ ...back(v4, 6881, 6881), payload: bt.dhtReply({ ip: swarm[0], nodes: swarm, values: swarm }) })],
    [udp({ ...out(v6, 6881, 6881), payload: bt.dhtQuery({ method: 'find_node' }) }), udp({ ...back(v6, 6881, 6881), payload: bt.dhtReply({ nodes6: [{ ip: '2001:db8::43', port: 6881 }] }) })],
    [
      tcp({ ...out(v4, 40100, 6969), flags: SYN, seq: 999 }),
      tcp({ ...out(v4, 40100, 6969), flags: ACK | PSH, seq: 1000, payload: bt.announceRequest() }),
      tcp({ ...back(v4, 40100, 6969), flags: ACK | PSH, seq: 5000, payload: reply.subarray(0, 70) }),
      tcp({ ...back(v4, 40100, 6969), flags: ACK | PSH, seq: 5070, payload: reply.subarray(70) }),
    ],
    [
      udp({ ...out(v4, 40101, 6969), payload: bt.udpTrackerConnect(7) }),
      udp({ ...back(v4, 40101, 6969), payload: bt.udpTrackerConnectResponse(7) }),
      udp({ ...out(v4, 40101, 6969), payload: bt.udpTrackerAnnounce({ transactionId: 8 }) }),
      udp({ ...back(v4, 40101, 6969), payload: bt.udpTrackerAnnounceResponse({ transactionId: 8, peers: swarm }) }),
    ],
    [udp({ ...out(v4, 40102, 40103), payload: opening.syn }), udp({ ...back(v4, 40102, 40103), payload: opening.state }), udp({ ...out(v4, 40102, 40103), payload: opening.data })],
    [
      tcp({ ...out(v6, 40104, 51413), flags: ACK | PSH, seq: 1000, payload: handshake.subarray(0, 1) }),
      tcp({ ...out(v6, 40104, 51413), flags: ACK | PSH, seq: 1001, payload: handshake.subarray(1) }),
      tcp({ ...back(v6, 40104, 51413), flags: ACK | PSH, seq: 7000, payload: bt.pexMessage({ added: swarm }) }),
    ],
    [udp({ src: v4.src, dst: bt.LSD_IPV4_GROUP, sport: 6771, dport: 6771, payload: bt.lsdSearch() })],
  ];
}

/**
 * An endless, seeded source of frames. Three in ten are random bytes (half steered past the IP
 * version check); the rest are seed sequences, each packet maybe cut and flipped, the sequence
 * maybe reordered, and each packet raw or in Ethernet with zero to two VLAN tags.
 */
export function fuzzFrames(seed: number): () => FuzzFrame {
  const next = seededRandom(seed);
  const sequences = seedSequences(next);
  const queue: FuzzFrame[] = [];
  const int = (below: number): number => Math.floor(next() * below);

  const dress = (ip: Uint8Array): FuzzFrame => {
    if (next() < 0.5) return { linkType: LINKTYPE_RAW, data: ip };
    const vlans = next() < 0.7 ? [] : next() < 0.5 ? [int(4095)] : [int(4095), int(4095)];
    return { linkType: LINKTYPE_ETHERNET, data: ethernet(ip, vlans) };
  };
  const mutate = (data: Uint8Array): Uint8Array => {
    const cut = next() < 0.2 ? int(data.length) : data.length;
    const out = data.slice(0, cut);
    const flips = next() < 0.3 ? 0 : 1 + int(4);
    for (let f = 0; f < flips && out.length > 0; f++) out[int(out.length)] = int(256);
    return out;
  };

  return () => {
    const queued = queue.shift();
    if (queued !== undefined) return queued;
    if (next() < 0.3) {
      const data = new Uint8Array(int(120));
      for (let j = 0; j < data.length; j++) data[j] = int(256);
      if (data.length > 0 && next() < 0.5) data[0] = next() < 0.5 ? 0x45 : 0x60;
      return { linkType: next() < 0.8 ? LINKTYPE_RAW : LINKTYPE_ETHERNET, data };
    }
    const sequence = sequences[int(sequences.length)]!.map((ip) => dress(ip));
    // One packet of the sequence (its link header too) is mutated; sometimes two swap places.
    const victim = int(sequence.length);
    sequence[victim] = { linkType: sequence[victim]!.linkType, data: mutate(sequence[victim]!.data) };
    if (sequence.length > 1 && next() < 0.2) {
      const a = int(sequence.length);
      const b = int(sequence.length);
      [sequence[a], sequence[b]] = [sequence[b]!, sequence[a]!];
    }
    queue.push(...sequence.slice(1));
    return sequence[0]!;
  };
}

/** A frame that made the path throw: everything needed to replay it. */
export class FuzzFailure extends Error {
  constructor(
    readonly seed: number,
    readonly index: number,
    readonly frame: FuzzFrame,
    override readonly cause: unknown,
  ) {
    super(`fuzz seed ${seed}, frame ${index} (link type ${frame.linkType}, ${Buffer.from(frame.data).toString('hex')}): ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
  }
}

export interface FuzzReport {
  seed: number;
  frames: number;
  /** Frames whose link header was unreadable, and frames that carried no IP packet. */
  linkMalformed: number;
  notIp: number;
  /** What decodeIp said of the IP packets. */
  decoded: { ok: number; malformed: number; laterFragment: number };
  verdicts: { accept: number; drop: number };
  engine: { packets: number; malformed: number; notIp: number; laterFragments: number; flows: number; evidence: number; peers: number; clients: number; moduleBuffersRefused: number };
  events: number;
  /** Flows and module buffer bytes left after the final flush: both must be 0. */
  flowsLeft: number;
  moduleBufferBytesLeft: number;
  seconds: number;
}

/**
 * Runs `frames` fuzzed frames through locateIp, decodeIp and Engine.judgeIp, as analyze does, and
 * flushes the engine. Throws FuzzFailure for the first frame that throws or gets no valid verdict.
 */
export function fuzzEngine(options: { frames: number; seed: number }): FuzzReport {
  const { frames, seed } = options;
  let events = 0;
  const engine = new Engine({ inside: new CidrSet(['192.168.0.0/16', 'fd00::/8']), maxFlows: 4096, maxPeers: 4096, moduleBufferBytes: 256 * 1024 }, () => {
    events++;
  });
  const nextFrame = fuzzFrames(seed);
  const view = new PacketView();
  const report: FuzzReport = {
    seed,
    frames,
    linkMalformed: 0,
    notIp: 0,
    decoded: { ok: 0, malformed: 0, laterFragment: 0 },
    verdicts: { accept: 0, drop: 0 },
    engine: { packets: 0, malformed: 0, notIp: 0, laterFragments: 0, flows: 0, evidence: 0, peers: 0, clients: 0, moduleBuffersRefused: 0 },
    events: 0,
    flowsLeft: 0,
    moduleBufferBytesLeft: 0,
    seconds: 0,
  };
  const started = process.hrtime.bigint();
  let now = 1_700_000_000_000;
  for (let i = 0; i < frames; i++) {
    const frame = nextFrame();
    try {
      const data = frame.data;
      const offset = locateIp(frame.linkType, data);
      now += (i % 7) * 3;
      if (offset === LINK_MALFORMED) {
        report.linkMalformed++;
        engine.countMalformedFrame();
        continue;
      }
      if (offset === LINK_NOT_IP) {
        report.notIp++;
        engine.countNotIp();
        continue;
      }
      const status = decodeIp(view, data, offset, data.length);
      if (status === DecodeStatus.ok) report.decoded.ok++;
      else if (status === DecodeStatus.malformed) report.decoded.malformed++;
      else report.decoded.laterFragment++;
      const verdict = engine.judgeIp(data, offset, data.length, now);
      if (verdict === Verdict.accept) report.verdicts.accept++;
      else if (verdict === Verdict.drop) report.verdicts.drop++;
      else throw new Error(`verdict ${String(verdict)}`);
    } catch (error) {
      throw new FuzzFailure(seed, i, frame, error);
    }
  }
  engine.flush(now);
  const c = engine.counters;
  report.engine = { packets: c.packets, malformed: c.malformed, notIp: c.notIp, laterFragments: c.laterFragments, flows: c.flows, evidence: c.evidence, peers: c.peers, clients: c.clients, moduleBuffersRefused: c.moduleBuffersRefused };
  report.events = events;
  report.flowsLeft = engine.flows.size;
  report.moduleBufferBytesLeft = engine.moduleBuffers.held;
  report.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return report;
}
