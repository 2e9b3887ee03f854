/**
 * eDonkey 2000, eMule's extensions and Kademlia (aMule, eMule and its community forks). Byte
 * layouts, peer learning and traps: /work/shared/protocols/families.md §2, §6.
 *
 * A TCP stream is recognised by its framing (tcp-frame.ts): a marker, a 32-bit length that ends
 * where the segment or the stream does, a known opcode; the Hello and the server login are named
 * as such (tcp.ts). UDP is Kad2 (`E4`, packed `E5`) and server UDP (`E3`), judged by each
 * opcode's layout (kad.ts, udp.ts). Peers are learned from server lists, found sources and Kad
 * contact lists, each for its own transport, only when they answer the inside host's request
 * on the same flow.
 *
 * Obfuscated eMule (no marker byte, RC4 from the first bytes) is out of reach here: the engine's
 * learned peers and time-lock, and the brain's payload-free rules, are what catch it.
 *
 * Cost: this runs on the first packets of every flow the gateway queues. A packet whose first
 * byte is no marker costs one compare and allocates nothing; a marker is followed by a length
 * check. State is kept only for a frame that spans segments (its remaining length, no bytes) and
 * for a request awaiting its answer.
 */
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/packet.js';
import type { Evidence, FlowDigest, FlowMemory, PacketReader, ProtocolModule } from '../module.js';
import { passFreshWhenOpenersGoneBy } from '../stream-openers.js';
import { EDONKEY, EdonkeyRule, EdonkeyVia } from './rules.js';
import { EdonkeyFlowState } from './state.js';
import { inspectTcp } from './tcp.js';
import { inspectUdp } from './udp.js';

export { EDONKEY, EdonkeyRule, EdonkeyVia, KAD_CONTACT_TTL_MS, MAX_PEERS } from './rules.js';
export { EdonkeyFlowState } from './state.js';

export class EdonkeyModule implements ProtocolModule<EdonkeyFlowState> {
  readonly name = EDONKEY;
  readonly transports = ['tcp', 'udp'] as const;
  readonly priority = 12;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(EdonkeyRule), ...Object.values(EdonkeyVia)];

  createState(): EdonkeyFlowState {
    return new EdonkeyFlowState();
  }

  isDone(state: EdonkeyFlowState): boolean {
    return state.isDone();
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: FlowMemory<EdonkeyFlowState>): Evidence | null {
    if (packet.payloadLength <= 0) return null;
    if (packet.protocol === IPPROTO_TCP) return inspectTcp(packet, fromInside, memory) ?? passFreshWhenOpenersGoneBy(flow, memory);
    if (packet.protocol === IPPROTO_UDP) return inspectUdp(packet, flow, fromInside, memory);
    return null;
  }
}

export const edonkey = new EdonkeyModule();
