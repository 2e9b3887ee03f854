/**
 * BitTorrent clients for the gateway mix, built from the lab's byte builders: each client
 * announces itself on LSD, queries the DHT (replies name nodes and, for some, swarm peers),
 * announces to an HTTP and a UDP tracker, and opens uTP, clear-text and MSE-encrypted peer
 * connections that carry piece data. Outside addresses come from 192.0.2.0/24 only, which no
 * other part of the mix uses, so what BitTorrent learns never changes another part's verdicts.
 */
import { TcpConversation, bittorrent as bt, udp } from '@p2pwall/lab';

export interface BitTorrentMixOptions {
  clients: number;
  dhtQueries: number;
  utpPeers: number;
  clearPeers: number;
  encryptedPeers: number;
  /** Piece segments (1400 bytes) each peer connection carries. */
  pieceSegments: number;
}

export const DEFAULT_BITTORRENT_MIX: Omit<BitTorrentMixOptions, 'clients'> = {
  dhtQueries: 60,
  utpPeers: 8,
  clearPeers: 8,
  encryptedPeers: 8,
  pieceSegments: 24,
};

/** How the mix adds frames: `ip(ts, packets, stepMs)` returns the time after the last one. */
export interface FrameSink {
  ip(ts: number, packets: Uint8Array | readonly Uint8Array[], stepMs?: number): number;
  count: number;
}

const MSS = 1400;
const TRACKER_HTTP = '192.0.2.250';
const TRACKER_UDP = '192.0.2.251';

/** Adds one client's traffic starting at `start`; returns the outside addresses it used. */
export function addBitTorrentClient(sink: FrameSink, client: string, start: number, random: () => number, options: Omit<BitTorrentMixOptions, 'clients'>): Set<string> {
  const outside = new Set<string>([TRACKER_HTTP, TRACKER_UDP]);
  const listenPort = 20_000 + Math.floor(random() * 20_000);
  const highPort = (): number => 1024 + Math.floor(random() * 60_000);
  const peerAddress = (): string => {
    const ip = `192.0.2.${1 + Math.floor(random() * 240)}`;
    outside.add(ip);
    return ip;
  };
  const endpoints = (count: number): { ip: string; port: number }[] => Array.from({ length: count }, () => ({ ip: peerAddress(), port: highPort() }));
  const piece = bt.randomBytes(MSS, Math.floor(random() * 1e9));
  let t = start;

  t = sink.ip(t, udp({ src: client, dst: bt.LSD_IPV4_GROUP, sport: 6771, dport: 6771, payload: bt.lsdSearch({ port: listenPort }) })) + 5;

  // DHT: one query per node, each node a flow of its own; most answer, a third with values.
  for (let q = 0; q < options.dhtQueries; q++) {
    const node = { ip: peerAddress(), port: highPort() };
    const method = q % 3 === 0 ? 'get_peers' : 'find_node';
    const tx = String.fromCharCode(97 + (q % 26), 97 + ((q >> 5) % 26));
    const qt = sink.ip(t + q * 3, udp({ src: client, dst: node.ip, sport: listenPort, dport: node.port, payload: bt.dhtQuery({ method, transactionId: tx }) }));
    if (random() < 0.7) {
      const reply = bt.dhtReply({ transactionId: tx, nodes: endpoints(8), values: method === 'get_peers' ? endpoints(20) : undefined });
      sink.ip(qt + 20 + random() * 60, udp({ src: node.ip, dst: client, sport: node.port, dport: listenPort, payload: reply }));
    }
  }
  t += options.dhtQueries * 3 + 100;

  // HTTP tracker: announce, a reply of 50 peers.
  const http = new TcpConversation(client, highPort(), TRACKER_HTTP, 6969, Math.floor(random() * 0xffff_ffff));
  t = sink.ip(t, [http.syn(), http.synAck(), http.ack()]) + 10;
  t = sink.ip(t, http.send(true, bt.announceRequest({ port: listenPort }))) + 30;
  t = sink.ip(t, http.send(false, bt.announceResponse({ peers: endpoints(50) })));
  t = sink.ip(t, [http.fin(false), http.fin(true), http.ack()]) + 10;

  // UDP tracker: connect, announce, a reply of 50 peers.
  const trackerPort = highPort();
  const toTracker = { src: client, dst: TRACKER_UDP, sport: trackerPort, dport: 6969 };
  const fromTracker = { src: TRACKER_UDP, dst: client, sport: 6969, dport: trackerPort };
  t = sink.ip(t, udp({ ...toTracker, payload: bt.udpTrackerConnect(11) })) + 30;
  t = sink.ip(t, udp({ ...fromTracker, payload: bt.udpTrackerConnectResponse(11) })) + 1;
  t = sink.ip(t, udp({ ...toTracker, payload: bt.udpTrackerAnnounce({ transactionId: 12, port: listenPort }) })) + 30;
  t = sink.ip(t, udp({ ...fromTracker, payload: bt.udpTrackerAnnounceResponse({ transactionId: 12, peers: endpoints(50) }) })) + 10;

  // uTP: SYN, STATE, the handshake in DATA, then piece data from the peer with STATEs back.
  for (let u = 0; u < options.utpPeers; u++) {
    const peer = { ip: peerAddress(), port: highPort() };
    const out = { src: client, dst: peer.ip, sport: listenPort, dport: peer.port };
    const back = { src: peer.ip, dst: client, sport: peer.port, dport: listenPort };
    const id = Math.floor(random() * 0xfff0);
    const opening = bt.utpOpening({ connectionId: id });
    let ut = sink.ip(t + u * 7, udp({ ...out, payload: opening.syn })) + 25;
    ut = sink.ip(ut, udp({ ...back, payload: opening.state })) + 1;
    ut = sink.ip(ut, udp({ ...out, payload: opening.data })) + 25;
    for (let s = 0; s < options.pieceSegments; s++) {
      const data = bt.utpPacket({ type: bt.UtpType.data, connectionId: id, seq: 0x7778 + s, ack: 0x1235, payload: piece.subarray(0, MSS - 40) });
      ut = sink.ip(ut, udp({ ...back, payload: data }), 0.3);
      if (s % 2 === 1) ut = sink.ip(ut, udp({ ...out, payload: bt.utpPacket({ type: bt.UtpType.state, connectionId: (id + 1) & 0xffff, seq: 0x1236, ack: 0x7778 + s }) }), 0.3);
    }
  }
  t += options.utpPeers * 7 + 50;

  // Peer connections: clear-text (handshake, extension handshake, bitfield) and MSE-encrypted
  // (96 bytes + padding each way, then random-looking bytes), each carrying piece data.
  const connect = (encrypted: boolean, at: number): void => {
    const peer = { ip: peerAddress(), port: highPort() };
    const conversation = new TcpConversation(client, highPort(), peer.ip, peer.port, Math.floor(random() * 0xffff_ffff));
    let ct = sink.ip(at, [conversation.syn(), conversation.synAck(), conversation.ack()]) + 20;
    if (encrypted) {
      ct = sink.ip(ct, conversation.send(true, bt.mseFirstPayload({ padLength: Math.floor(random() * 512), seed: Math.floor(random() * 1e9) }))) + 25;
      ct = sink.ip(ct, conversation.send(false, bt.mseFirstPayload({ padLength: Math.floor(random() * 512), seed: Math.floor(random() * 1e9) }))) + 1;
      ct = sink.ip(ct, conversation.send(true, bt.randomBytes(68 + 40 + 16, Math.floor(random() * 1e9)))) + 25;
    } else {
      ct = sink.ip(ct, conversation.send(true, bt.handshake())) + 25;
      ct = sink.ip(ct, conversation.send(false, Uint8Array.from([...bt.handshake(), ...bt.extensionHandshake(), ...bt.bitfield(new Uint8Array(32).fill(0xff))]))) + 1;
      ct = sink.ip(ct, conversation.send(true, Uint8Array.from([...bt.extensionHandshake(), ...bt.interested()]))) + 25;
      ct = sink.ip(ct, conversation.send(true, bt.request(0, 0))) + 25;
    }
    for (let s = 0; s < options.pieceSegments; s++) {
      ct = sink.ip(ct, conversation.send(false, piece), 0.3);
      if (s % 2 === 1) ct = sink.ip(ct, conversation.ack(), 0.3);
    }
    sink.ip(ct + 20, [conversation.fin(true), conversation.fin(false), conversation.ack()]);
  };
  for (let c = 0; c < options.clearPeers; c++) connect(false, t + c * 11);
  for (let c = 0; c < options.encryptedPeers; c++) connect(true, t + 5 + c * 11);
  sink.count++;
  return outside;
}
