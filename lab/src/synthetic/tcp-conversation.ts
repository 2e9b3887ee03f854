import { ACK, FIN, PSH, SYN, bytes, tcp } from '../packets.js';

/**
 * One TCP connection as packets with consistent sequence numbers in both directions, for
 * synthetic captures. The client is the side that sends the SYN.
 */
export class TcpConversation {
  private clientSeq: number;
  private serverSeq: number;

  constructor(
    readonly client: string,
    readonly clientPort: number,
    readonly server: string,
    readonly serverPort: number,
    initialSeq = 0x1000_0000,
  ) {
    this.clientSeq = initialSeq >>> 0;
    this.serverSeq = (initialSeq ^ 0x5a5a_5a5a) >>> 0;
  }

  syn(): Uint8Array {
    const packet = tcp({ src: this.client, dst: this.server, sport: this.clientPort, dport: this.serverPort, flags: SYN, seq: this.clientSeq });
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    return packet;
  }

  synAck(): Uint8Array {
    const packet = tcp({ src: this.server, dst: this.client, sport: this.serverPort, dport: this.clientPort, flags: SYN | ACK, seq: this.serverSeq, ack: this.clientSeq });
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    return packet;
  }

  /** The client's bare ACK that completes the handshake. */
  ack(): Uint8Array {
    return tcp({ src: this.client, dst: this.server, sport: this.clientPort, dport: this.serverPort, flags: ACK, seq: this.clientSeq, ack: this.serverSeq });
  }

  /** Data from one side, cut into segments at the given offsets. */
  send(fromClient: boolean, payload: Uint8Array | string, cuts: readonly number[] = []): Uint8Array[] {
    const data = bytes(payload);
    const bounds = [0, ...cuts, data.length];
    const segments: Uint8Array[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const chunk = data.subarray(bounds[i]!, bounds[i + 1]!);
      if (chunk.length === 0) continue;
      segments.push(this.segment(fromClient, PSH | ACK, chunk));
    }
    return segments;
  }

  fin(fromClient: boolean): Uint8Array {
    return this.segment(fromClient, FIN | ACK, new Uint8Array(0), 1);
  }

  private segment(fromClient: boolean, flags: number, payload: Uint8Array, extraSeq = 0): Uint8Array {
    const packet = fromClient
      ? tcp({ src: this.client, dst: this.server, sport: this.clientPort, dport: this.serverPort, flags, seq: this.clientSeq, ack: this.serverSeq, payload })
      : tcp({ src: this.server, dst: this.client, sport: this.serverPort, dport: this.clientPort, flags, seq: this.serverSeq, ack: this.clientSeq, payload });
    if (fromClient) this.clientSeq = (this.clientSeq + payload.length + extraSeq) >>> 0;
    else this.serverSeq = (this.serverSeq + payload.length + extraSeq) >>> 0;
    return packet;
  }
}
