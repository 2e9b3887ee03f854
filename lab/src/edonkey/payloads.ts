/**
 * eDonkey, eMule and Kad messages built byte by byte per their layouts
 * (/work/shared/protocols/families.md §2), for the module's tests, the engine bench and the lab.
 */
export interface Endpoint {
  ip: string;
  port: number;
}

export interface KadContact {
  ip: string;
  udpPort: number;
  tcpPort: number;
}

const le16 = (value: number): number[] => [value & 0xff, (value >> 8) & 0xff];
const le32 = (value: number): number[] => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
const octets = (ip: string): number[] => ip.split('.').map(Number);

/** A 16-byte hash whose bytes start at `seed`. */
export function hash(seed: number): number[] {
  return Array.from({ length: 16 }, (_, i) => (seed + i * 7) & 0xff);
}

/** One TCP frame: marker, LE length of opcode + body, opcode, body. */
export function frame(marker: number, opcode: number, body: readonly number[] = []): Uint8Array {
  return Uint8Array.from([marker, ...le32(body.length + 1), opcode, ...body]);
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

/** ed2k TCP tags as eMule sends them: type | 0x80 (one-byte name), name ID, value. */
const TAGS = [0x82, 0x01, ...le16(5), ...Array.from('aMule', (c) => c.charCodeAt(0)), 0x83, 0x11, ...le32(0x3c), 0x83, 0xfb, ...le32(0x0200c000)];
const TAG_COUNT = 3;

/** Client Hello `E3 01`: `10`, user hash, client ID, port, tags, server IP and port. */
export function hello(options: { hashSeed?: number; port?: number } = {}): Uint8Array {
  return frame(0xe3, 0x01, [0x10, ...hash(options.hashSeed ?? 1), ...le32(0x0a000005), ...le16(options.port ?? 4662), ...le32(TAG_COUNT), ...TAGS, 0, 0, 0, 0, 0, 0]);
}

/** Hello answer `E3 4C`: like the Hello without `10`. */
export function helloAnswer(): Uint8Array {
  return frame(0xe3, 0x4c, [...hash(40), ...le32(0xc0000201), ...le16(4662), ...le32(TAG_COUNT), ...TAGS, 0, 0, 0, 0, 0, 0]);
}

/** Client → server login `E3 01`: user hash (first byte not `10`), client ID 0, port, tags. */
export function login(): Uint8Array {
  return frame(0xe3, 0x01, [0x5e, ...hash(2).slice(1), ...le32(0), ...le16(4662), ...le32(TAG_COUNT), ...TAGS]);
}

export function getServerList(): Uint8Array {
  return frame(0xe3, 0x14);
}

/** `E3 19` GETSOURCES: file hash and 32-bit size. */
export function getSources(fileHash: readonly number[]): Uint8Array {
  return frame(0xe3, 0x19, [...fileHash, ...le32(734003200)]);
}

function entries(list: readonly Endpoint[]): number[] {
  return list.flatMap((entry) => [...octets(entry.ip), ...le16(entry.port)]);
}

/** Server list body: count, then IPv4 (network order) and LE port. */
export function serverListBody(servers: readonly Endpoint[]): number[] {
  return [servers.length, ...entries(servers)];
}

/** Found sources body: file hash, count, client IDs (a HighID is the IPv4) and ports; `lowIds` are LowIDs. */
export function foundSourcesBody(fileHash: readonly number[], sources: readonly Endpoint[], lowIds: readonly number[] = []): number[] {
  return [...fileHash, sources.length + lowIds.length, ...entries(sources), ...lowIds.flatMap((id) => [...le32(id), ...le16(4662)])];
}

export function serverMessage(text: string): Uint8Array {
  return frame(0xe3, 0x38, [...le16(text.length), ...Array.from(text, (c) => c.charCodeAt(0))]);
}

export function idChange(id: number): Uint8Array {
  return frame(0xe3, 0x40, le32(id));
}

// ---- UDP: Kad2 and server UDP ----

const KAD_HELLO_TAGS = [
  // TAG_SOURCEUPORT (0xFC) u16, TAG_KADMISCOPTIONS (0xF8) u8: name length 1, one-byte name.
  0x08, ...le16(1), 0xfc, ...le16(4672),
  0x09, ...le16(1), 0xf8, 0x04,
];

/** KADEMLIA2_HELLO_REQ (`11`) or _RES (`19`): KadID, TCP port, version, tag count, tags. */
export function kadHello(opcode = 0x11, options: { version?: number; tags?: readonly number[]; tagCount?: number } = {}): Uint8Array {
  const tags = options.tags ?? KAD_HELLO_TAGS;
  return Uint8Array.from([0xe4, opcode, ...hash(90), ...le16(4662), options.version ?? 9, options.tagCount ?? (options.tags ? 0 : 2), ...tags]);
}

/** KADEMLIA2_REQ: type, target, receiver's KadID (35 bytes). */
export function kadReq(target: readonly number[], type = 0x0b): Uint8Array {
  return Uint8Array.from([0xe4, 0x21, type, ...target, ...hash(200)]);
}

/** A 25-byte contact: KadID, IPv4 with its octets reversed, UDP port, TCP port (LE), version. */
export function contact(entry: KadContact, seed = 0): number[] {
  return [...hash(seed), ...octets(entry.ip).reverse(), ...le16(entry.udpPort), ...le16(entry.tcpPort), 9];
}

/** KADEMLIA2_RES: target, count, contacts. */
export function kadRes(target: readonly number[], contacts: readonly KadContact[], count = contacts.length): Uint8Array {
  return Uint8Array.from([0xe4, 0x29, ...target, count, ...contacts.flatMap((entry, i) => contact(entry, i))]);
}

/** KADEMLIA2_BOOTSTRAP_RES: KadID, TCP port, version, count (LE 16), contacts. */
export function bootstrapRes(contacts: readonly KadContact[]): Uint8Array {
  return Uint8Array.from([0xe4, 0x09, ...hash(77), ...le16(4662), 9, ...le16(contacts.length), ...contacts.flatMap((entry, i) => contact(entry, i))]);
}

/** Kad's 2-byte messages: BOOTSTRAP_REQ `01`, PING `60`. */
export function kadShort(opcode: number): Uint8Array {
  return Uint8Array.from([0xe4, opcode]);
}

/** A packed Kad2 datagram: `E5`, opcode, a zlib stream (its header, then bytes). */
export function packedKad(opcode = 0x29, rest: readonly number[] = [0x01, 0x02, 0x03, 0x04]): Uint8Array {
  return Uint8Array.from([0xe5, opcode, 0x78, 0xda, ...rest]);
}

/** eDonkey server UDP: opcode, then body. */
export function serverUdp(opcode: number, body: readonly number[] = []): Uint8Array {
  return Uint8Array.from([0xe3, opcode, ...body]);
}

/** `rounds` copies of the messages, each truncated at a random length with 3 random bytes changed (deterministic per seed). */
export function corruptedCopies(messages: readonly Uint8Array[], rounds: number, seed: number): Uint8Array[] {
  const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  const copies: Uint8Array[] = [];
  for (let round = 0; round < rounds; round++) {
    const message = messages[round % messages.length]!;
    const copy = Uint8Array.from(message.subarray(0, 1 + Math.floor(random() * message.length)));
    for (let flips = 0; flips < 3; flips++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
    copies.push(copy);
  }
  return copies;
}
