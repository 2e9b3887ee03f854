/**
 * Gnutella and Gnutella2 servents for the gateway mix, built from the lab's byte builders: each
 * servent pings its host cache over UDP from one port (the fan-out the shared capture shows),
 * asks G2 hubs for query keys, opens `GNUTELLA CONNECT/0.6` connections to ultrapeers (some
 * refuse with `X-Try-Ultrapeers`, some accept and carry pings, queries and hits), and downloads
 * with `/uri-res/N2R?`. Outside addresses come from 198.19.240.0/22 only, which no other part of
 * the mix uses (mix.ts keeps web and bulk servers out of 198.19.240.0/20).
 */
import { TcpConversation, gnutella as gn, udp } from '@p2pwall/lab';
import type { FrameSink } from './bittorrent-mix.js';

export interface GnutellaMixOptions {
  /** Cached hosts pinged over UDP from the servent's one port; 60 % answer with a pong. */
  udpPings: number;
  /** G2 hubs asked for a query key (GND /QKR); half answer with a known-hub list. */
  g2Hubs: number;
  /** Ultrapeer connections: the first half refused (503 + X-Try-Ultrapeers), the rest accepted. */
  ultrapeers: number;
  /** Descriptors each accepted connection carries each way after the handshake. */
  descriptorsPerConnection: number;
  /** `/uri-res/N2R?` downloads, each carrying `downloadSegments` full segments. */
  downloads: number;
  downloadSegments: number;
}

export const DEFAULT_GNUTELLA_MIX: GnutellaMixOptions = {
  udpPings: 120,
  g2Hubs: 12,
  ultrapeers: 8,
  descriptorsPerConnection: 6,
  downloads: 4,
  downloadSegments: 24,
};

const MSS = 1400;

/** Adds one servent's traffic starting at `start`; returns the outside addresses it used. */
export function addGnutellaServent(sink: FrameSink, servent: string, start: number, random: () => number, options: GnutellaMixOptions): Set<string> {
  const outside = new Set<string>();
  const listenPort = 6346 + Math.floor(random() * 20_000);
  const highPort = (): number => 1024 + Math.floor(random() * 60_000);
  const endpoint = (): gn.Endpoint => {
    const ip = `198.19.${240 + Math.floor(random() * 4)}.${1 + Math.floor(random() * 254)}`;
    outside.add(ip);
    return { ip, port: highPort() };
  };
  const endpoints = (count: number): gn.Endpoint[] => Array.from({ length: count }, endpoint);
  let t = start;

  // UDP host-cache pings from the listening port, pongs naming more hosts (IPP).
  for (let p = 0; p < options.udpPings; p++) {
    const host = endpoint();
    const id = gn.guid(p + 1);
    const pt = sink.ip(t + p * 2, udp({ src: servent, dst: host.ip, sport: listenPort, dport: host.port, payload: gn.ping({ guid: id }) }));
    if (random() < 0.6) sink.ip(pt + 30 + random() * 80, udp({ src: host.ip, dst: servent, sport: host.port, dport: listenPort, payload: gn.pong(host, { guid: id, ipp: endpoints(5) }) }));
  }
  t += options.udpPings * 2 + 50;

  // G2: query-key requests to hubs; half answer with a known-hub list.
  for (let h = 0; h < options.g2Hubs; h++) {
    const hub = endpoint();
    const ht = sink.ip(t + h * 3, udp({ src: servent, dst: hub.ip, sport: listenPort, dport: hub.port, payload: gn.queryKeyRequest({ ip: servent, port: listenPort }) }));
    if (h % 2 === 0) sink.ip(ht + 40, udp({ src: hub.ip, dst: servent, sport: hub.port, dport: listenPort, payload: gn.knownHubList(endpoints(2), endpoints(4)) }));
  }
  t += options.g2Hubs * 3 + 50;

  // Ultrapeer connections: the handshake, then a refusal or descriptors both ways.
  for (let u = 0; u < options.ultrapeers; u++) {
    const ultrapeer = endpoint();
    const conversation = new TcpConversation(servent, highPort(), ultrapeer.ip, ultrapeer.port, Math.floor(random() * 0xffff_ffff));
    let ct = sink.ip(t + u * 13, [conversation.syn(), conversation.synAck(), conversation.ack()]) + 20;
    ct = sink.ip(ct, conversation.send(true, gn.connect())) + 30;
    if (u < options.ultrapeers / 2) {
      ct = sink.ip(ct, conversation.send(false, gn.answer('503 No Leaf Slots', [`X-Try-Ultrapeers: ${gn.endpointList(endpoints(10), ' 2026-12-01T10:00Z')}`])));
    } else {
      ct = sink.ip(ct, conversation.send(false, gn.answer('200 OK', ['User-Agent: LimeWire/5.5.16', `X-Try-Ultrapeers: ${gn.endpointList(endpoints(10))}`]))) + 1;
      ct = sink.ip(ct, conversation.send(true, 'GNUTELLA/0.6 200 OK\r\n\r\n')) + 20;
      for (let d = 0; d < options.descriptorsPerConnection; d++) {
        const outgoing = d % 2 === 0 ? gn.ping({ guid: gn.guid(100 + d) }) : gn.query(`song ${d}`, { guid: gn.guid(200 + d) });
        ct = sink.ip(ct, conversation.send(true, outgoing)) + 15;
        const incoming = d % 2 === 0 ? gn.pong(ultrapeer, { guid: gn.guid(100 + d) }) : gn.queryHit(endpoint(), { guid: gn.guid(200 + d) });
        ct = sink.ip(ct, conversation.send(false, incoming)) + 15;
      }
    }
    sink.ip(ct + 10, [conversation.fin(true), conversation.fin(false), conversation.ack()]);
  }
  t += options.ultrapeers * 13 + 200;

  // Downloads by content URN, each response carrying file data.
  const data = gn.descriptor(0, new Uint8Array(MSS - 23).fill(0x5a)).subarray(0, MSS);
  for (let d = 0; d < options.downloads; d++) {
    const source = endpoint();
    const conversation = new TcpConversation(servent, highPort(), source.ip, source.port, Math.floor(random() * 0xffff_ffff));
    let ct = sink.ip(t + d * 17, [conversation.syn(), conversation.synAck(), conversation.ack()]) + 20;
    ct = sink.ip(ct, conversation.send(true, `GET /uri-res/N2R?urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB HTTP/1.1\r\nHost: ${source.ip}:${source.port}\r\nUser-Agent: ${gn.USER_AGENT}\r\nRange: bytes=0-${options.downloadSegments * MSS - 1}\r\n\r\n`)) + 30;
    ct = sink.ip(ct, conversation.send(false, `HTTP/1.1 206 Partial Content\r\nServer: ${gn.USER_AGENT}\r\nContent-Length: ${options.downloadSegments * MSS}\r\nX-Gnutella-Content-URN: urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB\r\n\r\n`));
    for (let s = 0; s < options.downloadSegments; s++) {
      ct = sink.ip(ct, conversation.send(false, data), 0.3);
      if (s % 2 === 1) ct = sink.ip(ct, conversation.ack(), 0.3);
    }
    sink.ip(ct + 20, [conversation.fin(true), conversation.fin(false), conversation.ack()]);
  }
  sink.count++;
  return outside;
}
