import { hashRequest, nodePing, nodePong, nodePong2, sessionHello, sessionHelloReply, uploadReply, giveLine } from '../fasttrack/payloads.js';
import { udp } from '../packets.js';
import { ATTACK_SCENARIOS } from './attacks.js';
import { seededRandom } from './random.js';
import { TcpConversation } from './tcp-conversation.js';
import { SYNTHETIC_EPOCH, Timeline, endpoint, type SyntheticFrame } from './timeline.js';

export { SYNTHETIC_EPOCH, type SyntheticFrame };

/** What the engine must find in a scenario: hosts, and peers as `ip:port` (`ip:*` for a whole address). */
export interface Expectation {
  clients: string[];
  peers: string[];
  /** Outside addresses whose every flow must pass (services an attack names, for example). */
  untouched?: string[];
}

export interface Scenario {
  name: string;
  description: string;
  frames: SyntheticFrame[];
  expected: Expectation;
}

/**
 * The outside peers of a FastTrack client's cache: addresses from the documentation ranges
 * 203.0.113.0/24 and 198.51.100.0/24, listening on random high ports (Kazaa ≥ 2 picks them).
 */
export function peerCache(size: number, seed = 1): { ip: string; port: number }[] {
  if (size > 400) throw new RangeError('peerCache: at most 400 peers fit in the two documentation ranges used');
  const random = seededRandom(seed);
  const peers: { ip: string; port: number }[] = [];
  for (let i = 0; i < size; i++) {
    const ip = i % 2 === 0 ? `203.0.113.${1 + (i >> 1)}` : `198.51.100.${1 + (i >> 1)}`;
    peers.push({ ip, port: 1024 + Math.floor(random() * (65535 - 1024)) });
  }
  return peers;
}

export interface KazaaStartupOptions {
  client?: string;
  /** The client's UDP (and TCP listening) port. */
  clientPort?: number;
  cacheSize?: number;
  /** Every n-th peer of the cache answers the ping with a pong. */
  pongEvery?: number;
  network?: string;
  start?: number;
  seed?: number;
}

/**
 * ftwall's target behaviour (protocols README §1.4): a UDP node-ping flood to the whole peer
 * cache, pongs from some peers (one answers 0x29 naming another node), then parallel TCP
 * connects with the 12/8-byte encrypted handshake to peers that answered, then serial connects,
 * then a clear-text HTTP download from a peer found by search, naming the client's supernode.
 */
export function kazaaStartup(options: KazaaStartupOptions = {}): Scenario {
  const client = options.client ?? '192.168.1.5';
  const clientPort = options.clientPort ?? 3531;
  const cache = peerCache(options.cacheSize ?? 200, options.seed ?? 1);
  const pongEvery = options.pongEvery ?? 10;
  const network = options.network ?? 'KaZaA';
  const timeline = new Timeline(options.start ?? SYNTHETIC_EPOCH);
  const peers = new Set<string>();

  // Mode 1: the UDP flood; the pongs trickle back while it goes on.
  const answering = cache.filter((_, i) => i % pongEvery === 0);
  cache.forEach((peer, i) => {
    timeline.add(udp({ src: client, dst: peer.ip, sport: clientPort, dport: peer.port, payload: nodePing({ network }) }), 1);
    peers.add(endpoint(peer.ip, peer.port));
    const answered = cache[i - 3];
    if (i >= 3 && (i - 3) % pongEvery === 0 && answered) {
      timeline.add(udp({ src: answered.ip, dst: client, sport: answered.port, dport: clientPort, payload: nodePong({ network, load: 40 }) }), 1);
    }
  });
  const secondOpinion = cache[1]!;
  const referredNode = { ip: '198.51.100.250', port: 1214 };
  timeline.add(udp({ src: secondOpinion.ip, dst: client, sport: secondOpinion.port, dport: clientPort, payload: nodePong2({ node: referredNode }) }));
  peers.add(endpoint(referredNode.ip, referredNode.port));
  timeline.wait(200);

  // Mode 2: parallel TCP connects to the peers that answered; the first few complete the
  // encrypted handshake (12 bytes out, 8 back).
  const conversations = answering.slice(0, 10).map((peer, i) => new TcpConversation(client, 40000 + i, peer.ip, peer.port, 0x100000 * (i + 1)));
  for (const conversation of conversations) timeline.add(conversation.syn(), 0.5);
  for (const conversation of conversations.slice(0, 4)) {
    timeline.add([conversation.synAck(), conversation.ack()]);
    timeline.add(conversation.send(true, sessionHello()));
    timeline.add(conversation.send(false, sessionHelloReply()));
  }
  timeline.wait(3000);

  // Mode 3: one-at-a-time connects to the rest of the cache.
  cache.slice(1, 21).forEach((peer, i) => {
    timeline.add(new TcpConversation(client, 41000 + i, peer.ip, peer.port).syn(), 250);
  });

  // A download from a peer found by search: clear-text HTTP naming the client's supernode.
  const uploader = { ip: '203.0.113.200', port: 2121 };
  const supernode = { ip: '198.51.100.201', port: 1214 };
  const download = new TcpConversation(client, 42000, uploader.ip, uploader.port);
  timeline.add([download.syn(), download.synAck(), download.ack()]);
  timeline.add(download.send(true, hashRequest({ host: endpoint(uploader.ip, uploader.port), supernodeIp: endpoint(supernode.ip, supernode.port), kazaaIp: endpoint(client, clientPort) })));
  timeline.add(download.send(false, uploadReply({ kazaaIp: endpoint(uploader.ip, uploader.port), supernodeIp: '198.51.100.202:1214', body: 'ID3' })));
  timeline.add([download.fin(true), download.fin(false)]);
  peers.add(endpoint(uploader.ip, uploader.port));
  peers.add(endpoint(supernode.ip, supernode.port));
  peers.add('198.51.100.202:1214');

  return {
    name: 'kazaa-startup',
    description: `a ${network} client's start-up: UDP flood to ${cache.length} cached peers, pongs, parallel and serial TCP, an HTTP download`,
    frames: timeline.frames,
    expected: { clients: [client], peers: [...peers] },
  };
}

/**
 * A client whose UDP is off (a personal firewall): it connects by TCP, completes the encrypted
 * handshake with a peer nobody has learned yet (not evidence alone), then downloads over
 * clear-text HTTP with its request split across two segments; the headers name its supernode.
 */
export function tcpOnlyClient(options: { client?: string; start?: number } = {}): Scenario {
  const client = options.client ?? '192.168.1.6';
  const timeline = new Timeline(options.start ?? SYNTHETIC_EPOCH);
  const peer = { ip: '203.0.113.30', port: 1214 };
  const supernode = { ip: '198.51.100.40', port: 1214 };
  const session = new TcpConversation(client, 45000, peer.ip, peer.port);
  timeline.add([session.syn(), session.synAck(), session.ack()]);
  timeline.add(session.send(true, sessionHello()));
  timeline.add(session.send(false, sessionHelloReply()));
  timeline.wait(500);
  const download = new TcpConversation(client, 45001, peer.ip, peer.port, 0x2000_0000);
  timeline.add([download.syn(), download.synAck(), download.ack()]);
  const request = hashRequest({ host: endpoint(peer.ip, peer.port), supernodeIp: endpoint(supernode.ip, supernode.port), userAgent: 'Mozilla/4.0', username: 'carol' });
  timeline.add(download.send(true, request, [request.indexOf('X-Kazaa') + 4]));
  timeline.add(download.send(false, uploadReply({ kazaaIp: endpoint(peer.ip, peer.port), supernodeIp: null, body: 'data' })));
  return {
    name: 'tcp-only-client',
    description: 'a client with UDP disabled, caught by its clear-text HTTP download headers',
    frames: timeline.frames,
    expected: { clients: [client], peers: [endpoint(peer.ip, peer.port), endpoint(supernode.ip, supernode.port)] },
  };
}

/** A firewalled uploader outside connects in to an inside client and pushes `GIVE <id>`. */
export function pushToClient(options: { client?: string; start?: number } = {}): Scenario {
  const client = options.client ?? '192.168.1.7';
  const timeline = new Timeline(options.start ?? SYNTHETIC_EPOCH);
  const pusher = new TcpConversation('198.51.100.77', 4321, client, 1214);
  timeline.add([pusher.syn(), pusher.synAck(), pusher.ack()]);
  timeline.add(pusher.send(true, giveLine(3735928559)));
  // Then the HTTP exchange with the roles reversed: the inside client asks for the file. The GIVE
  // alone came unsolicited from outside and identifies nobody; the client's own request does.
  timeline.add(pusher.send(false, hashRequest({ host: '198.51.100.77:4321' })));
  return {
    name: 'push',
    description: 'a push (GIVE) from an outside uploader to an inside client, and the client\'s request',
    frames: timeline.frames,
    // The pusher called in from a random port, so its whole address is the peer.
    expected: { clients: [client], peers: ['198.51.100.77:*'] },
  };
}

/**
 * Ordinary traffic from inside hosts that must pass untouched: DNS, NTP, web, a bulk transfer.
 */
export function benignTraffic(options: { host?: string; start?: number; bulkSegments?: number } = {}): Scenario {
  const host = options.host ?? '192.168.1.20';
  const timeline = new Timeline(options.start ?? SYNTHETIC_EPOCH);
  const dnsQuery = Uint8Array.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0, 0, 1, 0, 1]);
  timeline.add(udp({ src: host, dst: '198.51.100.53', sport: 53001, dport: 53, payload: dnsQuery }));
  timeline.add(udp({ src: '198.51.100.53', dst: host, sport: 53, dport: 53001, payload: dnsQuery }));
  const ntp = new Uint8Array(48);
  ntp[0] = 0x23;
  timeline.add(udp({ src: host, dst: '198.51.100.123', sport: 123, dport: 123, payload: ntp }));
  const web = new TcpConversation(host, 50000, '203.0.113.80', 80);
  timeline.add([web.syn(), web.synAck(), web.ack()]);
  timeline.add(web.send(true, 'GET /index.html HTTP/1.1\r\nHost: www.example\r\nUser-Agent: curl/8.0\r\n\r\n'));
  timeline.add(web.send(false, 'HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\nA page that mentions X-Kazaa-Username: and GET /.hash= in text'));
  const bulk = new TcpConversation(host, 50001, '203.0.113.81', 8443);
  timeline.add([bulk.syn(), bulk.synAck(), bulk.ack()]);
  const block = new Uint8Array(1400).fill(0x61);
  for (let i = 0; i < (options.bulkSegments ?? 200); i++) timeline.add(bulk.send(false, block), 0.05);
  timeline.add([bulk.fin(true), bulk.fin(false)]);
  return { name: 'benign', description: 'DNS, NTP, web and a bulk transfer from an ordinary inside host', frames: timeline.frames, expected: { clients: [], peers: [] } };
}

/** Several scenarios on one clock, frames interleaved in time order. */
export function mixed(scenarios: readonly Scenario[], name = 'mixed'): Scenario {
  const frames = scenarios.flatMap((s) => s.frames).sort((a, b) => a.ts - b.ts);
  return {
    name,
    description: scenarios.map((s) => s.description).join('; '),
    frames,
    expected: {
      clients: scenarios.flatMap((s) => s.expected.clients),
      peers: [...new Set(scenarios.flatMap((s) => s.expected.peers))],
    },
  };
}

/** The demo's capture: a Kazaa start-up, a TCP-only client, a push and ordinary traffic at once. */
export function kazaaDemo(): Scenario {
  return mixed([kazaaStartup(), tcpOnlyClient({ start: SYNTHETIC_EPOCH + 1500 }), pushToClient({ start: SYNTHETIC_EPOCH + 2500 }), benignTraffic({ start: SYNTHETIC_EPOCH + 100 })], 'kazaa-demo');
}

export const SCENARIOS: Record<string, () => Scenario> = {
  'kazaa-startup': () => kazaaStartup(),
  'tcp-only-client': () => tcpOnlyClient(),
  push: () => pushToClient(),
  benign: () => benignTraffic(),
  'kazaa-demo': kazaaDemo,
  // Crafted captures (DESIGN principle 6): what an outsider sends or names must not choose what is blocked.
  ...ATTACK_SCENARIOS,
};
