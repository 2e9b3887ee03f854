import type { Transport } from '@p2pwall/common';

/**
 * What the engine tells the world. Every event carries ftwall's letter where ftwall had one:
 * c = client identified, p = peer learned, t/T = TCP dropped/accepted, u/U = UDP dropped/accepted.
 */

export interface EvidenceRecord {
  protocol: string;
  rule: string;
  /** Ordinal of the packet in the engine's input (1-based). */
  packet: number;
  /** `udp 192.168.1.5:1214 > 203.0.113.9:1214`: the packet's own direction. */
  flow: string;
  supporting: boolean;
  detail?: string;
}

export interface ClientEvent {
  event: 'client';
  letter: 'c';
  ts: number;
  host: string;
  /** The protocol this identification is by (a host identified by a second protocol gets a second event). */
  protocol: string;
  /** Every protocol the host was identified by so far, first seen first. */
  protocols: string[];
  evidence: EvidenceRecord[];
  /** Packets the engine had seen from this host when it identified it, and since its first one. */
  hostPackets: number;
  msSinceFirstPacket: number;
  lockedUntil: number;
  reidentified: boolean;
}

export interface LockEvent {
  event: 'lock';
  ts: number;
  host: string;
  lockedUntil: number;
}

export interface PeerEvent {
  event: 'peer' | 'peer-refresh';
  letter: 'p';
  ts: number;
  ip: string;
  /** 0: every port of the address. */
  port: number;
  /** What it is blocked for: tcp, udp or both. */
  transport: Transport;
  protocol: string;
  via: string;
  learnedFrom: string | null;
  expiresAt: number;
}

export interface FlowEvent {
  event: 'flow';
  letter: 't' | 'T' | 'u' | 'U' | null;
  ts: number;
  proto: string;
  /** The side that sent the first packet seen. */
  src: string;
  sport: number;
  dst: string;
  dport: number;
  app: string | null;
  rules: readonly string[];
  verdict: 'drop' | 'accept';
  reason: string;
  /** A packet was judged "drop" but passed: monitor mode, or UDP when UDP is not dropped. */
  wouldDrop: boolean;
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  droppedPackets: number;
  answered: boolean;
  firstSeen: number;
  lastSeen: number;
  /**
   * Why the flow ended, or `ongoing`: an interim report of a live flow (see EngineConfig
   * interimMs). Counters are totals since the flow's first packet, so a later report of the same
   * flow supersedes an earlier one; never add them up.
   */
  end: 'idle' | 'evicted' | 'flushed' | 'ongoing';
}

export type EngineEvent = ClientEvent | LockEvent | PeerEvent | FlowEvent;

export type EventSink = (event: EngineEvent) => void;
