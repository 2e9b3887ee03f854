/**
 * The seam every P2P family plugs into. A protocol module reads packets and says what it saw;
 * the engine decides what that may do (services/sensor/src/engine.ts, `trust`): which evidence
 * identifies a client, which peers are learned, what is dropped. Nothing protocol-specific lives
 * outside the module's folder and its one registry line.
 */
import type { ConfigSchema, Transport } from '@p2pwall/common';
import type { PacketView } from '../decode/packet.js';
import type { ModuleBufferBudget } from './buffer-budget.js';

/** The packet being judged, read-only. Valid only during the call: never keep it. */
export type PacketReader = Readonly<PacketView>;

/** What a module may know of the flow a packet belongs to. Read-only; valid during the call. */
export interface FlowDigest {
  /** IP protocol number (6 TCP, 17 UDP). */
  readonly protocol: number;
  readonly ipVersion: 4 | 6;
  readonly insidePort: number;
  readonly outsidePort: number;
  /** Which side sent the first packet seen: true for the inside end. */
  readonly initiatorInside: boolean;
  /** Whether the flow was seen from its start (a TCP SYN, or any first UDP datagram). */
  readonly startedFresh: boolean;
  /**
   * Packets with payload counted so far, before the module is asked about this one, inside →
   * outside (out) and outside → inside (in), and the length of each direction's first payload
   * (0 until one was seen).
   */
  readonly outPayloadPackets: number;
  readonly inPayloadPackets: number;
  readonly outFirstPayloadLength: number;
  readonly inFirstPayloadLength: number;
}

/**
 * A module's memory of one flow. The engine hands the same object to every call of one module,
 * pointed at the flow of the moment, so asking costs no allocation.
 */
export interface FlowMemory<State> {
  /** The module's state for this flow, or undefined while it holds none. */
  readonly state: State | undefined;
  /** The state, created with the module's createState when there is none yet. */
  open(): State;
  /** Frees the state: the module keeps nothing for this flow (also what `isDone` leads to). */
  close(): void;
  /**
   * Says the module will find nothing more on this flow, whatever its later packets hold (a
   * stream that did not open like the protocol, a flow on another service's port): the engine
   * frees its state and shows it none of the flow's packets again. A module's later calls on
   * flows it cannot use are most of its calls; each costs a dispatch and the engine's loop.
   */
  pass(): void;
  /** Whether the engine accepted evidence of this module on this flow before this packet. */
  readonly concluded: boolean;
  /**
   * The engine's budget for every module's per-flow buffers: reserve before a buffer is made or
   * grown, and keep none when it refuses. What a state still holds when the engine frees it, the
   * engine gives back (the module's heldBytes); what the module frees itself, it gives back.
   */
  readonly buffers: ModuleBufferBudget;
}

/** An outside endpoint a payload names (a header, a peer list, a DHT node). */
export interface NamedPeer {
  /** Printable IPv4 or IPv6 address, as it appeared. */
  readonly ip: string;
  readonly port: number;
  /** What the protocol speaks there. */
  readonly transport: Transport;
  /** The rule id of how it was named, e.g. `fasttrack/x-kazaa-ip`. */
  readonly via: string;
  /**
   * Named peers on ports below 1024 are refused (they are where an attacker points a client at
   * the organisation's own services): a module that must learn one says why, and the README's
   * detection section names that reason.
   */
  readonly lowPortReason?: string;
  /**
   * How long the peer stays learned unless seen again, ms, when the way it was named deserves
   * less than the engine's peer TTL (a DHT contact rather than a swarm member); never more.
   */
  readonly ttlMs?: number;
}

/** What a module saw in one packet. */
export interface Evidence {
  /** `protocol/rule`, in the module's own namespace: `fasttrack/udp-ping`. */
  readonly rule: string;
  /**
   * Supporting evidence is a weak heuristic: the engine counts it only on a flow that the inside
   * host opened to an already learned peer, and never lets it name peers.
   */
  readonly supporting: boolean;
  /** The transport the flow's outside end is learned for (a peer the host itself contacted). */
  readonly transport: Transport;
  /** Short printable detail for operators, e.g. the network name `KaZaA`. */
  readonly detail?: string;
  /** Further outside endpoints the payload names. */
  readonly peers?: readonly NamedPeer[];
  /**
   * false: the flow's outside end is not learned as a peer (a web server that hosts a tracker on
   * port 80 serves other sites too); default true.
   */
  readonly outsideEndIsPeer?: boolean;
  /** How long the flow's outside end stays learned unless seen again, ms (see NamedPeer.ttlMs). */
  readonly ttlMs?: number;
  /**
   * The P2P family this evidence is about, when it is not the module's own (a DNS query for a
   * BitTorrent DHT router is about a BitTorrent client): the host is identified, and the peers
   * learned, under this protocol name; the rule stays in the module's namespace. One of the
   * module's `families`.
   */
  readonly family?: string;
  /**
   * false: the evidence says nothing about the inside host itself (it asked on others' behalf, as
   * a resolver does, or did what any browser may do): the engine counts it and labels the flow,
   * the peers it names may be learned, but the host is neither identified nor time-locked.
   * Default true.
   */
  readonly identifiesHost?: boolean;
  /**
   * false: the flow is not this protocol's traffic itself (a DNS query about BitTorrent travels
   * to a resolver): the flow keeps the rule, but its app is not named after the module, so
   * nothing downstream (the brain's fan-out rule) takes its outside end for a peer reached with
   * P2P evidence. Default true.
   */
  readonly labelsFlow?: boolean;
}

/** Per-module settings an operator may give (`detectors.<name>` in the sensor's YAML). */
export interface ModuleSettings {
  enabled: boolean;
  /** Payload packets per flow (both directions) this module sees; capped by the engine's bound. */
  inspectPackets: number;
  /** The module's own options (its `options.schema`), beside enabled and inspectPackets. */
  readonly [option: string]: unknown;
}

/**
 * Options a module declares for itself (`detectors.<name>.<option>` in the sensor's YAML): the
 * config loader validates them with `schema` (JSON schema, defaults filled in), asks `problems`
 * for what a schema cannot say, and runs the module `configure` returns.
 */
export interface ModuleOptions {
  /** JSON schema of each option, with its default; the chart's values schema picks them up. */
  readonly schema: Readonly<Record<string, ConfigSchema>>;
  /** What is wrong with options the schema accepted, each message starting with the option's key; [] when nothing. */
  problems(options: Readonly<Record<string, unknown>>): string[];
  /** The module configured with options that passed the schema and `problems`: same name, rules and families. */
  configure(options: Readonly<Record<string, unknown>>): ProtocolModule;
}

/**
 * One P2P family. `inspect` sees each payload-carrying packet of a flow whose transport it reads,
 * while the flow's payload packets (both directions, this one included) are within its depth and
 * the flow's counters already include this packet. `fromInside`: the packet travels inside →
 * outside.
 */
export interface ProtocolModule<State = unknown> {
  /** The protocol's name, also its rules' namespace: lower-case letters, digits and dashes. */
  readonly name: string;
  /** The transports whose packets it reads. */
  readonly transports: readonly ('tcp' | 'udp')[];
  /** Settles overlaps: the label of a flow two modules concluded on is the higher one's. */
  readonly priority: number;
  /** Default inspection depth (payload packets per flow, both directions). */
  readonly inspectPackets: number;
  /** Every rule id it can report (evidence rules and named-peer vias): for docs, metrics and checks. */
  readonly rules: readonly string[];
  /**
   * The other families its evidence may name (Evidence.family); absent: only its own. Protocol
   * names; a module that is not running may be named. Evidence naming another is refused.
   */
  readonly families?: readonly string[];
  /** Options beside enabled and inspectPackets (ModuleOptions); absent: none. */
  readonly options?: ModuleOptions;
  /** A fresh per-flow state; only modules that keep state across packets need one. */
  createState?(): State;
  /** Whether a state holds nothing the module still needs: the engine then frees it. */
  isDone?(state: State): boolean;
  /** Bytes of the buffer budget the state holds: the engine releases them when it frees the state. */
  heldBytes?(state: State): number;
  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: FlowMemory<State>): Evidence | null;
}
