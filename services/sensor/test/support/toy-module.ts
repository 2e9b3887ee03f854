import type { Evidence, FlowMemory, NamedPeer, PacketReader, ProtocolModule } from '../../src/detect/module.js';

/**
 * A throwaway protocol for tests of the seam: UDP datagrams that start with the 4-byte magic
 * `TOY1`, followed by peers it names (4 address bytes and a 2-byte port each). It speaks UDP
 * only, so its peers are blocked for UDP only. A datagram that starts with `T` but not the magic
 * opens a state that is done after two such datagrams: enough to see the engine free it.
 */
export const TOY_MAGIC = [0x54, 0x4f, 0x59, 0x31];

export interface ToyState {
  packets: number;
}

export function toyPayload(peers: readonly { ip: string; port: number }[] = []): Uint8Array {
  const bytes = [...TOY_MAGIC];
  for (const peer of peers) bytes.push(...peer.ip.split('.').map(Number), peer.port >> 8, peer.port & 0xff);
  return Uint8Array.from(bytes);
}

export class ToyModule implements ProtocolModule<ToyState> {
  readonly name = 'toy';
  readonly transports = ['udp'] as const;
  readonly priority: number;
  readonly inspectPackets: number;
  readonly rules = ['toy/magic', 'toy/peer-list'];
  readonly inspected: { fromInside: boolean; concluded: boolean }[] = [];

  constructor(options: { priority?: number; inspectPackets?: number } = {}) {
    this.priority = options.priority ?? 1;
    this.inspectPackets = options.inspectPackets ?? 16;
  }

  createState(): ToyState {
    return { packets: 0 };
  }

  isDone(state: ToyState): boolean {
    return state.packets >= 2;
  }

  inspect(packet: PacketReader, _flow: unknown, fromInside: boolean, memory: FlowMemory<ToyState>): Evidence | null {
    this.inspected.push({ fromInside, concluded: memory.concluded });
    const { buf, payloadOffset: p, payloadLength: length } = packet;
    if (length < 4 || TOY_MAGIC.some((byte, i) => buf[p + i] !== byte)) {
      if (length >= 1 && buf[p] === 0x54) memory.open().packets++;
      return null;
    }
    const peers: NamedPeer[] = [];
    for (let at = p + 4; at + 6 <= p + length; at += 6) {
      peers.push({ ip: `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`, port: (buf[at + 4]! << 8) | buf[at + 5]!, transport: 'udp', via: 'toy/peer-list' });
    }
    return peers.length > 0 ? { rule: 'toy/magic', supporting: false, transport: 'udp', peers } : { rule: 'toy/magic', supporting: false, transport: 'udp' };
  }
}
