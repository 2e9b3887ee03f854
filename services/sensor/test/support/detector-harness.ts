/**
 * Runs protocol modules over packets through the real engine (its flow accounting, inspect
 * windows, module memories and trust rules), with no kernel and no events to read: tests feed
 * real packets (see packets.ts) and look at what each module returned, whether the engine
 * accepted it, and the flow.
 */
import { DEFAULT_INSIDE_NETWORKS, CidrSet } from '../../src/decode/cidr.js';
import { addressKey, formatAddress, parseAddress } from '../../src/decode/address.js';
import { DecodeStatus, IPPROTO_TCP, IPPROTO_UDP, PacketView, decodeIp } from '../../src/decode/packet.js';
import type { Evidence, ProtocolModule } from '../../src/detect/module.js';
import { activeModules, protocolModules } from '../../src/detect/registry.js';
import { Engine } from '../../src/engine.js';
import type { Flow } from '../../src/track/flow.js';
import { ACK, PSH, SYN, bytes, tcp, type Endpoints } from '@p2pwall/lab';

export interface HarnessOptions {
  /** Defaults to every registered module; each runs with the harness's depth. */
  detectors?: readonly ProtocolModule[];
  /** Payload packets per flow (both directions) that modules see; the engine's default is 16. */
  inspectPackets?: number;
  /** Inside addresses (each a /32 or /128); without them the engine's default inside networks. */
  inside?: readonly string[];
}

/** What one module returned for a packet, and whether the engine's trust rules accepted it. */
export interface SeenEvidence {
  protocol: string;
  evidence: Evidence;
  accepted: boolean;
}

export interface FeedResult {
  flow: Flow;
  /** The packet travels inside → outside. */
  fromInside: boolean;
  /** Whether modules were asked about this packet (it carried payload inside the window). */
  inspected: boolean;
  /** What each module that answered returned, in priority order, accepted or not. */
  evidence: Evidence[];
  /** The same, with the engine's judgement. */
  seen: SeenEvidence[];
}

export class DetectorHarness {
  readonly engine: Engine;
  readonly inspectPackets: number;
  private seen: SeenEvidence[] = [];
  private readonly view = new PacketView();

  constructor(options: HarnessOptions = {}) {
    const modules = options.detectors ?? protocolModules;
    this.inspectPackets = options.inspectPackets ?? 16;
    const selection = Object.fromEntries(modules.map((module) => [module.name, { inspectPackets: this.inspectPackets }]));
    const inside = options.inside ? options.inside.map((ip) => `${canonical(ip)}/${ip.includes(':') ? 128 : 32}`) : DEFAULT_INSIDE_NETWORKS;
    this.engine = new Engine(
      {
        inside: new CidrSet(inside),
        modules: activeModules(selection, this.inspectPackets, { available: modules }),
        inspectPackets: this.inspectPackets,
        observeEvidence: (protocol, evidence, accepted) => this.seen.push({ protocol, evidence, accepted }),
      },
      () => {},
    );
  }

  /** Makes `ip` (on `port`, when given; else every port) a learned peer for TCP and UDP. */
  addKnownPeer(ip: string, port = 0): void {
    if (!this.engine.loadPeer(ip, port, 'both', { protocol: 'test', via: 'test/known', learnedFrom: null, learnedAt: 0, expiresAt: Number.MAX_SAFE_INTEGER })) {
      throw new Error(`harness: cannot load peer ${ip}`);
    }
  }

  /** Feeds one IP packet; throws for anything that is not a decodable TCP/UDP packet. */
  feed(packet: Uint8Array, ts = 0): FeedResult {
    const view = this.view;
    const status = decodeIp(view, packet, 0, packet.length);
    if (status !== DecodeStatus.ok) throw new Error(`harness: packet does not decode (status ${status}, ${view.malformedReason})`);
    if (view.protocol !== IPPROTO_TCP && view.protocol !== IPPROTO_UDP) throw new Error(`harness: protocol ${view.protocol}`);
    this.seen = [];
    this.engine.judgeIp(packet, 0, packet.length, ts);
    const flow = this.engine.lastFlow!;
    const fromInside = flow.insideAddress === addressKey(view.buf, view.srcAddressOffset, view.addressLength) && flow.insidePort === view.srcPort;
    const inspected = view.payloadLength > 0 && flow.outPayloadPackets + flow.inPayloadPackets <= this.inspectPackets;
    const seen = this.seen;
    return { flow, fromInside, inspected, evidence: seen.map((entry) => entry.evidence), seen };
  }

  /** Feeds packets in order; returns one result per packet. */
  feedAll(packets: readonly Uint8Array[]): FeedResult[] {
    return packets.map((packet, i) => this.feed(packet, i));
  }
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
