import { endpointText, ipProtocolName, type Transport } from '@p2pwall/common';
import { addressKey, addressKeyFromText, formatAddressKey, parseAddress, isUnicastAddress, parseIpv4Into } from './decode/address.js';
import { DecodeStatus, IPPROTO_TCP, IPPROTO_UDP, PacketView, TCP_ACK, TCP_SYN, decodeIp } from './decode/packet.js';
import { DetectionCounts } from './detect/detection-counts.js';
import type { Evidence, NamedPeer } from './detect/module.js';
import type { ActiveModule } from './detect/registry.js';
import { ModuleBufferBudget } from './detect/buffer-budget.js';
import { SlotMemory } from './detect/slot-memory.js';
import { engineConfig, type EngineConfig } from './engine-config.js';
import type { EventSink, EvidenceRecord, FlowEvent } from './events.js';
import { ClientTable, protocolNames } from './track/clients.js';
import { Flow, Verdict, withRule } from './track/flow.js';
import { FlowTable, type FlowEndCause } from './track/flow-table.js';
import { HostTable, type InsideHost } from './track/hosts.js';
import { PeerAdmission } from './track/peer-guard.js';
import { PeerTable, type PeerEntry } from './track/peers.js';
import { EvidenceTrust, evidenceTrust, mayNamePeers } from './trust.js';

export { Verdict };

/** Why a packet got its verdict. Constant strings: reading one allocates nothing. */
export const Reason = {
  clean: 'clean',
  signature: 'signature',
  learnedPeer: 'learned-peer',
  timeLock: 'time-lock',
  internal: 'internal',
  malformed: 'malformed',
  notIp: 'not-ip',
  fragment: 'fragment',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export class EngineCounters {
  packets = 0;
  bytes = 0;
  malformed = 0;
  notIp = 0;
  laterFragments = 0;
  accepted = 0;
  /** Accepted as clean: across the boundary, nothing against it (part of accepted). */
  acceptedClean = 0;
  /** Accepted because both ends are on one side (part of accepted). */
  acceptedInternal = 0;
  dropped = 0;
  /** Judged "drop" but let through (monitor mode, or UDP when UDP is not dropped); part of accepted. */
  wouldDrop = 0;
  wouldDropLearnedPeer = 0;
  wouldDropTimeLock = 0;
  wouldDropSignature = 0;
  droppedLearnedPeer = 0;
  droppedTimeLock = 0;
  droppedSignature = 0;
  flows = 0;
  /** Evidence the engine accepted (see evidenceRefused*). */
  evidence = 0;
  /** Evidence refused: sent unsolicited from outside (on a flow an outside host opened). */
  evidenceRefusedUnsolicited = 0;
  /** Evidence refused: a reply on a flow whose inside host sent nothing of that protocol. */
  evidenceRefusedUnanswered = 0;
  /** Evidence refused: about a family its module does not declare (ProtocolModule.families). */
  evidenceRefusedFamily = 0;
  /** Supporting evidence refused: not on a flow the inside host opened to a learned peer. */
  evidenceRefusedSupporting = 0;
  clients = 0;
  peers = 0;
  /** Peers refused by the guards, by reason (see track/peer-guard.ts). */
  peersRefusedReserved = 0;
  peersRefusedInside = 0;
  peersRefusedProtected = 0;
  peersRefusedAllowlisted = 0;
  peersRefusedLowPort = 0;
  /** Peers not learned because a flow or a host reached its cap. */
  peersCappedFlow = 0;
  peersCappedHost = 0;
  /** Module buffers (a header block spanning segments) not kept or not grown: the budget was spent. */
  moduleBuffersRefused = 0;
}

const HOUSEKEEPING_INTERVAL_MS = 1000;

/**
 * The pure core of the sensor: one packet and the time in, a verdict out, events to the sink.
 * No sockets, timers or files: the live NFQUEUE sensor and offline analysis drive it alike.
 */
export class Engine {
  readonly config: EngineConfig;
  readonly counters = new EngineCounters();
  readonly flows: FlowTable;
  readonly peers: PeerTable;
  readonly clients: ClientTable;
  readonly hosts: HostTable;
  /** Evidence matched, by protocol and rule (counters.evidence is their sum). */
  readonly detections = new DetectionCounts();
  /** The reason for the last verdict returned. */
  lastReason: Reason = Reason.clean;
  /**
   * Whether the last accepted packet's flow is judged clean: the detectors are done with it and
   * nothing about it can change its verdict but the peer and lock tables, which the kernel
   * consults by itself. The live sensor then lets the connection skip the queue.
   */
  lastFlowClean = false;
  /** The flow of the last packet judged; null for one that had none (malformed, not TCP/UDP-decodable). */
  lastFlow: Flow | null = null;

  /** The peer guards and caps (track/peer-guard.ts), with the operator's allowed endpoints. */
  readonly admission: PeerAdmission;
  /** leadsToPeer, bound once: the trust rules ask it for supporting evidence. */
  private readonly flowLeadsToPeer = (flow: Flow): boolean => this.leadsToPeer(flow);
  private readonly view = new PacketView();
  /** Scratch for a named peer's IPv4 address (learnNamedPeer). */
  private readonly namedAddress = new Uint8Array(4);
  private readonly openPort = new Uint8Array(65536);
  private readonly modules: readonly ActiveModule[];
  /** The slots' bits of the modules that do not read TCP, and of those that do not read UDP. */
  private readonly notTcpSlots: number;
  private readonly notUdpSlots: number;
  /** Per module (by slot): its depth (payload packets per flow it sees; the config allows up to 1,000). */
  private readonly depths: Uint16Array;
  private readonly memories: SlotMemory[];
  /** Each module's bit in a flow's labels, by its name (the flow's app). */
  private readonly moduleBits: ReadonlyMap<string, number>;
  /** Per module (by slot): the other families its evidence may be about. */
  private readonly moduleFamilies: readonly ReadonlySet<string>[];
  /** Every module's per-flow buffers together (limits.moduleBufferBytes). */
  readonly moduleBuffers: ModuleBufferBudget;
  /** The deepest any module looks: past it a flow's module states are all freed. */
  private readonly maxDepth: number;
  private readonly observeEvidence: EngineConfig['observeEvidence'];
  private lastHousekeeping = -Infinity;
  private now = 0;
  /** config.interimMs, read on every packet. */
  private readonly interimMs: number;
  /** Made once: housekeeping hands it every flow due for an interim report. */
  private readonly reportOngoing = (flow: Flow): void => this.emit(flowEvent(flow, 'ongoing', this.now));

  constructor(
    config: Partial<EngineConfig>,
    private readonly emit: EventSink,
  ) {
    this.config = engineConfig(config);
    if (!(this.config.interimMs >= 0)) throw new RangeError(`interimMs must be >= 0, got ${this.config.interimMs}`);
    this.interimMs = this.config.interimMs;
    for (const port of this.config.openPorts) this.openPort[port] = 1;
    this.flows = new FlowTable(this.config.maxFlows, this.config.flowTimeouts, (flow, cause) => this.flowEnded(flow, cause));
    this.peers = new PeerTable(this.config.maxPeers, this.config.peerTtlMs);
    this.clients = new ClientTable(this.config.maxClients, this.config.timeLockMs);
    this.hosts = new HostTable(this.config.maxHosts);
    this.admission = new PeerAdmission(this.config, this.counters);
    this.modules = this.config.modules;
    this.notTcpSlots = slotBits(this.modules, ({ module }) => !module.transports.includes('tcp'));
    this.notUdpSlots = slotBits(this.modules, ({ module }) => !module.transports.includes('udp'));
    this.depths = Uint16Array.from(this.modules, (active) => active.inspectPackets);
    this.moduleBuffers = new ModuleBufferBudget(this.config.moduleBufferBytes, this.counters);
    this.moduleBits = new Map(this.modules.map(({ module }, slot) => [module.name, 1 << slot]));
    this.moduleFamilies = this.modules.map(({ module }) => new Set(module.families ?? []));
    this.memories = this.modules.map(({ module }, slot) => new SlotMemory(slot, module, this.moduleBuffers, this.modules.length));
    this.observeEvidence = this.config.observeEvidence;
    this.maxDepth = Math.min(this.config.inspectPackets, Math.max(0, ...this.modules.map((active) => active.inspectPackets)));
  }

  /** Judges the IP packet at buf[offset, end). `now` is in ms. */
  judgeIp(buf: Uint8Array, offset: number, end: number, now: number, wireLength = end - offset): Verdict {
    const counters = this.counters;
    counters.packets++;
    counters.bytes += wireLength;
    this.now = now;
    if (now - this.lastHousekeeping >= HOUSEKEEPING_INTERVAL_MS) this.housekeeping(now);
    const view = this.view;
    const status = decodeIp(view, buf, offset, end);
    view.ts = now;
    view.wireLength = wireLength;
    this.lastFlowClean = false;
    this.lastFlow = null;
    if (status === DecodeStatus.malformed) {
      counters.malformed++;
      return this.accept(Reason.malformed);
    }
    if (status === DecodeStatus.laterFragment) {
      // Only first fragments carry ports; the kernel reassembles before queueing anyway.
      counters.laterFragments++;
      return this.accept(Reason.fragment);
    }
    return this.judgeDecoded(view, now);
  }

  /** Counts a frame that carried no IP packet (offline sources only). */
  countNotIp(): void {
    this.counters.packets++;
    this.counters.notIp++;
  }

  /** Counts a frame whose link header was unreadable (offline sources only). */
  countMalformedFrame(): void {
    this.counters.packets++;
    this.counters.malformed++;
  }

  private judgeDecoded(view: PacketView, now: number): Verdict {
    const buf = view.buf;
    const addressLength = view.addressLength;
    const srcOffset = view.srcAddressOffset;
    const dstOffset = view.dstAddressOffset;
    const inside = this.config.inside;
    const srcInside = inside.contains(buf, srcOffset, addressLength);
    const dstInside = inside.contains(buf, dstOffset, addressLength);
    const sport = view.srcPort;
    const dport = view.dstPort;
    const crossesBoundary = srcInside !== dstInside;

    // The key puts the inside end first; with both ends on one side, the lower end goes first,
    // so both directions find the same flow whichever end spoke first.
    const srcFirst = crossesBoundary ? srcInside : compareEnds(buf, srcOffset, sport, dstOffset, dport, addressLength) <= 0;
    const flows = this.flows;
    if (srcFirst) flows.setKey(view.protocol, buf, srcOffset, sport, dstOffset, dport, addressLength);
    else flows.setKey(view.protocol, buf, dstOffset, dport, srcOffset, sport, addressLength);

    let flow = flows.find();
    let fromInside = crossesBoundary ? srcInside : true;
    if (flow === undefined) {
      flow = this.startFlow(view, fromInside, crossesBoundary, now);
    } else if (!crossesBoundary) {
      fromInside = flow.insidePort === sport && flow.insideAddress === addressKey(buf, srcOffset, addressLength);
    }
    this.flows.touch(flow);
    this.lastFlow = flow;
    // Only flows across the boundary interest the brain while they live.
    if (this.interimMs > 0 && flow.crossesBoundary) this.flows.noteChange(flow, now);

    const payloadLength = view.payloadLength;
    flow.count(fromInside, view.wireLength, payloadLength);
    if (flow.firstSeen === 0) flow.firstSeen = now;
    flow.lastSeen = now;
    flow.host!.packets++;

    let signature = false;
    if (payloadLength > 0) {
      const inspected = flow.outPayloadPackets + flow.inPayloadPackets;
      if (inspected <= this.maxDepth) signature = this.inspect(view, flow, fromInside, inspected, now);
      // Every module is done with this flow: free their buffers now, not at eviction.
      else if (flow.moduleStates !== null) this.freeModuleStates(flow);
    }

    if (!flow.crossesBoundary) {
      this.lastFlowClean = true;
      this.counters.acceptedInternal++;
      return this.accept(Reason.internal);
    }
    if (this.leadsToPeer(flow)) return this.judgeDrop(flow, signature ? Reason.signature : Reason.learnedPeer);
    if (flow.timeLockCandidate && this.clients.isLocked(flow.host!.client, now)) return this.judgeDrop(flow, Reason.timeLock);
    this.lastFlowClean = isClean(flow);
    this.counters.acceptedClean++;
    return this.accept(Reason.clean);
  }

  /**
   * A new flow under the key at hand (FlowTable.setKey). When the table is full, the least
   * recently active flow ends first (its end event goes out) and its object becomes this one.
   */
  private startFlow(view: PacketView, fromInside: boolean, crossesBoundary: boolean, now: number): Flow {
    const buf = view.buf;
    const isTcp = view.protocol === IPPROTO_TCP;
    const insideOffset = fromInside ? view.srcAddressOffset : view.dstAddressOffset;
    const outsideOffset = fromInside ? view.dstAddressOffset : view.srcAddressOffset;
    const outsidePort = fromInside ? view.dstPort : view.srcPort;
    const host = this.hosts.forNewFlow(buf, insideOffset, view.addressLength, now);
    const flow = this.flows.add(view.protocol);
    // The host record's key is the inside address key: shared, not one more string per flow.
    flow.reset(view.protocol, view.ipVersion, host.addressKey, fromInside ? view.srcPort : view.dstPort, '', outsidePort, crossesBoundary);
    flow.outsideAddressFrom(buf, outsideOffset, view.addressLength);
    flow.initiatorInside = fromInside;
    flow.startedFresh = isTcp ? (view.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN : true;
    flow.host = host;
    // A host record made anew (first flow, or after eviction) finds its client entry again.
    host.client ??= this.clients.get(host.addressKey) ?? null;
    flow.timeLockCandidate =
      crossesBoundary &&
      fromInside &&
      flow.startedFresh &&
      (isTcp || view.protocol === IPPROTO_UDP) &&
      outsidePort > 1023 &&
      this.openPort[outsidePort] === 0 &&
      isUnicastAddress(buf, view.dstAddressOffset, view.addressLength) &&
      this.clients.isLocked(host.client, now);
    this.counters.flows++;
    return flow;
  }

  /** Frees every module's state of the flow, giving their buffer budget back. */
  private freeModuleStates(flow: Flow): void {
    const memories = this.memories;
    for (let slot = 0; slot < memories.length; slot++) {
      const memory = memories[slot]!;
      memory.flow = flow;
      memory.close();
    }
    flow.moduleStates = null;
  }

  private inspect(view: PacketView, flow: Flow, fromInside: boolean, inspected: number, now: number): boolean {
    const modules = this.modules;
    const depths = this.depths;
    // The modules not to call: those that do not read this transport, and those that passed.
    const skipped = (view.protocol === IPPROTO_TCP ? this.notTcpSlots : view.protocol === IPPROTO_UDP ? this.notUdpSlots : -1) | flow.passedModules;
    let found = false;
    for (let slot = 0; slot < modules.length; slot++) {
      if ((skipped & (1 << slot)) !== 0) continue;
      const memory = this.memories[slot]!;
      memory.flow = flow;
      if (inspected > depths[slot]!) {
        // Past this module's depth: it sees no more of the flow, and keeps nothing for it.
        if (flow.moduleStates !== null) memory.close();
        continue;
      }
      memory.concluded = (flow.labels & (1 << slot)) !== 0;
      const evidence = modules[slot]!.module.inspect(view, flow, fromInside, memory);
      // Only a module that holds state for the flow has any to free.
      const states = flow.moduleStates;
      if (states !== null && states[slot] !== undefined) memory.closeIfDone();
      if (evidence !== null && this.onEvidence(view, flow, fromInside, slot, evidence, now)) found = true;
    }
    return found;
  }

  /** Evidence a module returned: the trust rules (trust.ts) decide what it may do. Returns whether it counted. */
  private onEvidence(view: PacketView, flow: Flow, fromInside: boolean, slot: number, evidence: Evidence, now: number): boolean {
    const protocol = this.modules[slot]!.module.name;
    const bit = 1 << slot;
    const trust = evidenceTrust(flow, fromInside, bit, evidence, this.flowLeadsToPeer, this.moduleFamilies[slot]!);
    if (this.observeEvidence !== null) this.observeEvidence(protocol, evidence, trust === EvidenceTrust.accepted);
    if (trust !== EvidenceTrust.accepted) {
      if (trust === EvidenceTrust.unsolicited) this.counters.evidenceRefusedUnsolicited++;
      else if (trust === EvidenceTrust.unanswered) this.counters.evidenceRefusedUnanswered++;
      else if (trust === EvidenceTrust.undeclaredFamily) this.counters.evidenceRefusedFamily++;
      else this.counters.evidenceRefusedSupporting++;
      return false;
    }
    this.counters.evidence++;
    this.detections.add(protocol, evidence.rule);
    if ((flow.labels & bit) === 0) {
      // Slots are in priority order: the lowest slot whose evidence names flows names the flow.
      if (evidence.labelsFlow !== false) {
        const named = flow.app === null ? 0 : (this.moduleBits.get(flow.app) ?? 0);
        if (named === 0 || bit < named) flow.app = protocol;
      }
      flow.labels |= bit;
    }
    if (fromInside) flow.ownLabels |= bit;
    flow.rules = withRule(flow.rules, evidence.rule);
    if (!flow.crossesBoundary) return true;

    // What the evidence is about: the module's own family, or the one it names (a DNS query for a
    // BitTorrent router identifies a BitTorrent client); clients and peers are that family's.
    const family = evidence.family ?? protocol;
    const host = flow.host!;
    let learnedFrom: string;
    if (evidence.identifiesHost === false) {
      learnedFrom = host.client?.host ?? formatAddressKey(flow.insideAddress);
    } else {
      const { entry, change } = this.clients.identify(flow.insideAddress, family, evidence.rule, now);
      host.client = entry;
      learnedFrom = entry.host;
      if (change === 'new') {
        if (entry.evidenceCount === 1) this.counters.clients++;
        this.emit({
          event: 'client',
          letter: 'c',
          ts: now,
          host: entry.host,
          protocol: family,
          protocols: protocolNames(entry),
          evidence: [this.evidenceRecord(view, fromInside, family, evidence)],
          hostPackets: host.packets,
          msSinceFirstPacket: now - host.firstSeen,
          lockedUntil: entry.lockedUntil,
          reidentified: entry.evidenceCount > 1,
        });
      } else if (change === 'relocked') {
        this.emit({ event: 'lock', ts: now, host: entry.host, lockedUntil: entry.lockedUntil });
      }
    }

    // The outside end listens on its port when the inside host reached it, and for UDP, where
    // peers answer from their listening port; a TCP peer that called in is learned as a whole
    // address, since its source port says nothing about where it listens.
    const peerPort = flow.protocol === IPPROTO_UDP || flow.initiatorInside ? flow.outsidePort : 0;
    const outsideOffset = fromInside ? view.dstAddressOffset : view.srcAddressOffset;
    if (evidence.outsideEndIsPeer !== false && this.admission.admit(view.buf, outsideOffset, view.addressLength, flow.outsideAddress, peerPort, null, flow, host, now)) {
      if (this.learnPeer(flow.outsideAddress, peerPort, evidence.transport, family, evidence.rule, learnedFrom, now, evidence.ttlMs)) this.admission.learned(flow, host);
    }
    if (evidence.peers !== undefined && mayNamePeers(flow, bit, evidence)) {
      for (const named of evidence.peers) this.learnNamedPeer(named, family, flow, host, learnedFrom, now);
    }
    return true;
  }

  private learnNamedPeer(named: NamedPeer, protocol: string, flow: Flow, host: InsideHost, learnedFrom: string, now: number): void {
    if (!(named.port >= 1 && named.port <= 65535)) return;
    const ipv4 = parseIpv4Into(named.ip, this.namedAddress);
    const bytes = ipv4 ? this.namedAddress : parseAddress(named.ip);
    if (bytes === null) return;
    const length = ipv4 ? 4 : (bytes.length as 4 | 16);
    const key = addressKey(bytes, 0, length);
    if (this.admission.admit(bytes, 0, length, key, named.port, named, flow, host, now)) {
      // Text parseIpv4Into accepted is already canonical: the peer entry keeps it as it is.
      if (this.learnPeer(key, named.port, named.transport, protocol, named.via, learnedFrom, now, named.ttlMs, ipv4 ? named.ip : undefined)) this.admission.learned(flow, host);
    }
  }

  /**
   * Learns (or refreshes) a peer; true when it is new. `ttlMs`: the module's shorter lifetime for
   * this kind of evidence (never longer than the configured peer TTL).
   */
  private learnPeer(addressKeyOfPeer: string, port: number, transport: Transport, protocol: string, via: string, learnedFrom: string, now: number, ttlMs?: number, ipText?: string): boolean {
    const expiresAt = ttlMs !== undefined && ttlMs > 0 && ttlMs < this.config.peerTtlMs ? now + ttlMs : undefined;
    const peers = this.peers;
    const entry = peers.learnPeer(addressKeyOfPeer, port, transport, protocol, via, learnedFrom, now, expiresAt, ipText);
    const change = peers.lastChange;
    if (change === 'none') return false;
    if (change === 'new') this.counters.peers++;
    this.emitPeer(entry, change === 'new' ? 'peer' : 'peer-refresh', now);
    return change === 'new';
  }

  private emitPeer(entry: PeerEntry, kind: 'peer' | 'peer-refresh', now: number): void {
    this.emit({
      event: kind,
      letter: 'p',
      ts: now,
      ip: entry.ip,
      port: entry.port,
      transport: entry.transport,
      protocol: entry.protocol,
      via: entry.via,
      learnedFrom: entry.learnedFrom,
      expiresAt: entry.expiresAt,
    });
  }

  /**
   * Whether the flow's outside end is a learned peer; cached until the peer table changes, and a
   * "yes" until the entry it found expires (a refresh that moved the expiry is found by looking
   * again then).
   */
  private leadsToPeer(flow: Flow): boolean {
    if (!flow.crossesBoundary) return false;
    const peers = this.peers;
    if (flow.peerVersion === peers.version && (!flow.leadsToPeer || this.now < flow.leadsToPeerUntil)) return flow.leadsToPeer;
    const transport = flow.protocol === IPPROTO_UDP ? 'udp' : 'tcp';
    const ipv4 = flow.outsideIpv4();
    const entry = ipv4 >= 0 ? peers.lookupIpv4(ipv4, flow.outsidePort, transport, this.now) : peers.lookup(flow.outsideAddress, flow.outsidePort, transport, this.now);
    flow.leadsToPeer = entry !== null;
    flow.leadsToPeerUntil = entry === null ? 0 : entry.expiresAt;
    flow.peerVersion = peers.version;
    return flow.leadsToPeer;
  }

  private judgeDrop(flow: Flow, reason: Reason): Verdict {
    const counters = this.counters;
    this.lastFlowClean = false;
    const firstJudgedDrop = !flow.wouldDrop && flow.verdict === Verdict.accept;
    if (this.config.monitor || (flow.protocol === IPPROTO_UDP && !this.config.dropUdp)) {
      counters.wouldDrop++;
      if (reason === Reason.learnedPeer) counters.wouldDropLearnedPeer++;
      else if (reason === Reason.timeLock) counters.wouldDropTimeLock++;
      else counters.wouldDropSignature++;
      if (firstJudgedDrop) flow.reason = reason;
      flow.wouldDrop = true;
      if (firstJudgedDrop) this.reportAttempt(flow);
      return this.accept(reason);
    }
    counters.dropped++;
    if (reason === Reason.learnedPeer) counters.droppedLearnedPeer++;
    else if (reason === Reason.timeLock) counters.droppedTimeLock++;
    else counters.droppedSignature++;
    if (flow.verdict === Verdict.accept) {
      flow.verdict = Verdict.drop;
      flow.reason = reason;
    }
    flow.droppedPackets++;
    this.lastReason = reason;
    if (firstJudgedDrop) this.reportAttempt(flow);
    return Verdict.drop;
  }

  /**
   * A flow just judged "drop" for the first time (an attempt to a blocked peer, a locked
   * client's connect) is reported now, when interim reports are on: the brain correlates
   * attempts, and waiting for the idle timeout would show them minutes late.
   */
  private reportAttempt(flow: Flow): void {
    if (this.interimMs === 0) return;
    this.flows.markSummarized(flow);
    this.emit(flowEvent(flow, 'ongoing', this.now));
  }

  private accept(reason: Reason): Verdict {
    this.counters.accepted++;
    this.lastReason = reason;
    return Verdict.accept;
  }

  private evidenceRecord(view: PacketView, fromInside: boolean, protocol: string, evidence: Evidence): EvidenceRecord {
    const buf = view.buf;
    const length = view.addressLength;
    const src = formatAddressKey(addressKey(buf, view.srcAddressOffset, length));
    const dst = formatAddressKey(addressKey(buf, view.dstAddressOffset, length));
    const proto = ipProtocolName(view.protocol);
    const record: EvidenceRecord = {
      protocol,
      rule: evidence.rule,
      packet: this.counters.packets,
      flow: `${proto} ${endpointText(src, view.srcPort)} > ${endpointText(dst, view.dstPort)}${fromInside ? '' : ' (inbound)'}`,
      supporting: evidence.supporting,
    };
    if (evidence.detail !== undefined) record.detail = evidence.detail;
    return record;
  }

  /** Loads a peer known from elsewhere (storefile, shared blocklist); false if unusable. */
  loadPeer(ip: string, port: number, transport: Transport, details: { protocol: string; via: string; learnedFrom: string | null; learnedAt: number; expiresAt: number }): boolean {
    return this.peers.load(ip, port, transport, details, this.now) !== null;
  }

  /** Forgets a peer (an operator's unblock, an expired shared decision); false if unknown. */
  removePeer(ip: string, port: number, transport: Transport): boolean {
    const key = addressKeyFromText(ip);
    return key !== null && this.peers.remove(key, port, transport);
  }

  /** Time-locks an inside host on a shared decision, as if it had been identified here. */
  lockHost(ip: string, lockedUntil: number): boolean {
    const key = addressKeyFromText(ip);
    if (key === null) return false;
    const entry = this.clients.lock(key, lockedUntil, this.now);
    const host = this.hosts.get(key);
    if (host) host.client = entry;
    return true;
  }

  /** Lifts a host's time-lock (an operator's allow, or the shared lock was withdrawn). */
  unlockHost(ip: string): boolean {
    const key = addressKeyFromText(ip);
    return key !== null && this.clients.unlock(key);
  }

  /** An operator's allow entry for an inside host: unlocked now, and not locked again until `until` (ms). */
  allowHost(ip: string, until: number): boolean {
    const key = addressKeyFromText(ip);
    if (key === null) return false;
    this.clients.allow(key, until);
    return true;
  }

  /**
   * An operator's allow entry for an outside endpoint (port 0: the whole address), for every
   * transport: not learned again until `until` (ms). Returns the learned peers it covered, now
   * forgotten (their kernel entries must go too), or null for an unusable address.
   */
  allowPeer(ip: string, port: number, until: number): PeerEntry[] | null {
    const key = addressKeyFromText(ip);
    if (key === null) return null;
    this.admission.allowed.allow(formatAddressKey(key), port, until);
    return this.peers.removeCovered(key, port);
  }

  /** The endpoint's allow entry ended. */
  disallowPeer(ip: string, port: number): boolean {
    const key = addressKeyFromText(ip);
    return key !== null && this.admission.allowed.disallow(formatAddressKey(key), port);
  }

  /** The host's allow entry ended: evidence locks it again from now on. */
  disallowHost(ip: string): boolean {
    const key = addressKeyFromText(ip);
    return key !== null && this.clients.disallow(key);
  }

  /**
   * Periodic work: flow idle expiry, interim reports of live flows, peer expiry. Called from
   * judgeIp about once a second; the live sensor also calls it from a timer, so that reports
   * leave while no packet arrives.
   */
  housekeeping(now: number): void {
    this.lastHousekeeping = now;
    this.now = now;
    // Expiry first: a flow that ended gets its end report, not an interim one as well.
    this.flows.expire(now);
    if (this.interimMs > 0) this.flows.summarizeChanged(now - this.interimMs, this.reportOngoing);
    this.peers.prune(now);
  }

  /** Ends every flow (emitting its flow event): end of input or shutdown. */
  flush(now: number): void {
    this.now = now;
    this.flows.flush();
  }

  private flowEnded(flow: Flow, cause: FlowEndCause): void {
    if (flow.moduleStates !== null) this.freeModuleStates(flow);
    this.emit(flowEvent(flow, cause, this.now));
    // The object waits in the table for its next flow: it must not keep the host record alive.
    flow.host = null;
  }
}

/** Payload packets from one side alone after which a one-way flow (an upload) is clean too. */
const ONE_WAY_CLEAN_PAYLOADS = 4;

/**
 * Clean: both sides have spoken (or one side has sent several payloads, as an upload does), no
 * detector holds state for it, nothing labelled it, and no packet of it was judged "drop".
 */
function isClean(flow: Flow): boolean {
  if (flow.app !== null || flow.wouldDrop || flow.verdict === Verdict.drop) return false;
  const out = flow.outPayloadPackets;
  const back = flow.inPayloadPackets;
  if ((out === 0 || back === 0) && Math.max(out, back) < ONE_WAY_CLEAN_PAYLOADS) return false;
  const states = flow.moduleStates;
  if (states !== null) {
    for (const state of states) if (state !== undefined) return false;
  }
  return true;
}

/** Orders two (address, port) ends: negative when the first is lower. */
function compareEnds(buf: Uint8Array, aOffset: number, aPort: number, bOffset: number, bPort: number, addressLength: number): number {
  for (let i = 0; i < addressLength; i++) {
    const difference = buf[aOffset + i]! - buf[bOffset + i]!;
    if (difference !== 0) return difference;
  }
  return aPort - bPort;
}

/** The bits of the slots whose module `has` says yes to. */
function slotBits(modules: readonly ActiveModule[], has: (active: ActiveModule) => boolean): number {
  let bits = 0;
  modules.forEach((active, slot) => {
    if (has(active)) bits |= 1 << slot;
  });
  return bits;
}

function flowEvent(flow: Flow, cause: FlowEvent['end'], now: number): FlowEvent {
  // The host record's text is the inside address's (startFlow files the flow under its host's key).
  const inside = flow.host !== null ? flow.host.addressText : formatAddressKey(flow.insideAddress);
  const outside = flow.outsideAddressText();
  const initiatorInside = flow.initiatorInside;
  const dropped = flow.verdict === Verdict.drop;
  let letter: FlowEvent['letter'] = null;
  if (flow.crossesBoundary && (flow.protocol === IPPROTO_TCP || flow.protocol === IPPROTO_UDP) && (flow.app !== null || dropped || flow.wouldDrop)) {
    const base = flow.protocol === IPPROTO_TCP ? 't' : 'u';
    letter = (dropped ? base : base.toUpperCase()) as FlowEvent['letter'];
  }
  return {
    event: 'flow',
    letter,
    ts: now,
    proto: ipProtocolName(flow.protocol),
    src: initiatorInside ? inside : outside,
    sport: initiatorInside ? flow.insidePort : flow.outsidePort,
    dst: initiatorInside ? outside : inside,
    dport: initiatorInside ? flow.outsidePort : flow.insidePort,
    app: flow.app,
    // A live flow's rules may still grow; the event keeps what was true when it was made. An
    // ended flow's go with its event (its object is reused: Flow.reset gives it NO_RULES), and
    // so does NO_RULES itself, which nobody writes.
    rules: cause === 'ongoing' && flow.rules.length > 0 ? flow.rules.slice() : flow.rules,
    verdict: dropped ? 'drop' : 'accept',
    reason: flow.reason,
    wouldDrop: flow.wouldDrop,
    packetsOut: flow.outPackets,
    bytesOut: flow.outBytes,
    packetsIn: flow.inPackets,
    bytesIn: flow.inBytes,
    droppedPackets: flow.droppedPackets,
    answered: flow.answered,
    firstSeen: flow.firstSeen,
    lastSeen: flow.lastSeen,
    end: cause,
  };
}
