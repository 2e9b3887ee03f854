/**
 * A gateway's traffic mix, built in memory from the lab's packet builders: many inside hosts
 * browsing (short web conversations), resolving names and syncing clocks, a few long bulk
 * transfers carrying most of the bytes, and P2P clients (FastTrack, BitTorrent, Gnutella/G2,
 * eMule) the engine has to find and block. As on a real gateway, most packets belong to flows
 * already established.
 *
 * Outside addresses come only from the benchmark range 198.18.0.0/15 (web and bulk servers; its
 * 198.19.240.0/20 for Gnutella and eDonkey peers) and the documentation ranges 198.51.100.0/24 and
 * 203.0.113.0/24 (resolvers, NTP, FastTrack peers) and 192.0.2.0/24 (BitTorrent peers).
 */
import {
  ACK,
  SYNTHETIC_EPOCH,
  TcpConversation,
  ethernet,
  kazaaStartup,
  pushToClient,
  seededRandom,
  tcp,
  tcpOnlyClient,
  udp,
  type Scenario,
} from '@p2pwall/lab';
import { DEFAULT_BITTORRENT_MIX, addBitTorrentClient } from './bittorrent-mix.js';
import { DEFAULT_EDONKEY_MIX, addEdonkeyClient } from './edonkey-mix.js';
import { CaptureBuilder, type InMemoryCapture } from './frames.js';
import { DEFAULT_GNUTELLA_MIX, addGnutellaServent } from './gnutella-mix.js';

export interface MixOptions {
  seed: number;
  /** Simulated time the capture spans, ms. */
  durationMs: number;
  /** Ordinary inside hosts (10.1.0.0/16). */
  insideHosts: number;
  /** Distinct web servers (198.18.0.0/15), visited with a skewed popularity. */
  webServers: number;
  webConversations: number;
  dnsLookups: number;
  /** NTP exchanges per inside host. */
  ntpPerHost: number;
  bulkTransfers: number;
  /** Full-size data segments per bulk transfer (the receiver ACKs every second one). */
  bulkSegments: number;
  /** FastTrack clients doing a start-up flood (192.168.50.0/24), each with its own peer cache. */
  fastTrackClients: number;
  /** Of those, how many start their client a second time later on (new ports, new peers). */
  fastTrackRestarts: number;
  /** Clients found only by their clear-text download headers (192.168.60.0/24). */
  tcpOnlyClients: number;
  /** Clients an outside uploader pushes to (192.168.61.0/24). */
  pushedClients: number;
  /**
   * BitTorrent clients (192.168.70.0/24): LSD, DHT queries and replies, HTTP and UDP trackers,
   * uTP, clear-text and MSE-encrypted peer connections carrying piece data (bittorrent-mix.ts).
   */
  bitTorrentClients: number;
  /** Gnutella/G2 servents (192.168.80.0/24): UDP host-cache pings, G2 query keys, ultrapeer handshakes, downloads (gnutella-mix.ts). */
  gnutellaServents: number;
  /** eMule clients (192.168.90.0/24): Kad, an eDonkey server, clear and obfuscated sources (edonkey-mix.ts). */
  edonkeyClients: number;
}

export const DEFAULT_MIX: MixOptions = {
  seed: 20_260_101,
  durationMs: 180_000,
  insideHosts: 400,
  webServers: 4000,
  webConversations: 16_000,
  dnsLookups: 40_000,
  ntpPerHost: 2,
  bulkTransfers: 48,
  bulkSegments: 4000,
  fastTrackClients: 48,
  fastTrackRestarts: 12,
  tcpOnlyClients: 4,
  pushedClients: 4,
  bitTorrentClients: 32,
  gnutellaServents: 16,
  edonkeyClients: 16,
};

export interface MixPart {
  name: string;
  description: string;
  /** How many conversations, lookups, transfers, … (see `unit`). */
  count: number;
  unit: string;
  packets: number;
  bytes: number;
}

export interface GatewayMix {
  capture: InMemoryCapture;
  parts: MixPart[];
  insideHosts: number;
  outsideAddresses: number;
  /** Inside hosts the scenarios say are P2P clients. */
  expectedClients: Set<string>;
  options: MixOptions;
}

/** Frames of one part of the mix go through here, so the mix can be described by part. */
class Part {
  count = 0;
  packets = 0;
  bytes = 0;
  constructor(
    private readonly capture: CaptureBuilder,
    readonly name: string,
    readonly unit: string,
    readonly description: string,
  ) {}

  ip(ts: number, packets: Uint8Array | readonly Uint8Array[], stepMs = 0.05): number {
    for (const packet of packets instanceof Uint8Array ? [packets] : packets) {
      this.frame(ts, ethernet(packet));
      ts += stepMs;
    }
    return ts;
  }

  frame(ts: number, frame: Uint8Array): void {
    this.capture.add(ts, frame);
    this.packets++;
    this.bytes += frame.length;
  }

  scenario(scenario: Scenario): void {
    for (const { ts, data } of scenario.frames) this.frame(ts, data);
  }

  describe(): MixPart {
    return { name: this.name, description: this.description, count: this.count, unit: this.unit, packets: this.packets, bytes: this.bytes };
  }
}

/** The top of 198.19.0.0/16 (198.19.240.0/20) is the Gnutella and eDonkey parts' own. */
const SERVENTS_RANGE_START = 65_536 + (240 << 8);

/** An address in 198.18.0.0/15 outside the servents' range, never ending in .0 or .255. */
function benchmarkAddress(random: () => number): string {
  for (;;) {
    const k = Math.floor(random() * 131_072);
    const last = k & 255;
    if (last !== 0 && last !== 255 && k < SERVENTS_RANGE_START) return `198.${18 + (k >> 16)}.${(k >> 8) & 255}.${last}`;
  }
}

function filled(length: number, random: () => number, head: readonly number[] = []): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  bytes.set(head, 0);
  return bytes;
}

function text(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'latin1'));
}

const MSS = 1400;

export function buildGatewayMix(options: MixOptions = DEFAULT_MIX): GatewayMix {
  const random = seededRandom(options.seed);
  const capture = new CaptureBuilder();
  const start = SYNTHETIC_EPOCH;
  const duration = options.durationMs;
  const outside = new Set<string>();
  const at = (fraction: number): number => start + fraction * duration;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ephemeralPort = (): number => 32_768 + Math.floor(random() * 28_000);

  const hosts: string[] = [];
  for (let i = 0; i < options.insideHosts; i++) hosts.push(`10.1.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  const servers: string[] = [];
  const serverSet = new Set<string>();
  while (servers.length < options.webServers) {
    const address = benchmarkAddress(random);
    if (serverSet.has(address)) continue;
    serverSet.add(address);
    servers.push(address);
  }
  for (const server of servers) outside.add(server);
  // A few servers get most visits, as on any network.
  const popularServer = (): string => servers[Math.floor(random() ** 2.5 * servers.length)]!;

  // Payload templates, shared by reference: the builders copy them into each packet.
  const tlsHello = filled(517, random, [0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
  const tlsServerFirst = filled(MSS, random, [0x16, 0x03, 0x03, 0x00, 0x7a, 0x02]);
  const tlsRecords = filled(MSS, random, [0x17, 0x03, 0x03, 0x05, 0x6b]);
  const htmlBody = text('<!doctype html><html><head><title>p2pwall bench</title></head><body>'.padEnd(MSS, 'x'));
  const bulkBlock = filled(MSS, random, [0x17, 0x03, 0x03, 0x40, 0x00]);

  // --- Web: SYN, SYN-ACK, ACK, one request, a response of a few segments ACKed every second
  // segment, FINs. 70% HTTPS, the rest clear-text HTTP whose request and status line the
  // FastTrack detector reads (and must let pass).
  const web = new Part(capture, 'web', 'conversations', 'short HTTP/HTTPS conversations: handshake, request, response of 1–60 segments (mean ≈ 8), FINs');
  for (let c = 0; c < options.webConversations; c++) {
    const host = pick(hosts);
    const server = popularServer();
    const https = random() < 0.7;
    const port = https ? 443 : random() < 0.85 ? 80 : 8080;
    const rtt = 8 + random() * 70;
    const conversation = new TcpConversation(host, ephemeralPort(), server, port, Math.floor(random() * 0xffff_ffff));
    let t = at(random() * 0.98);
    t = web.ip(t, conversation.syn()) + rtt;
    t = web.ip(t, [conversation.synAck(), conversation.ack()]);
    const path = `/static/${c % 997}/item-${c}.html`;
    const request = https
      ? tlsHello
      : `GET ${path} HTTP/1.1\r\nHost: www${server.replaceAll('.', '-')}.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: text/html,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n`;
    t = web.ip(t, conversation.send(true, request)) + rtt + random() * 25;
    const segments = Math.min(60, 1 + Math.floor(-Math.log(1 - random()) * 7));
    for (let s = 0; s < segments; s++) {
      let payload: Uint8Array | string;
      if (s === 0) payload = https ? tlsServerFirst : `HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${segments * MSS}\r\n\r\n`;
      else payload = https ? tlsRecords : htmlBody;
      t = web.ip(t, conversation.send(false, payload), 0.3);
      if (s % 2 === 1 || s === segments - 1) t = web.ip(t, conversation.ack(), 0.3);
    }
    t = web.ip(t + rtt / 2, conversation.fin(true)) + rtt / 2;
    t = web.ip(t, conversation.fin(false)) + rtt / 2;
    web.ip(t, conversation.ack());
    web.count++;
  }

  // --- DNS: a query and its answer, each lookup from a fresh source port (a flow of its own).
  const resolvers = ['198.51.100.53', '198.51.100.54', '203.0.113.53'];
  for (const resolver of resolvers) outside.add(resolver);
  const dns = new Part(capture, 'dns', 'lookups', 'DNS lookups: one query and one answer, a new UDP flow each');
  for (let q = 0; q < options.dnsLookups; q++) {
    const host = pick(hosts);
    const resolver = pick(resolvers);
    const sport = 1024 + Math.floor(random() * 64_000);
    const label = `www${Math.floor(random() ** 2 * options.webServers)}`;
    const id = Math.floor(random() * 0xffff);
    const question = [label.length, ...Buffer.from(label, 'latin1'), 7, ...Buffer.from('example', 'latin1'), 0, 0, 1, 0, 1];
    const query = Uint8Array.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...question]);
    const answer = Uint8Array.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...question, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 18, q & 0xff, 1]);
    const t = at(random() * 0.99);
    dns.ip(t, udp({ src: host, dst: resolver, sport, dport: 53, payload: query }));
    dns.ip(t + 2 + random() * 40, udp({ src: resolver, dst: host, sport: 53, dport: sport, payload: answer }));
    dns.count++;
  }

  // --- NTP: client mode 3 from port 123, server mode 4 back.
  const ntpServer = '203.0.113.123';
  outside.add(ntpServer);
  const ntp = new Part(capture, 'ntp', 'exchanges', 'NTP exchanges (123 ↔ 123)');
  const ntpRequest = new Uint8Array(48);
  ntpRequest[0] = 0x23;
  const ntpReply = filled(48, random, [0x24, 0x02]);
  for (const host of hosts) {
    for (let n = 0; n < options.ntpPerHost; n++) {
      const t = at(random() * 0.99);
      ntp.ip(t, udp({ src: host, dst: ntpServer, sport: 123, dport: 123, payload: ntpRequest }));
      ntp.ip(t + 20 + random() * 30, udp({ src: ntpServer, dst: host, sport: 123, dport: 123, payload: ntpReply }));
      ntp.count++;
    }
  }

  // --- Bulk: long transfers, full-size segments spread over much of the capture; the receiver
  // ACKs every second segment. A quarter are uploads.
  const bulk = new Part(capture, 'bulk', 'transfers', `long bulk transfers (HTTPS, SSH, rsync): ${options.bulkSegments} × ${MSS}-byte segments each, ACK every 2nd; ¼ uploads`);
  for (let b = 0; b < options.bulkTransfers; b++) {
    const host = pick(hosts);
    const server = benchmarkAddress(random);
    outside.add(server);
    const port = pick([443, 443, 22, 873]);
    const upload = random() < 0.25;
    const isn = Math.floor(random() * 0xffff_ffff);
    const conversation = new TcpConversation(host, ephemeralPort(), server, port, isn);
    const sport = conversation.clientPort;
    let t = at(random() * 0.3);
    const span = duration * (0.4 + random() * 0.25);
    const gap = span / options.bulkSegments;
    t = bulk.ip(t, conversation.syn()) + 20;
    t = bulk.ip(t, [conversation.synAck(), conversation.ack()]);
    const serverIsn = (isn ^ 0x5a5a_5a5a) >>> 0;
    for (let s = 0; s < options.bulkSegments; s++) {
      bulk.ip(t, conversation.send(!upload, bulkBlock));
      if (s % 2 === 1) {
        // The receiver's bare ACK. The conversation only builds the client's; the server's
        // (for uploads) is built here, acknowledging what the client sent so far.
        const ackPacket = upload
          ? tcp({ src: server, dst: host, sport: port, dport: sport, flags: ACK, seq: (serverIsn + 1) >>> 0, ack: (isn + 1 + (s + 1) * MSS) >>> 0 })
          : conversation.ack();
        bulk.ip(t + gap / 2, ackPacket);
      }
      t += gap;
    }
    t = bulk.ip(t, conversation.fin(true)) + 20;
    bulk.ip(t, [conversation.fin(false), conversation.ack()]);
    bulk.count++;
  }

  // --- FastTrack: start-up floods (lab scenario kazaaStartup), each client with its own peer
  // cache ports and start time; some start again later. Plus TCP-only clients and pushes.
  const expectedClients = new Set<string>();
  const fastTrack = new Part(capture, 'fasttrack', 'scenarios', 'FastTrack clients: start-up floods (UDP pings to 200 cached peers, pongs, parallel and serial TCP connects, an HTTP download), restarts, TCP-only clients, pushes');
  const addScenario = (scenario: Scenario): void => {
    fastTrack.scenario(scenario);
    for (const client of scenario.expected.clients) expectedClients.add(client);
    for (const peer of scenario.expected.peers) outside.add(peer.slice(0, peer.lastIndexOf(':')));
    fastTrack.count++;
  };
  for (let c = 0; c < options.fastTrackClients; c++) {
    const client = `192.168.50.${10 + c}`;
    const first = at(random() * 0.6);
    addScenario(kazaaStartup({ client, clientPort: 1024 + Math.floor(random() * 60_000), seed: 1000 + c, start: first }));
    if (c < options.fastTrackRestarts) {
      const again = first + 20_000 + random() * (at(0.9) - first - 20_000);
      addScenario(kazaaStartup({ client, clientPort: 1024 + Math.floor(random() * 60_000), seed: 5000 + c, start: again }));
    }
  }
  for (let c = 0; c < options.tcpOnlyClients; c++) addScenario(tcpOnlyClient({ client: `192.168.60.${10 + c}`, start: at(random() * 0.9) }));
  for (let c = 0; c < options.pushedClients; c++) addScenario(pushToClient({ client: `192.168.61.${10 + c}`, start: at(random() * 0.9) }));

  const bitTorrent = new Part(
    capture,
    'bittorrent',
    'clients',
    `BitTorrent clients: LSD, ${DEFAULT_BITTORRENT_MIX.dhtQueries} DHT queries (70% answered), HTTP and UDP tracker announces, ${DEFAULT_BITTORRENT_MIX.utpPeers} uTP, ${DEFAULT_BITTORRENT_MIX.clearPeers} clear and ${DEFAULT_BITTORRENT_MIX.encryptedPeers} MSE peer connections with ${DEFAULT_BITTORRENT_MIX.pieceSegments} piece segments each`,
  );
  for (let c = 0; c < options.bitTorrentClients; c++) {
    const client = `192.168.70.${10 + (c % 240)}`;
    for (const address of addBitTorrentClient(bitTorrent, client, at(random() * 0.8), random, DEFAULT_BITTORRENT_MIX)) outside.add(address);
    expectedClients.add(client);
  }

  const gnutella = new Part(
    capture,
    'gnutella',
    'servents',
    `Gnutella/G2 servents: ${DEFAULT_GNUTELLA_MIX.udpPings} UDP pings (60% answered, pongs with IPP), ${DEFAULT_GNUTELLA_MIX.g2Hubs} G2 query-key requests, ${DEFAULT_GNUTELLA_MIX.ultrapeers} ultrapeer handshakes (half refused with X-Try-Ultrapeers, half carrying ${DEFAULT_GNUTELLA_MIX.descriptorsPerConnection} descriptors each way), ${DEFAULT_GNUTELLA_MIX.downloads} /uri-res/N2R? downloads of ${DEFAULT_GNUTELLA_MIX.downloadSegments} segments`,
  );
  for (let c = 0; c < options.gnutellaServents; c++) {
    const servent = `192.168.80.${10 + (c % 240)}`;
    for (const address of addGnutellaServent(gnutella, servent, at(random() * 0.8), random, DEFAULT_GNUTELLA_MIX)) outside.add(address);
    expectedClients.add(servent);
  }

  const edonkey = new Part(
    capture,
    'edonkey',
    'clients',
    `eMule clients: Kad bootstrap, ${DEFAULT_EDONKEY_MIX.kadHellos} Kad Hellos and ${DEFAULT_EDONKEY_MIX.kadLookups} lookups (70% answered with contacts), a server login with server list and sources, ${DEFAULT_EDONKEY_MIX.clearSources} clear and ${DEFAULT_EDONKEY_MIX.obfuscatedSources} obfuscated source connections with ${DEFAULT_EDONKEY_MIX.partSegments} data segments each`,
  );
  for (let c = 0; c < options.edonkeyClients; c++) {
    const client = `192.168.90.${10 + (c % 240)}`;
    for (const address of addEdonkeyClient(edonkey, client, at(random() * 0.8), random, DEFAULT_EDONKEY_MIX)) outside.add(address);
    expectedClients.add(client);
  }

  const parts = [web, dns, ntp, bulk, fastTrack, bitTorrent, gnutella, edonkey].map((part) => part.describe());
  return {
    capture: capture.build(),
    parts,
    insideHosts: hosts.length + expectedClients.size,
    outsideAddresses: outside.size,
    expectedClients,
    options,
  };
}
