/**
 * FastTrack (Kazaa, KazaaLite, iMesh, Grokster): the UDP node ping/pong that ftwall was built
 * on (udp.ts), the clear-text HTTP of file transfers (http.ts), and — as supporting evidence
 * only — the shape of the encrypted session handshake (handshake.ts). Byte layouts:
 * /work/shared/protocols/README.md §1.6 (from giFT-FastTrack's PROTOCOL); what earlier tools
 * matched: §2.
 *
 * Cost: this runs on the first packets of every flow the gateway queues, so a packet that
 * cannot match costs a few byte compares and allocates nothing. Strings and objects are made
 * only for a packet that matches.
 */
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/packet.js';
import type { Evidence, FlowDigest, FlowMemory, PacketReader, ProtocolModule } from '../module.js';
import { HEADER_BLOCK_CAPACITY, HeaderLines, StreamHead, walkFirstSegment } from '../http-headers.js';
import { passWhenOpenersGoneBy } from '../stream-openers.js';
import { encryptedHandshake } from './handshake.js';
import { DirectionScan, HeadFindings, couldStartHead, examineHead } from './http.js';
import { FASTTRACK, FastTrackRule, FastTrackVia } from './rules.js';
import { inspectUdp } from './udp.js';

export { FASTTRACK, FastTrackRule, FastTrackVia } from './rules.js';
export { KNOWN_NETWORK_NAMES } from './udp.js';

/** Per-flow state: only for flows whose head spans segments; done once neither direction is scanned. */
export class FastTrackFlowState {
  out: DirectionScan | null = null;
  in: DirectionScan | null = null;
}

type Memory = FlowMemory<FastTrackFlowState>;

export class FastTrackModule implements ProtocolModule<FastTrackFlowState> {
  readonly name = FASTTRACK;
  readonly transports = ['tcp', 'udp'] as const;
  readonly priority = 10;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(FastTrackRule), ...Object.values(FastTrackVia)];
  // Scratch reused on every packet (inspect is synchronous, so one set per module suffices).
  private readonly lines = new HeaderLines();
  private readonly findings = new HeadFindings();

  createState(): FastTrackFlowState {
    return new FastTrackFlowState();
  }

  isDone(state: FastTrackFlowState): boolean {
    return state.out === null && state.in === null;
  }

  heldBytes(state: FastTrackFlowState): number {
    return (state.out?.head.heldBytes ?? 0) + (state.in?.head.heldBytes ?? 0);
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    if (packet.payloadLength <= 0) return null;
    if (packet.protocol === IPPROTO_UDP) return inspectUdp(packet, memory.concluded);
    if (packet.protocol !== IPPROTO_TCP) return null;
    // Heads start only in a direction's first payload, and the handshake is the first answer.
    return this.inspectHead(packet, flow, fromInside, memory) ?? encryptedHandshake(packet, flow, fromInside) ?? passWhenOpenersGoneBy(flow, memory);
  }

  /** The clear-text head of this direction of the stream, if it is one FastTrack uses. */
  private inspectHead(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    const state = memory.state;
    const scan = state ? (fromInside ? state.out : state.in) : null;
    if (scan) return this.continueHead(scan, packet, fromInside, memory);
    const payloadPackets = fromInside ? flow.outPayloadPackets : flow.inPayloadPackets;
    // Only a direction's first payload can start a head; later ones without a scan are the rest
    // of a head already examined, or of a stream that never looked like one.
    if (payloadPackets !== 1) return null;
    const start = packet.payloadOffset;
    if (!couldStartHead(packet.buf, start, start + packet.payloadLength)) return null;
    return this.startHead(packet, fromInside, memory);
  }

  private startHead(packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const lines = this.lines;
    const findings = this.findings;
    findings.reset(0);
    walkFirstSegment(lines, packet);
    examineHead(lines, findings);
    const unfinished = !findings.abandoned && !lines.blockEnded && packet.payloadLength < HEADER_BLOCK_CAPACITY;
    // A head the buffer budget cannot pay for is not kept: this packet's evidence still counts.
    const head = unfinished ? StreamHead.start(packet, lines, memory.buffers) : null;
    if (head !== null) {
      const state = memory.open();
      const scan = new DirectionScan(head, findings.fired);
      if (fromInside) state.out = scan;
      else state.in = scan;
    }
    return findings.toEvidence();
  }

  private continueHead(scan: DirectionScan, packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const head = scan.head;
    if (!head.append(packet)) {
      // A head the budget would not grow is finished with what it had: free it now.
      if (head.finished) this.freeDirection(head, fromInside, memory);
      return null;
    }
    const lines = this.lines;
    const findings = this.findings;
    findings.reset(scan.fired);
    head.walk(lines);
    examineHead(lines, findings);
    head.walked(lines);
    scan.fired = findings.fired;
    // A direction whose head is done frees its buffer now; the engine frees the state once both are.
    if (findings.abandoned || head.finished) this.freeDirection(head, fromInside, memory);
    return findings.toEvidence();
  }

  /** Drops one direction's head and gives its bytes back; the engine frees the state once both are gone. */
  private freeDirection(head: StreamHead, fromInside: boolean, memory: Memory): void {
    const state = memory.state;
    if (!state) return;
    memory.buffers.release(head.heldBytes);
    if (fromInside) state.out = null;
    else state.in = null;
  }
}

export const fastTrack = new FastTrackModule();
