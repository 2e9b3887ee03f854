/**
 * Runs detectors over packets the way the engine does, without the engine: one Flow per
 * 5-tuple, the same counter updates before each call, the same inspect window, and the same
 * labelling of the flow from evidence. Tests feed real packets (see packets.ts) and look at the
 * evidence and the flow.
 */
import { addressKey, formatAddress, formatAddressKey, parseAddress } from '../../src/decode/address.js';
import { DecodeStatus, IPPROTO_TCP, IPPROTO_UDP, PacketView, TCP_ACK, TCP_SYN, decodeIp } from '../../src/decode/packet.js';
import type { DetectContext, Detector, Evidence } from '../../src/detect/detector.js';
import { createRegistry } from '../../src/detect/registry.js';
import { Flow } from '../../src/track/flow.js';
import { ACK, PSH, SYN, bytes, tcp, type Endpoints } from '@p2pwall/lab';

export interface HarnessOptions {
  /** Defaults to every registered detector; a detector's slot is its index here. */
  detectors?: readonly Detector[];
  /** Payload packets per flow (both directions) that detectors see; the engine's default is 16. */
  inspectPackets?: number;
  /**
   * Inside addresses. A flow's end that is one of them is its inside end; without them (or
   * when neither end is listed), the source of the flow's first packet is.
   */
  inside?: readonly string[];
}

export interface FeedResult {
  flow: Flow;
  /** The packet travels inside → outside. */
  fromInside: boolean;
  /** Whether detectors were asked about this packet (it carried payload inside the window). */
  inspected: boolean;
  /** What each detector that answered returned, in registry order. */
  evidence: Evidence[];
}

export class DetectorHarness {
  readonly detectors: readonly Detector[];
  readonly inspectPackets: number;
  readonly flows = new Map<string, Flow>();
  /** `ip` or `ip port`, addresses in canonical text. */
  private readonly knownPeers = new Set<string>();
  private readonly inside: Set<string>;
  private readonly view = new PacketView();
  readonly context: DetectContext = {
    flowLeadsToKnownPeer: (flow) => {
      const ip = formatAddressKey(flow.outsideAddress);
      return this.knownPeers.has(ip) || this.knownPeers.has(`${ip} ${flow.outsidePort}`);
    },
  };

  constructor(options: HarnessOptions = {}) {
    this.detectors = options.detectors ?? createRegistry();
    this.inspectPackets = options.inspectPackets ?? 16;
    this.inside = new Set((options.inside ?? []).map(canonical));
  }

  /** Makes flows whose outside end is `ip` (on `port`, when given) lead to a known peer. */
  addKnownPeer(ip: string, port?: number): void {
    this.knownPeers.add(port === undefined ? canonical(ip) : `${canonical(ip)} ${port}`);
  }

  /** Feeds one IP packet; throws for anything that is not a decodable TCP/UDP packet. */
  feed(packet: Uint8Array, ts = 0): FeedResult {
    const view = this.view;
    const status = decodeIp(view, packet, 0, packet.length);
    if (status !== DecodeStatus.ok) throw new Error(`harness: packet does not decode (status ${status}, ${view.malformedReason})`);
    if (view.protocol !== IPPROTO_TCP && view.protocol !== IPPROTO_UDP) throw new Error(`harness: protocol ${view.protocol}`);
    view.ts = ts;
    view.wireLength = packet.length;
    const { flow, fromInside } = this.flowOf(view);
    const direction = fromInside ? flow.out : flow.in;
    direction.packets++;
    direction.bytes += view.wireLength;
    if (direction.firstSeen === 0) direction.firstSeen = ts;
    direction.lastSeen = ts;
    const result: FeedResult = { flow, fromInside, inspected: false, evidence: [] };
    if (view.payloadLength <= 0) return result;
    direction.payloadPackets++;
    if (direction.firstPayloadLength === 0) direction.firstPayloadLength = view.payloadLength;
    if (flow.out.payloadPackets + flow.in.payloadPackets > this.inspectPackets) return result;
    result.inspected = true;
    this.detectors.forEach((detector, slot) => {
      const found = detector.inspect(view, flow, fromInside, slot, this.context);
      if (!found) return;
      // As the engine does: the first protocol labels the flow; rules are kept once, at most 8.
      flow.app ??= found.protocol;
      if (!flow.rules.includes(found.rule) && flow.rules.length < 8) flow.rules.push(found.rule);
      result.evidence.push(found);
    });
    return result;
  }

  /** Feeds packets in order; returns one result per packet. */
  feedAll(packets: readonly Uint8Array[]): FeedResult[] {
    return packets.map((packet, i) => this.feed(packet, i));
  }

  private flowOf(view: PacketView): { flow: Flow; fromInside: boolean } {
    const src = formatAddress(view.buf, view.srcAddressOffset, view.addressLength);
    const dst = formatAddress(view.buf, view.dstAddressOffset, view.addressLength);
    const forward = `${view.protocol} ${src} ${view.srcPort} ${dst} ${view.dstPort}`;
    const reverse = `${view.protocol} ${dst} ${view.dstPort} ${src} ${view.srcPort}`;
    const existing = this.flows.get(forward) ?? this.flows.get(reverse);
    if (existing) {
      const fromInside = formatAddressKey(existing.insideAddress) === src && existing.insidePort === view.srcPort;
      return { flow: existing, fromInside };
    }
    const srcInside = this.inside.has(src);
    const dstInside = this.inside.has(dst);
    // The source is the inside end unless only the destination is listed as inside.
    const sourceIsInside = srcInside || !dstInside;
    const srcKey = addressKey(view.buf, view.srcAddressOffset, view.addressLength);
    const dstKey = addressKey(view.buf, view.dstAddressOffset, view.addressLength);
    const flow = sourceIsInside
      ? new Flow(forward, view.protocol, view.ipVersion, srcKey, view.srcPort, dstKey, view.dstPort, crosses(srcInside, dstInside, this.inside.size))
      : new Flow(forward, view.protocol, view.ipVersion, dstKey, view.dstPort, srcKey, view.srcPort, crosses(srcInside, dstInside, this.inside.size));
    flow.initiatorInside = sourceIsInside;
    flow.startedFresh = view.protocol === IPPROTO_UDP || (view.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    this.flows.set(forward, flow);
    return { flow, fromInside: sourceIsInside };
  }
}

/** Without an inside list every flow crosses; with one, exactly one end must be inside. */
function crosses(srcInside: boolean, dstInside: boolean, insideCount: number): boolean {
  return insideCount === 0 || srcInside !== dstInside;
}

function canonical(ip: string): string {
  const parsed = parseAddress(ip);
  if (!parsed) throw new Error(`harness: bad address ${ip}`);
  return formatAddress(parsed, 0, parsed.length === 4 ? 4 : 16);
}

export interface StreamOptions extends Endpoints {
  /** Sequence number of the first payload byte. */
  seq?: number;
  /** Where to cut the payload into segments (offsets into it, ascending). */
  cuts?: readonly number[];
}

/** A payload as consecutive TCP segments with the right sequence numbers (PSH|ACK). */
export function tcpSegments(payload: Uint8Array | string, options: StreamOptions): Uint8Array[] {
  const data = bytes(payload);
  const seq = options.seq ?? 1000;
  const bounds = [0, ...(options.cuts ?? []), data.length];
  const segments: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    const end = bounds[i + 1]!;
    if (end <= start) continue;
    segments.push(tcp({ ...options, flags: PSH | ACK, seq: seq + start, payload: data.subarray(start, end) }));
  }
  return segments;
}

/** The opening SYN of a connection from `src` to `dst`, whose first payload byte is `seq`. */
export function tcpSyn(options: Endpoints & { seq?: number }): Uint8Array {
  return tcp({ ...options, flags: SYN, seq: (options.seq ?? 1000) - 1 });
}

/** The SYN-ACK answering tcpSyn(options) (same endpoints as the SYN, not swapped). */
export function tcpSynAck(options: Endpoints & { seq?: number }): Uint8Array {
  return tcp({ src: options.dst, dst: options.src, sport: options.dport, dport: options.sport, flags: SYN | ACK, seq: (options.seq ?? 1000) - 1 });
}

/** The same endpoints seen from the other side. */
export function reversed(endpoints: Endpoints): Endpoints {
  return { src: endpoints.dst, dst: endpoints.src, sport: endpoints.dport, dport: endpoints.sport };
}
