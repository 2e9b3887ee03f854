/**
 * The UDP side of the module: Kad2 (`E4`), packed Kad2 (`E5`) and eDonkey server UDP (`E3`).
 * UDP has no length field, so every datagram is judged by its opcode's layout (kad.ts) or its
 * list's count; what only has a size to check merely supports.
 */
import type { Evidence, FlowDigest, FlowMemory, PacketReader } from '../module.js';
import { Kad2Opcode, KAD_PACKED_OPCODES, Marker, ServerUdpOpcode } from './opcodes.js';
import { KadKind, REQ_TARGET_AT, RES_TARGET_AT, contactPeers, kadKind } from './kad.js';
import { EdonkeyRule, constantEvidence, evidence } from './rules.js';
import { idWord } from '../id-words.js';
import { HASH_LENGTH, foundSourcesPeers, isCountedList, serverListPeers } from './server-answers.js';
import type { EdonkeyFlowState } from './state.js';

type Memory = FlowMemory<EdonkeyFlowState>;

const KAD_NAMES: Readonly<Record<number, string>> = {
  [Kad2Opcode.helloReq]: 'KADEMLIA2_HELLO_REQ',
  [Kad2Opcode.helloRes]: 'KADEMLIA2_HELLO_RES',
  [Kad2Opcode.req]: 'KADEMLIA2_REQ',
  [Kad2Opcode.res]: 'KADEMLIA2_RES',
  [Kad2Opcode.bootstrapRes]: 'KADEMLIA2_BOOTSTRAP_RES',
};
/** Constant evidence per Kad2 opcode, indexed by the opcode byte. */
const KAD_EVIDENCE: (Evidence | undefined)[] = [];
for (const [opcode, name] of Object.entries(KAD_NAMES)) KAD_EVIDENCE[Number(opcode)] = constantEvidence(EdonkeyRule.kad, 'udp', name);
const KAD_PACKED = constantEvidence(EdonkeyRule.kadPacked, 'udp');
const FIXED_SIZE = constantEvidence(EdonkeyRule.udpFixedSize, 'udp');
const SERVER_UDP = constantEvidence(EdonkeyRule.udpServer, 'udp');

/** zlib's first two bytes: deflate with a 32 KiB window (`78`), the check bits, no preset dictionary. */
const ZLIB_CMF = 0x78;

export function inspectUdp(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
  const buf = packet.buf;
  const p = packet.payloadOffset;
  const length = packet.payloadLength;
  const marker = buf[p];
  if (marker !== Marker.kad && marker !== Marker.edonkey && marker !== Marker.kadPacked) return null;
  // eMule and its servers talk between high ports; a well-known port on either end is another
  // service (DNS, NTP, QUIC on 443, …) whatever its first byte.
  if (flow.outsidePort < 1024 || flow.insidePort < 1024) return null;
  if (marker === Marker.kad) return kad(buf, p, length, fromInside, memory);
  if (marker === Marker.kadPacked) return isPackedKad(buf, p, length) && !memory.concluded ? KAD_PACKED : null;
  return serverUdp(buf, p, length, fromInside, memory);
}

function kad(buf: Uint8Array, p: number, length: number, fromInside: boolean, memory: Memory): Evidence | null {
  const kind = kadKind(buf, p, length);
  if (kind === KadKind.none) return null;
  const opcode = buf[p + 1]!;
  if (fromInside) {
    if (opcode === Kad2Opcode.req) {
      const state = memory.open();
      state.askedKad = true;
      state.kadFirst = idWord(buf, p + REQ_TARGET_AT, 0);
      state.kadLast = idWord(buf, p + REQ_TARGET_AT, 3);
    } else if (opcode === Kad2Opcode.bootstrapReq) memory.open().askedBootstrap = true;
  } else if (answersKad(memory.state, buf, p, opcode)) {
    // One list per request: a second one on the flow answers nothing the host asked for.
    const state = memory.state!;
    if (opcode === Kad2Opcode.res) state.askedKad = false;
    else state.askedBootstrap = false;
    return evidence(EdonkeyRule.kad, 'udp', { detail: KAD_NAMES[opcode], peers: contactPeers(buf, p, length) });
  }
  if (memory.concluded) return null;
  return kind === KadKind.fixedSize ? FIXED_SIZE : KAD_EVIDENCE[opcode]!;
}

/**
 * A contact list is believed only as the answer to the host's own request on this flow, once: a
 * RES must repeat the target of the host's latest REQ (16 bytes a forger off the path must
 * guess), a BOOTSTRAP_RES must follow a BOOTSTRAP_REQ of the host (which carries nothing to
 * repeat) that no list answered yet.
 */
function answersKad(state: EdonkeyFlowState | undefined, buf: Uint8Array, p: number, opcode: number): boolean {
  if (state === undefined) return false;
  if (opcode === Kad2Opcode.res) return state.askedKad && idWord(buf, p + RES_TARGET_AT, 0) === state.kadFirst && idWord(buf, p + RES_TARGET_AT, 3) === state.kadLast;
  return opcode === Kad2Opcode.bootstrapRes && state.askedBootstrap;
}

/** `E5`, an opcode aMule packs, then a zlib header whose check bits hold. */
function isPackedKad(buf: Uint8Array, p: number, length: number): boolean {
  if (length < 6 || KAD_PACKED_OPCODES[buf[p + 1]!] !== 1 || buf[p + 2] !== ZLIB_CMF) return false;
  const flags = buf[p + 3]!;
  return (flags & 0x20) === 0 && ((ZLIB_CMF << 8) | flags) % 31 === 0;
}

/** Fixed sizes of server UDP requests: status (a 4-byte challenge) and server-list requests. */
const SERVER_FIXED: Readonly<Record<number, number>> = { [ServerUdpOpcode.statusReq]: 6, [ServerUdpOpcode.serverListReq]: 2 };

function serverUdp(buf: Uint8Array, p: number, length: number, fromInside: boolean, memory: Memory): Evidence | null {
  const opcode = buf[p + 1];
  const body = p + 2;
  const end = p + length;
  switch (opcode) {
    case ServerUdpOpcode.serverListReq:
    case ServerUdpOpcode.statusReq:
      if (SERVER_FIXED[opcode] !== length) return null;
      if (fromInside && opcode === ServerUdpOpcode.serverListReq) memory.open().askedServerList = true;
      return memory.concluded ? null : FIXED_SIZE;
    case ServerUdpOpcode.getSources:
      if (length < 2 + HASH_LENGTH || (length - 2) % HASH_LENGTH !== 0) return null;
      if (fromInside) memory.open().noteSources(buf, body);
      return memory.concluded ? null : FIXED_SIZE;
    case ServerUdpOpcode.serverListRes:
      if (!isCountedList(buf, body, end)) return null;
      if (!fromInside && memory.state?.askedServerList === true) return evidence(EdonkeyRule.udpServer, 'udp', { peers: serverListPeers(buf, body, end) });
      return memory.concluded ? null : SERVER_UDP;
    case ServerUdpOpcode.foundSources:
      if (length <= 2 + HASH_LENGTH || !isCountedList(buf, body + HASH_LENGTH, end)) return null;
      if (!fromInside && memory.state?.answersSources(buf, body) === true) return evidence(EdonkeyRule.udpServer, 'udp', { peers: foundSourcesPeers(buf, body, end) });
      return memory.concluded ? null : SERVER_UDP;
    default:
      return null;
  }
}
