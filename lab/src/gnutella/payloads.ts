/**
 * Gnutella and Gnutella2 bytes built from the layouts in /work/shared/protocols/families.md §3
 * (checked against the shared capture's gtk-gnutella and Shareaza traffic), for the module's tests, the engine bench and the lab.
 */

export interface Endpoint {
  ip: string;
  port: number;
}

export const MessageType = { ping: 0x00, pong: 0x01, bye: 0x02, vendor: 0x31, push: 0x40, mojito: 0x44, query: 0x80, queryHit: 0x81 } as const;

/** A GUID as modern servents make it: byte 8 is 0xff, byte 15 is 0x00; `seed` varies the rest. */
export function guid(seed = 1): Uint8Array {
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => (seed * 37 + i * 101 + 13) & 0xff || 1);
  bytes[8] = 0xff;
  bytes[15] = 0x00;
  return bytes;
}

/** The 23-byte descriptor header, then the payload; `length` overrides the length field. */
export function descriptor(type: number, payload: Uint8Array | readonly number[], options: { guid?: Uint8Array; ttl?: number; hops?: number; length?: number } = {}): Uint8Array {
  const body = Uint8Array.from(payload);
  const out = new Uint8Array(23 + body.length);
  out.set(options.guid ?? guid(), 0);
  out[16] = type;
  out[17] = options.ttl ?? 1;
  out[18] = options.hops ?? 0;
  new DataView(out.buffer).setUint32(19, options.length ?? body.length, true);
  out.set(body, 23);
  return out;
}

function ipv4(ip: string): number[] {
  return ip.split('.').map(Number);
}

function portLe(port: number): number[] {
  return [port & 0xff, port >> 8];
}

/** GGEP 0.51: magic 0xC3, then each extension's flags (last 0x80, id length), id, 6-bit length bytes, data. */
export function ggep(extensions: readonly { id: string; data: readonly number[] }[]): number[] {
  const out = [0xc3];
  extensions.forEach((extension, i) => {
    out.push((i === extensions.length - 1 ? 0x80 : 0) | extension.id.length, ...Buffer.from(extension.id, 'latin1'));
    const length = extension.data.length;
    if (length < 64) out.push(0x40 | length);
    else if (length < 4096) out.push(0x80 | (length >> 6), 0x40 | (length & 0x3f));
    else out.push(0x80 | (length >> 12), 0x80 | ((length >> 6) & 0x3f), 0x40 | (length & 0x3f));
    out.push(...extension.data);
  });
  return out;
}

/** IPP's data: IPv4 in network order, port little-endian, 6 bytes an entry. */
export function ippData(peers: readonly Endpoint[]): number[] {
  return peers.flatMap((peer) => [...ipv4(peer.ip), ...portLe(peer.port)]);
}

/** A ping as gtk-gnutella sends it over UDP: a 5-byte GGEP `SCP`-style block, or nothing. */
export function ping(options: { guid?: Uint8Array; bare?: boolean } = {}): Uint8Array {
  return descriptor(MessageType.ping, options.bare ? [] : ggep([{ id: 'SCP', data: [0x01] }]), { guid: options.guid });
}

export function pong(self: Endpoint, options: { guid?: Uint8Array; ipp?: readonly Endpoint[] } = {}): Uint8Array {
  const fixed = [...portLe(self.port), ...ipv4(self.ip), 10, 0, 0, 0, 0, 4, 0, 0];
  const extensions = [{ id: 'GUE', data: [0x02] }, ...(options.ipp ? [{ id: 'IPP', data: ippData(options.ipp) }] : [])];
  return descriptor(MessageType.pong, [...fixed, ...ggep(extensions)], { guid: options.guid });
}

export function query(text: string, options: { guid?: Uint8Array } = {}): Uint8Array {
  return descriptor(MessageType.query, [0xf9, 0x00, ...Buffer.from(text, 'latin1'), 0x00], { guid: options.guid });
}

export function queryHit(self: Endpoint, options: { guid?: Uint8Array } = {}): Uint8Array {
  const result = [1, 0, 0, 0, 0x10, 0, 0, 0, ...Buffer.from('song.mp3', 'latin1'), 0, 0];
  return descriptor(MessageType.queryHit, [1, ...portLe(self.port), ...ipv4(self.ip), 0, 1, 0, 0, ...result, ...Buffer.from('GTKG', 'latin1'), 2, 0, 0, ...guid(9)], { guid: options.guid });
}

export function vendorMessage(): Uint8Array {
  return descriptor(MessageType.vendor, [...Buffer.from('GTKG', 'latin1'), 0x09, 0x00, 0x01, 0x00]);
}

/** Mojito DHT (gtk-gnutella): type 0x44, version 0.0 where TTL/hops lie, opcode at 23, vendor at 24. */
export function mojito(): Uint8Array {
  return descriptor(MessageType.mojito, [0x01, ...Buffer.from('GTKG', 'latin1'), 0, 0, ...guid(5).subarray(0, 12)], { ttl: 0, hops: 0 });
}

/** One G2 packet: control byte (1 length byte, name length − 1, compound), length, name, payload. */
export function g2Packet(name: string, payload: readonly number[], children: readonly number[][] = []): number[] {
  const childBytes = children.flat();
  const body = children.length > 0 ? [...childBytes, ...(payload.length > 0 ? [0x00, ...payload] : [])] : [...payload];
  if (body.length > 255) throw new Error('g2Packet: one length byte only');
  const control = (1 << 6) | ((name.length - 1) << 3) | (children.length > 0 ? 0x04 : 0);
  return [control, body.length, ...Buffer.from(name, 'latin1'), ...body];
}

/** `GND`, flags, sequence, part, count, then the body. */
export function gnd(body: readonly number[], options: { flags?: number; part?: number; count?: number; sequence?: number } = {}): Uint8Array {
  const sequence = options.sequence ?? 0x3e8f;
  return Uint8Array.from([0x47, 0x4e, 0x44, options.flags ?? 0x10, sequence >> 8, sequence & 0xff, options.part ?? 1, options.count ?? 1, ...body]);
}

/** The query-key request the shared capture's client sends: /QKR with its /RNA return address. */
export function queryKeyRequest(self: Endpoint): Uint8Array {
  return gnd(g2Packet('QKR', [], [g2Packet('RNA', [...ipv4(self.ip), ...portLe(self.port)])]));
}

/** A known-hub list: /KHL with /NH neighbours and /CH cached hubs (address, port, timestamp). */
export function knownHubList(neighbours: readonly Endpoint[], cached: readonly Endpoint[]): Uint8Array {
  const children = [...neighbours.map((hub) => g2Packet('NH', [...ipv4(hub.ip), ...portLe(hub.port)])), ...cached.map((hub) => g2Packet('CH', [...ipv4(hub.ip), ...portLe(hub.port), 1, 2, 3, 4]))];
  return gnd(g2Packet('KHL', [1, 2, 3, 4], children), { flags: 0x00 });
}

/** A deflated G2 datagram's start: the zlib header 78 9c, then compressed bytes. */
export function deflatedGnd(): Uint8Array {
  return gnd([0x78, 0x9c, 0xeb, 0x29, 0x67, 0x0c, 0x74, 0xf4, 0x60, 0x09, 0x09, 0x5e], { flags: 0x01 });
}

export const USER_AGENT = 'gtk-gnutella/1.2.2 (2022-02-25; GTK2; Windows x64)';

/** The inside servent's handshake, as the shared capture's client sends it. */
export function connect(options: { version?: string; headers?: readonly string[] } = {}): string {
  if (options.version === '0.4') return 'GNUTELLA CONNECT/0.4\n\n';
  const headers = options.headers ?? ['Node: 192.0.2.53:28681', 'Remote-IP: 203.0.113.7', `User-Agent: ${USER_AGENT}`, 'X-Ultrapeer: False', 'Accept-Encoding: deflate'];
  return `GNUTELLA CONNECT/0.6\r\n${headers.join('\r\n')}\r\n\r\n`;
}

/** An answer: `GNUTELLA/0.6 <status>` and its headers. */
export function answer(status: string, headers: readonly string[]): string {
  return `GNUTELLA/0.6 ${status}\r\n${headers.join('\r\n')}\r\n\r\n`;
}

export function endpointList(peers: readonly Endpoint[], stamp = ''): string {
  return peers.map((peer) => `${peer.ip}:${peer.port}${stamp}`).join(',');
}

/** Endpoints as the peer table shows them, learned for TCP and UDP: `ip:port/both`, sorted. */
export function endpointKeys(list: readonly Endpoint[]): string[] {
  return list.map((peer) => `${peer.ip}:${peer.port}/both`).sort();
}
