/**
 * Protocol markers and the opcodes each one carries (aMule `src/include/protocol/Protocols.h`,
 * `ed2k/Client2Client/TCP.h`, `ed2k/Client2Server/{TCP,UDP}.h`, `kad2/Client2Client/UDP.h`;
 * /work/shared/protocols/families.md §2.1–§2.2). Tables are indexed by the opcode byte, so a
 * lookup is one array read.
 */

export const Marker = {
  /** eDonkey 2000 (client↔client, client↔server, server UDP). */
  edonkey: 0xe3,
  /** eMule extensions. */
  emule: 0xc5,
  /** zlib-packed eMule (TCP). */
  packed: 0xd4,
  /** Kademlia (UDP). */
  kad: 0xe4,
  /** zlib-packed Kademlia (UDP). */
  kadPacked: 0xe5,
} as const;

export const TcpOpcode = {
  hello: 0x01,
  getServerList: 0x14,
  getSources: 0x19,
  serverList: 0x32,
  foundSources: 0x42,
  helloAnswer: 0x4c,
} as const;

export const Kad2Opcode = {
  bootstrapReq: 0x01,
  bootstrapRes: 0x09,
  helloReq: 0x11,
  helloRes: 0x19,
  req: 0x21,
  helloResAck: 0x22,
  res: 0x29,
  searchKeyReq: 0x33,
  searchSourceReq: 0x34,
  searchNotesReq: 0x35,
  searchRes: 0x3b,
  publishKeyReq: 0x43,
  publishSourceReq: 0x44,
  publishNotesReq: 0x45,
  firewalled2Req: 0x53,
  ping: 0x60,
  pong: 0x61,
} as const;

export const ServerUdpOpcode = {
  statusReq: 0x96,
  getSources: 0x9a,
  foundSources: 0x9b,
  serverListReq: 0xa0,
  serverListRes: 0xa1,
} as const;

function table(opcodes: readonly number[]): Uint8Array {
  const out = new Uint8Array(256);
  for (const opcode of opcodes) out[opcode] = 1;
  return out;
}

/** `E3` over TCP: client↔server (login … found sources) and client↔client (Hello … shared dirs). */
const EDONKEY_TCP = [
  0x01, 0x05, 0x14, 0x15, 0x16, 0x18, 0x19, 0x1a, 0x1c, 0x21, 0x23, 0x32, 0x33, 0x34, 0x35, 0x36, 0x38, 0x40, 0x41, 0x42, 0x43, 0x44,
  0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5b, 0x5c, 0x5d,
  0x5e, 0x5f, 0x60, 0x61,
];
/** `C5` over TCP: eMule info, compressed parts, source exchange, secure identification, multipackets, 64-bit parts, AICH. */
const EMULE_TCP = [
  0x01, 0x02, 0x40, 0x60, 0x61, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x90, 0x91, 0x92, 0x93, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e,
  0x9f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xb1, 0xb2,
];

/** Known opcodes per TCP marker; `D4` packs either family's. */
export const TCP_OPCODES: Readonly<Record<number, Uint8Array>> = {
  [Marker.edonkey]: table(EDONKEY_TCP),
  [Marker.emule]: table(EMULE_TCP),
  [Marker.packed]: table([...EDONKEY_TCP, ...EMULE_TCP]),
};

/**
 * Kad2 opcodes aMule packs with zlib (it packs only packets above 200 bytes: contact lists,
 * search results and publishes, Hellos with many tags).
 */
export const KAD_PACKED_OPCODES = table([
  Kad2Opcode.bootstrapRes,
  Kad2Opcode.helloReq,
  Kad2Opcode.helloRes,
  Kad2Opcode.res,
  Kad2Opcode.searchKeyReq,
  Kad2Opcode.searchRes,
  Kad2Opcode.publishKeyReq,
  Kad2Opcode.publishSourceReq,
  Kad2Opcode.publishNotesReq,
]);

/** A Kad2 REQ's type (low 5 bits): FIND_VALUE, STORE, FIND_NODE. */
export const KAD_REQ_TYPES = table([0x02, 0x04, 0x0b]);
