/**
 * `emulate fasttrack-peers` (in the inet namespace): every peer of the cache, plus the uploader
 * and supernode outside it, as a FastTrack node on its ip:port (and on its IPv6 twin):
 *
 * - UDP: a node ping `0x27` is answered with a pong `0x28` carrying the same network name
 *   (giFT-FastTrack PROTOCOL); other datagrams are logged and not answered.
 * - TCP: a 12-byte session hello is answered with the 8-byte reply (after that a real session is
 *   encrypted; the emulator keeps the connection until the client closes or goes idle). An HTTP
 *   `GET /.hash=…` gets an upload reply with `X-Kazaa-IP: <its ip:port>`,
 *   `X-Kazaa-SupernodeIP: <another peer>` and a small body; other requests get a 404.
 *
 * Logged: `udp-ping` (every ping received), `pong-sent`, `udp-other`, `tcp-accept` (every
 * connection accepted, with the remote address), `hello-answered`, `download-served`,
 * `http-other`, `bind-failed`, `ready`.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { EXAMPLE_HASH, nodePong, sessionHelloReply, uploadReply } from '../fasttrack/payloads.js';
import { EXTRA_PEERS, formatEndpoint, ipv6Twin, KAZAA_SUPERNODE, KAZAA_UPLOADER, UPLOADER_SUPERNODE, type Endpoint } from '../netns/addresses.js';
import { aborted, errorCode, type RoleContext } from './common.js';
import { parseHead, readUntil, writeAll } from './net.js';

export interface FasttrackPeersOptions {
  cache: Endpoint[];
  /** Peers served besides the cache (default: the search-result uploader and the supernode). */
  extras?: Endpoint[];
  /** Also serve each peer's IPv6 twin (default true; peers without a twin are served on IPv4 only). */
  ipv6?: boolean;
  /** Only every n-th cache peer answers pings (1: all; 0: none). */
  answerEvery?: number;
  /** Body bytes of a served download. */
  bodyBytes?: number;
  /** Close a TCP connection idle this long. */
  idleTimeoutMs?: number;
}

interface PeerIdentity {
  /** The address it is served on (IPv4, or the IPv6 twin). */
  listen: Endpoint;
  /** Its FastTrack identity (always IPv4: FastTrack's headers carry a.b.c.d:port). */
  self: Endpoint;
  supernode: Endpoint;
  answersPings: boolean;
}

export interface FasttrackPeersSummary {
  peers: number;
  boundUdp: number;
  boundTcp: number;
  bindFailures: number;
  pings: number;
  pongs: number;
  udpOther: number;
  accepted: number;
  hellos: number;
  downloads: number;
  httpOther: number;
  [key: string]: unknown;
}

export async function runFasttrackPeers(options: FasttrackPeersOptions, { log, signal }: RoleContext): Promise<FasttrackPeersSummary> {
  const cache = options.cache;
  const extras = options.extras ?? [...EXTRA_PEERS];
  const answerEvery = options.answerEvery ?? 1;
  const bodyBytes = options.bodyBytes ?? 4096;
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  const identities: PeerIdentity[] = [];
  cache.forEach((peer, i) => {
    identities.push({ listen: peer, self: peer, supernode: cache[(i + 1) % cache.length] ?? KAZAA_SUPERNODE, answersPings: answerEvery > 0 && i % answerEvery === 0 });
  });
  for (const peer of extras) {
    const supernode = peer.ip === KAZAA_UPLOADER.ip && peer.port === KAZAA_UPLOADER.port ? UPLOADER_SUPERNODE : (cache[0] ?? UPLOADER_SUPERNODE);
    identities.push({ listen: peer, self: peer, supernode, answersPings: true });
  }
  if (options.ipv6 ?? true) {
    for (const identity of [...identities]) {
      let twin: string;
      try {
        twin = ipv6Twin(identity.self.ip);
      } catch {
        continue;
      }
      identities.push({ ...identity, listen: { ip: twin, port: identity.self.port } });
    }
  }

  const summary: FasttrackPeersSummary = { peers: cache.length + extras.length, boundUdp: 0, boundTcp: 0, bindFailures: 0, pings: 0, pongs: 0, udpOther: 0, accepted: 0, hellos: 0, downloads: 0, httpOther: 0 };
  const udpSockets: UdpSocket[] = [];
  const servers: Server[] = [];
  const connections = new Set<Socket>();
  const body = Buffer.alloc(bodyBytes, 0x55);
  Buffer.from('ID3').copy(body);

  const serveUdp = (identity: PeerIdentity) =>
    new Promise<void>((resolve) => {
      const socket = createSocket(identity.listen.ip.includes(':') ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
      socket.on('message', (message, remote) => {
        const from = formatEndpoint({ ip: remote.address, port: remote.port });
        const peer = formatEndpoint(identity.listen);
        if (message.length >= 7 && message[0] === 0x27) {
          const nul = message.indexOf(0, 6);
          const network = message.subarray(6, nul < 0 ? message.length : nul).toString('latin1');
          summary.pings++;
          log.write('udp-ping', { peer, from, network, bytes: message.length });
          if (!identity.answersPings) return;
          socket.send(nodePong({ network }), remote.port, remote.address, (error) => {
            if (error) log.write('pong-failed', { peer, to: from, error: errorCode(error) });
            else {
              summary.pongs++;
              log.write('pong-sent', { peer, to: from, network });
            }
          });
        } else {
          summary.udpOther++;
          log.write('udp-other', { peer, from, bytes: message.length, first: message[0] });
        }
      });
      socket.once('error', (error) => {
        summary.bindFailures++;
        log.write('bind-failed', { proto: 'udp', peer: formatEndpoint(identity.listen), error: errorCode(error) });
        socket.close();
        resolve();
      });
      socket.bind({ address: identity.listen.ip, port: identity.listen.port, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', (error) => log.write('udp-error', { peer: formatEndpoint(identity.listen), error: errorCode(error) }));
        summary.boundUdp++;
        udpSockets.push(socket);
        resolve();
      });
    });

  const handleConnection = async (identity: PeerIdentity, socket: Socket) => {
    const peer = formatEndpoint(identity.listen);
    const remote = formatEndpoint({ ip: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 });
    summary.accepted++;
    log.write('tcp-accept', { peer, remote });
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined);
    // An HTTP head may come in several segments: wait for its blank line; anything else is a hello.
    const first = await readUntil(socket, (data) => data.length >= 4 && (isHttp(data) ? data.includes('\r\n\r\n') : data.length >= 12), idleTimeoutMs, 16 * 1024, signal);
    if (first.data.length >= 4 && isHttp(first.data)) {
      const head = parseHead(first.data);
      const requestLine = head?.statusLine ?? first.data.subarray(0, 200).toString('latin1').split('\r\n')[0]!;
      const hash = /^(?:GET|HEAD) \/\.hash=([0-9a-fA-F]{40}) HTTP\/1\.[01]$/.exec(requestLine)?.[1];
      if (head && hash) {
        const reply = uploadReply({ kazaaIp: formatEndpoint(identity.self), supernodeIp: formatEndpoint(identity.supernode), contentLength: body.length, username: `peer${identity.self.port}` });
        const ok = (await writeAll(socket, Buffer.from(reply, 'latin1'))) && (await writeAll(socket, body));
        summary.downloads++;
        log.write('download-served', {
          peer,
          remote,
          hash: hash.toLowerCase(),
          ok,
          bytes: body.length,
          username: head.headers['x-kazaa-username'],
          network: head.headers['x-kazaa-network'],
          userAgent: head.headers['useragent'] ?? head.headers['user-agent'],
          clientKazaaIp: head.headers['x-kazaa-ip'],
          clientSupernodeIp: head.headers['x-kazaa-supernodeip'],
          example: hash.toLowerCase() === EXAMPLE_HASH,
        });
      } else {
        summary.httpOther++;
        log.write('http-other', { peer, remote, requestLine });
        await writeAll(socket, 'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
      socket.end();
      return;
    }
    if (first.data.length >= 12) {
      const ok = await writeAll(socket, sessionHelloReply());
      summary.hellos++;
      log.write('hello-answered', { peer, remote, ok, helloBytes: first.data.length });
      // The session would go on encrypted: hold it until the client closes, goes idle, or we stop.
      await readUntil(socket, () => false, idleTimeoutMs, 1 << 20, signal);
      socket.end();
      return;
    }
    log.write('tcp-closed', { peer, remote, bytes: first.data.length, end: first.end });
    socket.end();
  };

  const serveTcp = (identity: PeerIdentity) =>
    new Promise<void>((resolve) => {
      const server = createServer((socket) => void handleConnection(identity, socket));
      server.once('error', (error) => {
        summary.bindFailures++;
        log.write('bind-failed', { proto: 'tcp', peer: formatEndpoint(identity.listen), error: errorCode(error) });
        resolve();
      });
      server.listen({ host: identity.listen.ip, port: identity.listen.port, ipv6Only: true, backlog: 511 }, () => {
        server.removeAllListeners('error');
        server.on('error', (error) => log.write('tcp-error', { peer: formatEndpoint(identity.listen), error: errorCode(error) }));
        summary.boundTcp++;
        servers.push(server);
        resolve();
      });
    });

  await Promise.all(identities.flatMap((identity) => [serveUdp(identity), serveTcp(identity)]));
  log.write('ready', { peers: summary.peers, boundUdp: summary.boundUdp, boundTcp: summary.boundTcp, bindFailures: summary.bindFailures });
  await aborted(signal);
  for (const socket of udpSockets) socket.close();
  for (const server of servers) server.close();
  for (const socket of connections) socket.destroy();
  return summary;
}

function isHttp(data: Buffer): boolean {
  const start = data.subarray(0, 5).toString('latin1');
  return start.startsWith('GET ') || start.startsWith('HEAD ') || start.startsWith('POST');
}
