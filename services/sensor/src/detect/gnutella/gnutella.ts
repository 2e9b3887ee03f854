/**
 * Gnutella 0.4/0.6 and Gnutella2 (gtk-gnutella, Shareaza, LimeWire forks): the clear-text TCP
 * handshake and its answers (start-line.ts, headers.ts), pushes and downloads, UDP messages
 * behind the 23-byte descriptor header (descriptor.ts) and G2's `GND` datagrams (g2.ts). Byte
 * layouts, peer learning and traps: /work/shared/protocols/families.md §3, §6.
 *
 * The client is recognised by what it sends to start (a handshake, a ping, a G2 query-key
 * request); its peer cache is learned from what the network hands back in clear (X-Try lists,
 * also in 503 refusals; pong addresses and their IPP lists; query-hit addresses; G2 /KHL hub
 * lists). After the handshake the stream is usually deflated or TLS: the engine's learned peers
 * and time-lock carry on from there.
 *
 * Cost: this runs on the first packets of every flow the gateway queues. A TCP stream is looked
 * at only when its first byte is `G` and its first bytes agree with a Gnutella start line; a
 * datagram only when it starts with `GND` or its bytes 19-22 hold its length − 23. Anything else
 * costs a few compares and allocates nothing. State is kept only for a head split over segments
 * and for a ping or query awaiting its reply.
 */
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/packet.js';
import { passWhenOpenersGoneBy } from '../stream-openers.js';
import type { Evidence, FlowDigest, FlowMemory, PacketReader, ProtocolModule } from '../module.js';
import { HEADER_BLOCK_CAPACITY, HeaderLines, StreamHead, walkFirstSegment } from '../http-headers.js';
import { idWord } from '../id-words.js';
import { MessageType, descriptorType, hasDescriptorLength, pongPeers, queryHitPeers } from './descriptor.js';
import { isG2Datagram, khlPeers, startsWithGnd } from './g2.js';
import { HeadFindings, HeadScan, examineHead } from './headers.js';
import { GNUTELLA, GnutellaRule, GnutellaVia, constantEvidence, evidence } from './rules.js';
import { couldStartGnutella } from './start-line.js';

export { GNUTELLA, GnutellaRule, GnutellaVia, MAX_PEERS } from './rules.js';

/** One direction's head while its header block spans segments. */
class DirectionHead {
  constructor(
    readonly head: StreamHead,
    readonly scan: HeadScan,
  ) {}
}

/** Per-flow state, kept only while something is pending; done once nothing is. */
export class GnutellaFlowState {
  out: DirectionHead | null = null;
  in: DirectionHead | null = null;
  /** The inside host sent a ping or query on this UDP flow: its GUID words 0 and 3 are what the reply must repeat. */
  awaitingReply = false;
  guidFirst = 0;
  guidLast = 0;
}

type Memory = FlowMemory<GnutellaFlowState>;

/**
 * A first segment shorter than this (`G`, `GN`, `GE`, …) is not kept for the rest of its start
 * line: four bytes tell `GNUT`, `GET ` and `GIV ` apart, and the servents on the shared capture
 * send their whole handshake in one segment. Keeping a head for every lone `G` would double
 * what a flood of them holds (FastTrack keeps one already, for `GET /.hash=`).
 */
const MIN_KEPT_START = 4;

const MESSAGE_NAMES: Readonly<Record<number, string>> = {
  [MessageType.ping]: 'ping',
  [MessageType.pong]: 'pong',
  [MessageType.bye]: 'bye',
  [MessageType.vendor]: 'vendor message',
  [MessageType.vendorStandard]: 'vendor message',
  [MessageType.push]: 'push',
  [MessageType.query]: 'query',
  [MessageType.queryHit]: 'query hit',
};
/** Constant evidence per message type, indexed by the type byte. */
const MESSAGE_EVIDENCE: (Evidence | undefined)[] = [];
for (const [type, name] of Object.entries(MESSAGE_NAMES)) MESSAGE_EVIDENCE[Number(type)] = constantEvidence(GnutellaRule.udpMessage, name);
const MOJITO = constantEvidence(GnutellaRule.mojito);
const G2_UDP = constantEvidence(GnutellaRule.g2Udp);

export class GnutellaModule implements ProtocolModule<GnutellaFlowState> {
  readonly name = GNUTELLA;
  readonly transports = ['tcp', 'udp'] as const;
  readonly priority = 15;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(GnutellaRule), ...Object.values(GnutellaVia)];
  // Scratch reused on every packet (inspect is synchronous).
  private readonly lines = new HeaderLines();
  private readonly findings = new HeadFindings();

  createState(): GnutellaFlowState {
    return new GnutellaFlowState();
  }

  isDone(state: GnutellaFlowState): boolean {
    return state.out === null && state.in === null && !state.awaitingReply;
  }

  heldBytes(state: GnutellaFlowState): number {
    return (state.out?.head.heldBytes ?? 0) + (state.in?.head.heldBytes ?? 0);
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    if (packet.payloadLength <= 0) return null;
    if (packet.protocol === IPPROTO_UDP) return inspectUdp(packet, flow, fromInside, memory);
    if (packet.protocol === IPPROTO_TCP) return this.inspectTcp(packet, flow, fromInside, memory);
    return null;
  }

  // ---- TCP: handshake, answers, GIV, downloads ----

  private inspectTcp(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    const state = memory.state;
    const pending = state === undefined ? null : fromInside ? state.out : state.in;
    if (pending !== null) return this.continueHead(pending, packet, fromInside, memory);
    const payloadPackets = fromInside ? flow.outPayloadPackets : flow.inPayloadPackets;
    // Only a direction's first payload can start a head.
    if (payloadPackets !== 1) return passWhenOpenersGoneBy(flow, memory);
    const start = packet.payloadOffset;
    if (!couldStartGnutella(packet.buf, start, start + packet.payloadLength)) return passWhenOpenersGoneBy(flow, memory);
    return this.startHead(packet, fromInside, memory);
  }

  private startHead(packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const lines = this.lines;
    const findings = this.findings;
    const scan = new HeadScan();
    findings.reset(fromInside);
    walkFirstSegment(lines, packet);
    examineHead(lines, scan, findings);
    const unfinished = !findings.abandoned && !lines.blockEnded && packet.payloadLength >= MIN_KEPT_START && packet.payloadLength < HEADER_BLOCK_CAPACITY;
    // A head the buffer budget cannot pay for is not kept: what this segment showed still counts.
    const head = unfinished ? StreamHead.start(packet, lines, memory.buffers) : null;
    if (head !== null) {
      const state = memory.open();
      if (fromInside) state.out = new DirectionHead(head, scan);
      else state.in = new DirectionHead(head, scan);
    }
    return findings.abandoned ? null : findings.toEvidence(scan, head === null);
  }

  private continueHead(pending: DirectionHead, packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const { head, scan } = pending;
    const findings = this.findings;
    findings.reset(fromInside);
    if (!head.append(packet)) {
      // A head the budget would not grow is finished with what it had.
      if (!head.finished) return null;
      freeDirection(head, fromInside, memory);
      return findings.toEvidence(scan, true);
    }
    const lines = this.lines;
    head.walk(lines);
    examineHead(lines, scan, findings);
    head.walked(lines);
    if (findings.abandoned) {
      freeDirection(head, fromInside, memory);
      return null;
    }
    if (head.finished) freeDirection(head, fromInside, memory);
    return findings.toEvidence(scan, head.finished);
  }
}

/** Drops one direction's head and gives its bytes back; the engine frees the state once nothing is pending. */
function freeDirection(head: StreamHead, fromInside: boolean, memory: Memory): void {
  const state = memory.state;
  if (!state) return;
  memory.buffers.release(head.heldBytes);
  if (fromInside) state.out = null;
  else state.in = null;
}

// ---- UDP: descriptor messages, Mojito, G2 ----

function inspectUdp(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
  const buf = packet.buf;
  const p = packet.payloadOffset;
  const length = packet.payloadLength;
  // Servents talk between high ports; a well-known port on either end is another service (DNS,
  // NTP, NetBIOS, …) whatever its bytes look like.
  if (flow.outsidePort < 1024 || flow.insidePort < 1024) return null;
  if (startsWithGnd(buf, p, length)) return isG2Datagram(buf, p, length) ? g2Evidence(buf, p, length, fromInside, memory) : null;
  if (!hasDescriptorLength(buf, p, length)) return null;
  const type = descriptorType(buf, p, length);
  if (type < 0) return null;
  if (type === MessageType.mojito) return memory.concluded ? null : MOJITO;
  if (fromInside) {
    if (type === MessageType.ping || type === MessageType.query) {
      const state = memory.open();
      state.awaitingReply = true;
      state.guidFirst = idWord(buf, p, 0);
      state.guidLast = idWord(buf, p, 3);
    }
    return memory.concluded ? null : MESSAGE_EVIDENCE[type]!;
  }
  if (type === MessageType.pong || type === MessageType.queryHit) return replyEvidence(type, buf, p, length, memory);
  return memory.concluded ? null : MESSAGE_EVIDENCE[type]!;
}

/**
 * A pong or query hit from outside names servents only when it repeats the GUID of the ping or
 * query the inside host sent on this flow: a forger off the path must guess 8 random bytes as
 * well as the contacted servent's address and port.
 */
function replyEvidence(type: number, buf: Uint8Array, p: number, length: number, memory: Memory): Evidence | null {
  const state = memory.state;
  if (state === undefined || !state.awaitingReply || idWord(buf, p, 0) !== state.guidFirst || idWord(buf, p, 3) !== state.guidLast) {
    return memory.concluded ? null : MESSAGE_EVIDENCE[type]!;
  }
  // A ping may draw several pongs (pong caching): keep awaiting until the depth or the flow ends.
  const peers = type === MessageType.pong ? pongPeers(buf, p, length) : queryHitPeers(buf, p);
  return evidence(GnutellaRule.udpMessage, { detail: MESSAGE_NAMES[type], peers });
}

function g2Evidence(buf: Uint8Array, p: number, length: number, fromInside: boolean, memory: Memory): Evidence | null {
  if (!fromInside) {
    const peers = khlPeers(buf, p, length);
    if (peers !== null && peers.length > 0) return evidence(GnutellaRule.g2Udp, { peers });
  }
  return memory.concluded ? null : G2_UDP;
}

export const gnutella = new GnutellaModule();
