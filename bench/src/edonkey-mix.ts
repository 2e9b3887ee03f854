/**
 * eMule clients for the gateway mix, built from the lab's byte builders: each client bootstraps
 * Kad and says Hello to nodes, looks up targets (KADEMLIA2_REQ, answered with contact lists),
 * logs in to an eDonkey server (server list, sources of a file), and downloads from sources over
 * clear-text eDonkey connections and obfuscated ones (random bytes from the first byte). Outside
 * addresses come from 198.19.244.0/22 only, which no other part of the mix uses (mix.ts keeps web
 * and bulk servers out of 198.19.240.0/20).
 */
import { TcpConversation, bittorrent as bt, edonkey as ed, udp } from '@p2pwall/lab';
import type { FrameSink } from './bittorrent-mix.js';

export interface EdonkeyMixOptions {
  /** Kad nodes greeted with KADEMLIA2_HELLO_REQ; 70 % answer. */
  kadHellos: number;
  /** KADEMLIA2_REQ lookups, one node each; 70 % answer with 10 contacts. */
  kadLookups: number;
  /** Sources the client downloads from over clear eDonkey and over obfuscated connections. */
  clearSources: number;
  obfuscatedSources: number;
  /** Data segments (1400 bytes) each source connection carries. */
  partSegments: number;
}

export const DEFAULT_EDONKEY_MIX: EdonkeyMixOptions = {
  kadHellos: 20,
  kadLookups: 60,
  clearSources: 6,
  obfuscatedSources: 6,
  partSegments: 24,
};

const MSS = 1400;
const SERVER = '198.19.247.250';
const FILE_HASH = ed.hash(31);

/** Adds one client's traffic starting at `start`; returns the outside addresses it used. */
export function addEdonkeyClient(sink: FrameSink, client: string, start: number, random: () => number, options: EdonkeyMixOptions): Set<string> {
  const outside = new Set<string>([SERVER]);
  const kadPort = 4672 + Math.floor(random() * 20_000);
  const highPort = (): number => 1024 + Math.floor(random() * 60_000);
  const address = (): string => {
    const ip = `198.19.${244 + Math.floor(random() * 3)}.${1 + Math.floor(random() * 254)}`;
    outside.add(ip);
    return ip;
  };
  const contacts = (count: number): ed.KadContact[] => Array.from({ length: count }, () => ({ ip: address(), udpPort: highPort(), tcpPort: highPort() }));
  const sources = (count: number): ed.Endpoint[] => Array.from({ length: count }, () => ({ ip: address(), port: highPort() }));
  let t = start;

  // Kad: bootstrap from one node, Hellos, then lookups answered with contact lists.
  const bootstrap = { ip: address(), port: highPort() };
  t = sink.ip(t, udp({ src: client, dst: bootstrap.ip, sport: kadPort, dport: bootstrap.port, payload: ed.kadShort(0x01) })) + 40;
  t = sink.ip(t, udp({ src: bootstrap.ip, dst: client, sport: bootstrap.port, dport: kadPort, payload: ed.bootstrapRes(contacts(20)) })) + 5;
  for (let h = 0; h < options.kadHellos; h++) {
    const node = { ip: address(), port: highPort() };
    const ht = sink.ip(t + h * 2, udp({ src: client, dst: node.ip, sport: kadPort, dport: node.port, payload: ed.kadHello(0x11) }));
    if (random() < 0.7) sink.ip(ht + 30 + random() * 60, udp({ src: node.ip, dst: client, sport: node.port, dport: kadPort, payload: ed.kadHello(0x19) }));
  }
  t += options.kadHellos * 2 + 100;
  for (let q = 0; q < options.kadLookups; q++) {
    const node = { ip: address(), port: highPort() };
    const target = ed.hash(q);
    const qt = sink.ip(t + q * 3, udp({ src: client, dst: node.ip, sport: kadPort, dport: node.port, payload: ed.kadReq(target) }));
    if (random() < 0.7) sink.ip(qt + 30 + random() * 60, udp({ src: node.ip, dst: client, sport: node.port, dport: kadPort, payload: ed.kadRes(target, contacts(10)) }));
  }
  t += options.kadLookups * 3 + 100;

  // Server: login, ID change and a message, the server list, the sources of a file.
  const server = new TcpConversation(client, highPort(), SERVER, 4661, Math.floor(random() * 0xffff_ffff));
  t = sink.ip(t, [server.syn(), server.synAck(), server.ack()]) + 20;
  t = sink.ip(t, server.send(true, ed.login())) + 30;
  t = sink.ip(t, server.send(false, ed.concat(ed.serverMessage('Welcome to the lab server'), ed.idChange(0x0a0b0c0d)))) + 5;
  t = sink.ip(t, server.send(true, ed.getServerList())) + 30;
  t = sink.ip(t, server.send(false, ed.frame(0xe3, 0x32, ed.serverListBody(sources(8))))) + 5;
  t = sink.ip(t, server.send(true, ed.getSources(FILE_HASH))) + 30;
  t = sink.ip(t, server.send(false, ed.frame(0xe3, 0x42, ed.foundSourcesBody(FILE_HASH, sources(20))))) + 10;

  // Sources: clear Hello and answer, or obfuscated bytes from the first one; then file data.
  const part = bt.randomBytes(MSS, Math.floor(random() * 1e9));
  const download = (obfuscated: boolean, at: number): void => {
    const source = { ip: address(), port: highPort() };
    const conversation = new TcpConversation(client, highPort(), source.ip, source.port, Math.floor(random() * 0xffff_ffff));
    let ct = sink.ip(at, [conversation.syn(), conversation.synAck(), conversation.ack()]) + 20;
    if (obfuscated) {
      ct = sink.ip(ct, conversation.send(true, bt.randomBytes(96 + Math.floor(random() * 200), Math.floor(random() * 1e9)))) + 25;
      ct = sink.ip(ct, conversation.send(false, bt.randomBytes(96 + Math.floor(random() * 200), Math.floor(random() * 1e9)))) + 1;
    } else {
      ct = sink.ip(ct, conversation.send(true, ed.hello({ hashSeed: 7, port: 4662 }))) + 25;
      ct = sink.ip(ct, conversation.send(false, ed.helloAnswer())) + 1;
      ct = sink.ip(ct, conversation.send(true, ed.frame(0xe3, 0x58, FILE_HASH))) + 25;
    }
    for (let s = 0; s < options.partSegments; s++) {
      ct = sink.ip(ct, conversation.send(false, part), 0.3);
      if (s % 2 === 1) ct = sink.ip(ct, conversation.ack(), 0.3);
    }
    sink.ip(ct + 20, [conversation.fin(true), conversation.fin(false), conversation.ack()]);
  };
  for (let c = 0; c < options.clearSources; c++) download(false, t + c * 11);
  for (let c = 0; c < options.obfuscatedSources; c++) download(true, t + 5 + c * 11);
  sink.count++;
  return outside;
}
