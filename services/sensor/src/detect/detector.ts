import type { PacketView } from '../decode/packet.js';
import type { Flow } from '../track/flow.js';

/** An outside endpoint named inside a payload (for example in an `X-Kazaa-IP` header). */
export interface PeerHint {
  /** Printable IPv4 or IPv6 address, as it appeared. */
  ip: string;
  port: number;
  /** How it was learned, for example `x-kazaa-ip` or `x-kazaa-supernodeip`. */
  via: string;
}

/** What a detector saw in one packet. */
export interface Evidence {
  protocol: string;
  /** The rule that matched, for example `udp-ping` or `http-hash-request`. */
  rule: string;
  /**
   * Supporting evidence (a weak heuristic) only counts because the flow already leads to a
   * learned peer; detectors must not return it otherwise.
   */
  supporting: boolean;
  /** Short printable detail for operators, e.g. the network name `KaZaA`. */
  detail?: string;
  /** Further outside endpoints the payload names. */
  peerHints?: readonly PeerHint[];
}

export interface DetectContext {
  /** Whether the flow's outside endpoint is already a learned peer (for supporting evidence). */
  flowLeadsToKnownPeer(flow: Flow): boolean;
}

/**
 * One P2P protocol. `inspect` sees each payload-carrying packet of a flow (the first few per
 * flow; see EngineConfig.inspectPackets), after the flow's counters were updated for it.
 * `fromInside` says the packet travels inside → outside. A detector keeps its per-flow state in
 * `flow.detectorState[slot]`, where `slot` is given by the registry.
 */
export interface Detector {
  readonly protocol: string;
  inspect(packet: PacketView, flow: Flow, fromInside: boolean, slot: number, context: DetectContext): Evidence | null;
}
