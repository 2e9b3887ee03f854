/**
 * Crafted captures for DESIGN principle 6: untrusted input cannot choose what is blocked.
 *
 * Each `attack-*` scenario is traffic an outsider (or an inside user) can produce to make the
 * sensor identify an innocent inside host, or learn as a "peer" an address it must never block
 * (a public resolver, a CDN, an inside address, loopback, broadcast ...). The packets are real
 * and well formed, built like the other synthetic scenarios. After each attack the victim goes
 * on with ordinary traffic (DNS, HTTPS, a connection to a high port, STUN), so a capture shows
 * the harm when a host was locked or a service learned as a peer: those flows are dropped.
 *
 * The rules the engine must follow (what the scenarios' expectations encode):
 * - what arrives unsolicited from outside never identifies an inside host;
 * - a reply identifies only as a reply to the same protocol's evidence the inside host sent
 *   earlier in the same flow (a pong answers a ping);
 * - a peer named inside a payload is learned only on a flow that is already that protocol's by
 *   the inside host's own traffic;
 * - learned peers are never inside, loopback, link-local, multicast, broadcast, unspecified or
 *   reserved (240/4) addresses, and a peer named in a payload is never on a port below 1024.
 *
 * 8.8.8.8, 8.8.4.4 and 1.1.1.1 stand for the public services an attacker would most like to
 * see blocked. They appear only inside these offline captures: nothing here sends traffic.
 */
import { hashRequest, giveLine, nodePing, nodePong, nodePong2, uploadReply } from '../fasttrack/payloads.js';
import { udp } from '../packets.js';
import type { Scenario } from './scenarios.js';
import { TcpConversation } from './tcp-conversation.js';
import { SYNTHETIC_EPOCH, Timeline, endpoint } from './timeline.js';

interface Endpoint {
  ip: string;
  port: number;
}

/** An ordinary inside host (the lab's benign client): the victim of most attacks. */
const VICTIM = '192.168.1.20';
const VICTIM_V6 = 'fd00::20';
/** An inside server published to the internet (a web server behind the gateway). */
const PUBLISHED_SERVER: Endpoint = { ip: '192.168.1.10', port: 80 };
/** A genuine FastTrack client inside: the named-peer attacks ride on its own flows. */
const GENUINE_CLIENT = '192.168.1.21';
/**
 * The attacker's address outside. Outside addresses here stay clear of kazaa-startup's peer
 * cache (203.0.113.1–100, 198.51.100.1–100), so the scenarios can run beside it.
 */
const ATTACKER = '203.0.113.166';
/** An ordinary web server outside that the victim browses; its replies are the attack. */
const WEB_SERVER: Endpoint = { ip: '203.0.113.180', port: 80 };
const WEB_SERVER_V6: Endpoint = { ip: '2001:db8::180', port: 80 };
/** The public services the attacker names, and the victim's resolver. */
const RESOLVER = '8.8.8.8';
const RESOLVER_2 = '8.8.4.4';
const CDN = '1.1.1.1';

// ---------------------------------------------------------------------------------------------
// Ordinary payloads: a browser's request, a web server's reply, DNS, TLS and STUN.

type Headers = readonly (readonly [string, string])[];

function httpHead(startLine: string, headers: Headers): string {
  return `${startLine}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/** What a browser sends for a page: nothing FastTrack about it. */
function browserRequest(host: string, path = '/'): string {
  return httpHead(`GET ${path} HTTP/1.1`, [
    ['Host', host],
    ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['Accept-Language', 'en-US,en;q=0.5'],
    ['Accept-Encoding', 'gzip, deflate'],
    ['Connection', 'keep-alive'],
  ]);
}

const PAGE = '<!doctype html>\n<html><head><title>Example</title></head><body><p>Hello.</p></body></html>\n';

/** A web server's `200 OK` with a page, and whatever extra header lines the attacker adds. */
function webReply(extraHeaders: Headers = [], status = '200 OK'): string {
  const headers: (readonly [string, string])[] = [
    ['Date', 'Thu, 01 Jan 2026 00:00:00 GMT'],
    ['Server', 'Apache/2.4.62 (Debian)'],
    ['Content-Type', 'text/html; charset=utf-8'],
    ['Content-Length', String(PAGE.length)],
    ...extraHeaders,
  ];
  return httpHead(`HTTP/1.1 ${status}`, headers) + PAGE;
}

/** The attack of scenario 1: an ordinary page whose reply names two public services as FastTrack nodes. */
const NAMING_HEADERS: Headers = [
  ['X-Kazaa-SupernodeIP', endpoint(RESOLVER, 53)],
  ['X-Kazaa-IP', endpoint(CDN, 443)],
];

function dnsName(name: string): number[] {
  return [...name.split('.').flatMap((label) => [label.length, ...Buffer.from(label, 'latin1')]), 0];
}

/** A recursive DNS query for an A record. */
function dnsQuery(id: number, name: string): Uint8Array {
  return Uint8Array.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName(name), 0, 1, 0, 1]);
}

/** The answer to dnsQuery: the question again and one A record (TTL 300). */
function dnsAnswer(id: number, name: string, address: string): Uint8Array {
  const rdata = address.split('.').map(Number);
  return Uint8Array.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...dnsName(name), 0, 1, 0, 1, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, ...rdata]);
}

function filler(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => (seed * 31 + i * 17) & 0xff);
}

/** A TLS 1.2 ClientHello record: one cipher suite, no extensions. */
function tlsClientHello(seed = 1): Uint8Array {
  const body = [0x03, 0x03, ...filler(32, seed), 0x00, 0x00, 0x02, 0xc0, 0x2f, 0x01, 0x00, 0x00, 0x00];
  return Uint8Array.from([0x16, 0x03, 0x01, 0x00, body.length + 4, 0x01, 0x00, 0x00, body.length, ...body]);
}

/** A TLS 1.2 ServerHello record choosing that suite. */
function tlsServerHello(seed = 2): Uint8Array {
  const body = [0x03, 0x03, ...filler(32, seed), 0x00, 0xc0, 0x2f, 0x00, 0x00, 0x00];
  return Uint8Array.from([0x16, 0x03, 0x03, 0x00, body.length + 4, 0x02, 0x00, 0x00, body.length, ...body]);
}

const STUN_MAGIC = [0x21, 0x12, 0xa4, 0x42];

/** A STUN Binding Request (RFC 5389): 20-byte header, no attributes. */
function stunBindingRequest(transaction: number): Uint8Array {
  return Uint8Array.from([0x00, 0x01, 0x00, 0x00, ...STUN_MAGIC, ...filler(12, transaction)]);
}

/** Its success response with an XOR-MAPPED-ADDRESS (IPv4). */
function stunBindingSuccess(transaction: number, mapped: Endpoint): Uint8Array {
  const port = mapped.port ^ 0x2112;
  const address = mapped.ip.split('.').map((octet, i) => Number(octet) ^ STUN_MAGIC[i]!);
  return Uint8Array.from([0x01, 0x01, 0x00, 0x0c, ...STUN_MAGIC, ...filler(12, transaction), 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, port >> 8, port & 0xff, ...address]);
}

// ---------------------------------------------------------------------------------------------
// Building blocks.

/** A whole TCP exchange the inside host opens: handshake, request, reply (in segments cut at `replyCuts`), close. */
function exchange(timeline: Timeline, conversation: TcpConversation, request: Uint8Array | string | null, reply: Uint8Array | string | null, replyCuts: readonly number[] = []): void {
  timeline.add([conversation.syn(), conversation.synAck(), conversation.ack()]);
  if (request !== null) timeline.add(conversation.send(true, request));
  if (reply !== null) timeline.add(conversation.send(false, reply, replyCuts));
  timeline.add([conversation.fin(true), conversation.fin(false)]);
}

interface Neighbours {
  resolver: string;
  https: string;
  /** A service on a high port (not an open port): what a locked host can no longer reach. */
  highPort: Endpoint;
  stun: Endpoint;
}

const NEIGHBOURS_V4: Neighbours = { resolver: RESOLVER, https: CDN, highPort: { ip: '203.0.113.141', port: 8443 }, stun: { ip: '198.51.100.142', port: 3478 } };
const NEIGHBOURS_V6: Neighbours = { resolver: '2001:db8::53', https: '2001:db8::443', highPort: { ip: '2001:db8::99', port: 8443 }, stun: { ip: '2001:db8::98', port: 3478 } };

/**
 * What an ordinary host does next: asks its resolver, opens HTTPS to the CDN, reaches a service
 * on a high port, asks a STUN server, and fetches a page from `web` again. Every packet of it
 * must pass; a locked host or a learned resolver/CDN shows here as dropped flows.
 */
function ordinaryTraffic(timeline: Timeline, host: string, firstPort: number, neighbours: Neighbours, web: Endpoint | null): void {
  timeline.wait(1000);
  const id = firstPort & 0xffff;
  timeline.add(udp({ src: host, dst: neighbours.resolver, sport: firstPort, dport: 53, payload: dnsQuery(id, 'www.example.com') }));
  timeline.add(udp({ src: neighbours.resolver, dst: host, sport: 53, dport: firstPort, payload: dnsAnswer(id, 'www.example.com', WEB_SERVER.ip) }), 20);
  exchange(timeline, new TcpConversation(host, firstPort + 1, neighbours.https, 443, 0x3000_0000), tlsClientHello(), tlsServerHello());
  exchange(timeline, new TcpConversation(host, firstPort + 2, neighbours.highPort.ip, neighbours.highPort.port, 0x3100_0000), tlsClientHello(3), tlsServerHello(4));
  const mapped = { ip: '198.51.100.1', port: firstPort + 3 };
  timeline.add(udp({ src: host, dst: neighbours.stun.ip, sport: firstPort + 3, dport: neighbours.stun.port, payload: stunBindingRequest(7) }));
  timeline.add(udp({ src: neighbours.stun.ip, dst: host, sport: neighbours.stun.port, dport: firstPort + 3, payload: stunBindingSuccess(7, mapped) }), 20);
  if (web) exchange(timeline, new TcpConversation(host, firstPort + 4, web.ip, web.port, 0x3200_0000), browserRequest('www.example.com', '/next.html'), webReply());
}

const NOTHING = { clients: [], peers: [] };

function scenario(name: string, description: string, timeline: Timeline, expected: Scenario['expected'] = NOTHING): Scenario {
  return { name, description, frames: timeline.frames, expected };
}

// ---------------------------------------------------------------------------------------------
// Replies to ordinary requests.

/** The victim browses a web page: a plain GET, answered by a `200 OK` that carries `extraHeaders`. */
function browse(timeline: Timeline, reply: string, replyCuts: readonly number[] = [], host = VICTIM, web = WEB_SERVER): void {
  exchange(timeline, new TcpConversation(host, 50100, web.ip, web.port), browserRequest('www.example.com'), reply, replyCuts);
}

/** Attack 1: a web reply names the resolver and the CDN as FastTrack nodes. */
export function attackWebReply(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  browse(timeline, webReply(NAMING_HEADERS));
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario(
    'attack-web-reply',
    `${VICTIM} GETs / from ${endpoint(WEB_SERVER.ip, WEB_SERVER.port)}; the 200 OK carries X-Kazaa-SupernodeIP: ${endpoint(RESOLVER, 53)} and X-Kazaa-IP: ${endpoint(CDN, 443)}; then ordinary traffic`,
    timeline,
  );
}

/** Attack 1 with the reply's head split over five segments (the status line's first byte alone, header names and an address cut). */
export function attackWebReplySplit(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  const reply = webReply(NAMING_HEADERS);
  const cuts = [1, reply.indexOf('X-Kazaa-Supe') + 12, reply.indexOf(RESOLVER) + 4, reply.indexOf('X-Kazaa-IP') + 5];
  browse(timeline, reply, cuts);
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-web-reply-split', 'attack-web-reply with the reply head split across five TCP segments', timeline);
}

/** Attack 1 with the fullest FastTrack head a reply can carry: giFT's upload reply (Server: KazaaClient, X-Kazaa-*, X-KazaaTag). */
export function attackWebReplyKazaaHead(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  browse(timeline, uploadReply({ status: '200 OK', kazaaIp: endpoint(CDN, 443), supernodeIp: endpoint(RESOLVER, 53), contentLength: PAGE.length, body: PAGE }));
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-web-reply-kazaa-head', 'a plain GET answered by a complete Kazaa upload reply head naming the resolver and the CDN', timeline);
}

/** The server speaks first: the victim opened the connection but sent nothing before the reply. */
export function attackWebReplyBeforeRequest(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  const conversation = new TcpConversation(VICTIM, 50100, WEB_SERVER.ip, WEB_SERVER.port);
  timeline.add([conversation.syn(), conversation.synAck(), conversation.ack()]);
  timeline.add(conversation.send(false, webReply(NAMING_HEADERS)));
  timeline.add(conversation.send(true, browserRequest('www.example.com')));
  timeline.add([conversation.fin(true), conversation.fin(false)]);
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-web-reply-before-request', 'the web server sends the naming 200 OK right after the handshake, before the victim\'s GET', timeline);
}

/** Addresses that must never become peers, on high ports so that only the address decides. */
export const NEVER_PEERS: readonly string[] = [
  '192.168.1.1:1214', // inside (the gateway's LAN address)
  '10.1.2.3:1214', // inside
  '172.16.0.1:1214', // inside
  '100.64.0.1:1214', // inside (shared address space, inside by default)
  `${VICTIM}:1214`, // the victim itself
  '127.0.0.1:1214', // loopback
  '169.254.1.1:1214', // link-local
  '224.0.0.251:1214', // multicast
  '239.255.255.250:1900', // multicast (SSDP)
  '255.255.255.255:1214', // broadcast
  '0.0.0.0:1214', // unspecified
  '240.0.0.1:1214', // reserved
];

/** A web reply naming inside, loopback, link-local, multicast, broadcast, unspecified and reserved addresses. */
export function attackWebReplyBogusPeers(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  browse(timeline, webReply(NEVER_PEERS.map((peer, i) => [i % 2 === 0 ? 'X-Kazaa-IP' : 'X-Kazaa-SupernodeIP', peer] as const)));
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-web-reply-bogus-peers', `a plain GET answered by a 200 OK whose X-Kazaa-IP/SupernodeIP lines name ${NEVER_PEERS.join(', ')}`, timeline);
}

/** Attack 1 over IPv6. */
export function attackWebReplyV6(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  browse(timeline, webReply(NAMING_HEADERS), [], VICTIM_V6, WEB_SERVER_V6);
  ordinaryTraffic(timeline, VICTIM_V6, 51000, NEIGHBOURS_V6, WEB_SERVER_V6);
  return scenario('attack-web-reply-v6', `attack-web-reply over IPv6: ${VICTIM_V6} browses [${WEB_SERVER_V6.ip}]:80`, timeline);
}

/** Attack 2: the answer to the victim's DNS query is a FastTrack node pong (0x28, KaZaA, 17 bytes). */
export function attackDnsPong(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  timeline.add(udp({ src: VICTIM, dst: RESOLVER, sport: 53002, dport: 53, payload: dnsQuery(0x4242, 'www.example.com') }));
  timeline.add(udp({ src: RESOLVER, dst: VICTIM, sport: 53, dport: 53002, payload: nodePong() }), 20);
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-dns-pong', `${VICTIM} asks ${RESOLVER}:53 for www.example.com; the answer is a 17-byte KaZaA node pong`, timeline);
}

/** Attack 2, then pong-2s (0x29) on the same DNS flow naming a node on a high port and the CDN. */
export function attackDnsPong2(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  timeline.add(udp({ src: VICTIM, dst: RESOLVER, sport: 53002, dport: 53, payload: dnsQuery(0x4242, 'www.example.com') }));
  timeline.add(udp({ src: RESOLVER, dst: VICTIM, sport: 53, dport: 53002, payload: nodePong() }), 20);
  timeline.add(udp({ src: RESOLVER, dst: VICTIM, sport: 53, dport: 53002, payload: nodePong2({ node: { ip: '198.51.100.143', port: 1214 } }) }));
  timeline.add(udp({ src: RESOLVER, dst: VICTIM, sport: 53, dport: 53002, payload: nodePong2({ node: { ip: CDN, port: 443 } }) }));
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-dns-pong2', `attack-dns-pong, then two 21-byte pong-2s from ${RESOLVER}:53 naming 198.51.100.143:1214 and ${CDN}:443`, timeline);
}

/** A node pong answers the victim's STUN binding request on a high port. */
export function attackStunPong(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  const stun = { ip: '198.51.100.140', port: 3478 };
  timeline.add(udp({ src: VICTIM, dst: stun.ip, sport: 40000, dport: stun.port, payload: stunBindingRequest(1) }));
  timeline.add(udp({ src: stun.ip, dst: VICTIM, sport: stun.port, dport: 40000, payload: nodePong() }), 20);
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-stun-pong', `${VICTIM}:40000 sends a STUN binding request to ${endpoint(stun.ip, stun.port)}; the answer is a KaZaA node pong`, timeline);
}

// ---------------------------------------------------------------------------------------------
// Unsolicited from outside.

/** A visitor's ordinary page fetch from the published server, as the attacker's address and another. */
function visitors(timeline: Timeline): void {
  timeline.wait(500);
  for (const [i, visitor] of [ATTACKER, '203.0.113.167'].entries()) {
    exchange(timeline, new TcpConversation(visitor, 4400 + i, PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port, 0x4000_0000 * (i + 1)), browserRequest('www.example.org'), webReply());
  }
}

const KAZAA_REQUEST = hashRequest({ host: endpoint(PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port), kazaaIp: endpoint(CDN, 443), supernodeIp: endpoint(RESOLVER, 53) });

/** Attack 3: one TCP segment, no handshake, carrying a Kazaa download request to the published server. */
export function attackInboundHash(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  timeline.add(new TcpConversation(ATTACKER, 4321, PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port).send(true, KAZAA_REQUEST));
  ordinaryTraffic(timeline, PUBLISHED_SERVER.ip, 51000, NEIGHBOURS_V4, null);
  visitors(timeline);
  return scenario(
    'attack-inbound-hash',
    `one unsolicited segment ${ATTACKER}:4321 > ${endpoint(PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port)}: GET /.hash=<40 hex> with Kazaa headers naming ${RESOLVER}:53 and ${CDN}:443; then the server's own traffic and two visitors`,
    timeline,
  );
}

/** Attack 3 over a completed handshake; the web server answers 404. */
export function attackInboundHashHandshake(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  exchange(timeline, new TcpConversation(ATTACKER, 4322, PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port), KAZAA_REQUEST, webReply([], '404 Not Found'));
  ordinaryTraffic(timeline, PUBLISHED_SERVER.ip, 51000, NEIGHBOURS_V4, null);
  visitors(timeline);
  return scenario('attack-inbound-hash-handshake', 'attack-inbound-hash over a completed handshake, answered 404 by the published server', timeline);
}

/**
 * A push line (`GIVE <id>`) sent into the published server over a completed handshake. The
 * `push` scenario has the same shape (an outsider connects in and sends GIVE) and still expects
 * its inside host identified: under "unsolicited from outside never identifies" it cannot.
 */
export function attackInboundGive(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  const conversation = new TcpConversation(ATTACKER, 4323, PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port);
  timeline.add([conversation.syn(), conversation.synAck(), conversation.ack()]);
  timeline.add(conversation.send(true, giveLine(3735928559)));
  timeline.add([conversation.fin(true), conversation.fin(false)]);
  ordinaryTraffic(timeline, PUBLISHED_SERVER.ip, 51000, NEIGHBOURS_V4, null);
  visitors(timeline);
  return scenario('attack-inbound-give', `${ATTACKER}:4323 connects to ${endpoint(PUBLISHED_SERVER.ip, PUBLISHED_SERVER.port)} and sends GIVE 3735928559`, timeline);
}

/** An unsolicited node ping into the victim, then a pong-2 on that flow naming the resolver. */
export function attackInboundUdpPing(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  timeline.add(udp({ src: ATTACKER, dst: VICTIM, sport: 3531, dport: 3531, payload: nodePing() }));
  timeline.add(udp({ src: ATTACKER, dst: VICTIM, sport: 3531, dport: 3531, payload: nodePong2({ node: { ip: RESOLVER, port: 53 } }) }));
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-inbound-udp-ping', `an unsolicited KaZaA node ping ${ATTACKER}:3531 > ${VICTIM}:3531, then a pong-2 naming ${RESOLVER}:53`, timeline);
}

/** An unsolicited node pong into the victim's high port. */
export function attackInboundUdpPong(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  timeline.add(udp({ src: ATTACKER, dst: VICTIM, sport: 3531, dport: 40001, payload: nodePong() }));
  ordinaryTraffic(timeline, VICTIM, 51000, NEIGHBOURS_V4, WEB_SERVER);
  return scenario('attack-inbound-udp-pong', `an unsolicited KaZaA node pong ${ATTACKER}:3531 > ${VICTIM}:40001`, timeline);
}

// ---------------------------------------------------------------------------------------------
// Peers named on a genuine client's own FastTrack flows: the client is caught, the names are not all peers.

const UPLOADER: Endpoint = { ip: '203.0.113.150', port: 2150 };

/** A genuine download: the client's Kazaa request (naming `requestNames`), the uploader's reply naming `replyNames`. */
function download(timeline: Timeline, clientPort: number, requestNames: { kazaaIp?: string; supernodeIp?: string }, replyNames: { kazaaIp: string | null; supernodeIp: string | null }): void {
  const request = hashRequest({ host: endpoint(UPLOADER.ip, UPLOADER.port), ...requestNames });
  const reply = uploadReply({ ...replyNames, body: 'ID3' });
  exchange(timeline, new TcpConversation(GENUINE_CLIENT, clientPort, UPLOADER.ip, UPLOADER.port, clientPort * 0x10000), request, reply);
}

/** The client pings a node, which answers with a pong and then pong-2s naming `named` nodes. */
function pingNode(timeline: Timeline, node: Endpoint, named: readonly Endpoint[]): void {
  timeline.add(udp({ src: GENUINE_CLIENT, dst: node.ip, sport: 3531, dport: node.port, payload: nodePing() }));
  timeline.add(udp({ src: node.ip, dst: GENUINE_CLIENT, sport: node.port, dport: 3531, payload: nodePong() }), 20);
  for (const other of named) timeline.add(udp({ src: node.ip, dst: GENUINE_CLIENT, sport: node.port, dport: 3531, payload: nodePong2({ node: other }) }));
}

/**
 * A genuine client whose own request names the resolver (port 53) as its supernode, and whose
 * uploader and node name public services on ports below 1024 (53, 443, 1023) beside real peers
 * on 1024 and above. Afterwards it uses those services normally: that traffic must pass.
 */
export function attackNamedPeersLowPort(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  const node = { ip: '203.0.113.151', port: 3151 };
  download(timeline, 46000, { supernodeIp: endpoint(RESOLVER, 53), kazaaIp: endpoint(GENUINE_CLIENT, 3531) }, { kazaaIp: endpoint(CDN, 443), supernodeIp: '198.51.100.161:1214' });
  download(timeline, 46001, {}, { kazaaIp: '203.0.113.162:1023', supernodeIp: '198.51.100.163:1024' });
  pingNode(timeline, node, [
    { ip: RESOLVER_2, port: 53 },
    { ip: '198.51.100.167', port: 1214 },
  ]);
  timeline.wait(1000);
  for (const [i, resolver] of [RESOLVER, RESOLVER_2].entries()) {
    timeline.add(udp({ src: GENUINE_CLIENT, dst: resolver, sport: 53010 + i, dport: 53, payload: dnsQuery(0x5000 + i, 'www.example.com') }));
    timeline.add(udp({ src: resolver, dst: GENUINE_CLIENT, sport: 53, dport: 53010 + i, payload: dnsAnswer(0x5000 + i, 'www.example.com', WEB_SERVER.ip) }), 20);
  }
  exchange(timeline, new TcpConversation(GENUINE_CLIENT, 51001, CDN, 443, 0x3000_0000), tlsClientHello(), tlsServerHello());
  exchange(timeline, new TcpConversation(GENUINE_CLIENT, 51002, '203.0.113.162', 1023, 0x3100_0000), browserRequest('203.0.113.162:1023'), webReply());
  return scenario(
    'attack-named-peers-low-port',
    `a genuine client ${GENUINE_CLIENT}: its request names ${RESOLVER}:53, the uploader's replies name ${CDN}:443 and 203.0.113.162:1023 (and real peers on 1214/1024), a node's pong-2 names ${RESOLVER_2}:53; then DNS, HTTPS and a port-1023 fetch to those services`,
    timeline,
    {
      clients: [GENUINE_CLIENT],
      peers: [endpoint(UPLOADER.ip, UPLOADER.port), '198.51.100.161:1214', '198.51.100.163:1024', endpoint(node.ip, node.port), '198.51.100.167:1214'],
      untouched: [RESOLVER, RESOLVER_2, CDN, '203.0.113.162'],
    },
  );
}

/**
 * A genuine client whose uploader names, one reply each, every address of NEVER_PEERS as its
 * supernode beside a real peer (so each reply is seen to be read), and whose node's pong-2s
 * name loopback, inside and broadcast addresses beside a real node.
 */
export function attackNamedPeersUnroutable(): Scenario {
  const timeline = new Timeline(SYNTHETIC_EPOCH);
  const marks = NEVER_PEERS.map((_, i) => endpoint(`198.51.100.${170 + i}`, 2170 + i));
  NEVER_PEERS.forEach((bogus, i) => download(timeline, 46000 + i, {}, { kazaaIp: marks[i]!, supernodeIp: bogus }));
  const node = { ip: '203.0.113.152', port: 3152 };
  pingNode(timeline, node, [
    { ip: '127.0.0.1', port: 1214 },
    { ip: '192.168.1.1', port: 1214 },
    { ip: '255.255.255.255', port: 1214 },
    { ip: '224.0.0.1', port: 1214 },
    { ip: '198.51.100.190', port: 2190 },
  ]);
  return scenario(
    'attack-named-peers-unroutable',
    `a genuine client ${GENUINE_CLIENT} whose uploader names inside, loopback, link-local, multicast, broadcast, unspecified and reserved supernodes, and whose node's pong-2s name loopback, inside, broadcast and multicast nodes`,
    timeline,
    { clients: [GENUINE_CLIENT], peers: [endpoint(UPLOADER.ip, UPLOADER.port), ...marks, endpoint(node.ip, node.port), '198.51.100.190:2190'] },
  );
}

/** Every attack, by scenario name. */
export const ATTACK_SCENARIOS: Record<string, () => Scenario> = {
  'attack-web-reply': attackWebReply,
  'attack-web-reply-split': attackWebReplySplit,
  'attack-web-reply-kazaa-head': attackWebReplyKazaaHead,
  'attack-web-reply-before-request': attackWebReplyBeforeRequest,
  'attack-web-reply-bogus-peers': attackWebReplyBogusPeers,
  'attack-web-reply-v6': attackWebReplyV6,
  'attack-dns-pong': attackDnsPong,
  'attack-dns-pong2': attackDnsPong2,
  'attack-stun-pong': attackStunPong,
  'attack-inbound-hash': attackInboundHash,
  'attack-inbound-hash-handshake': attackInboundHashHandshake,
  'attack-inbound-give': attackInboundGive,
  'attack-inbound-udp-ping': attackInboundUdpPing,
  'attack-inbound-udp-pong': attackInboundUdpPong,
  'attack-named-peers-low-port': attackNamedPeersLowPort,
  'attack-named-peers-unroutable': attackNamedPeersUnroutable,
};
