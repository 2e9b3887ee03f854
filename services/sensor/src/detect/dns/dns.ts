/**
 * DNS-name rules (ftwall's second version blocked WinMX and OpenNap by the names their clients
 * resolved): queries for configured names crossing the gateway are evidence about the inside host
 * that asked, and the addresses in the answer to that very query are learned as peers of the
 * named family, on the ports the name's rule declares. DNS over HTTPS or TLS is encrypted: out of
 * reach. Only plain DNS to an outside server's port 53 is read (mDNS, LLMNR and local resolvers
 * never cross the gateway on it).
 */
import { formatAddress } from '../../decode/address.js';
import { IPPROTO_TCP } from '../../decode/packet.js';
import type { Evidence, FlowDigest, FlowMemory, ModuleOptions, NamedPeer, PacketReader, ProtocolModule } from '../module.js';
import { DnsMessage, DnsType, DNS_CLASS_IN, readAnswers, type AddressRecord, type AliasRecord } from './message.js';
import { NameEvidence, type NamePatterns, type NameRule } from './names.js';
import { DNS_OPTIONS_SCHEMA, namePatterns, readDnsOptions, type DnsOptions } from './options.js';
import { DNS, DnsRule, MAX_ALIAS_STEPS, MAX_ANSWER_ADDRESSES, MAX_PENDING_QUERIES } from './rules.js';
import type { CidrSet } from '../../decode/cidr.js';

const DNS_PORT = 53;

/** A query for a watched name, waiting for its answer on the same flow. */
interface PendingQuery {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly rule: NameRule;
}

/** Per flow: the watched queries not answered yet. */
export class DnsFlowState {
  readonly pending: PendingQuery[] = [];
}

/** The DNS module for these options (the registry's `dns` runs the defaults). */
export function dnsModule(options: DnsOptions): ProtocolModule<DnsFlowState> {
  const patterns = namePatterns(options);
  const message = new DnsMessage();
  const inspector = new DnsInspector(patterns, options.resolvers, message);
  return {
    name: DNS,
    transports: ['udp', 'tcp'],
    // Below every family's own module: a flow to port 53 is a DNS flow.
    priority: 0,
    inspectPackets: 16,
    rules: Object.values(DnsRule),
    families: patterns.families(),
    options: dnsOptions,
    createState: () => new DnsFlowState(),
    isDone: (state) => state.pending.length === 0,
    inspect: (packet, flow, fromInside, memory) => inspector.inspect(packet, flow, fromInside, memory),
  };
}

const dnsOptions: ModuleOptions = {
  schema: DNS_OPTIONS_SCHEMA,
  problems: (raw) => readDnsOptions(raw).problems,
  configure: (raw) => dnsModule(readDnsOptions(raw).options),
};

class DnsInspector {
  constructor(
    private readonly patterns: NamePatterns,
    private readonly resolvers: CidrSet,
    private readonly message: DnsMessage,
  ) {}

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: FlowMemory<DnsFlowState>): Evidence | null {
    // Plain DNS to a server outside; not mDNS (5353), LLMNR (5355) or an inside server's clients.
    if (flow.outsidePort !== DNS_PORT) {
      memory.pass();
      return null;
    }
    // From outside, only an answer to a watched query can matter: nothing waits, nothing to read.
    if (!fromInside && memory.state === undefined) return null;
    const buf = packet.buf;
    let at = packet.payloadOffset;
    const end = at + packet.payloadLength;
    if (flow.protocol !== IPPROTO_TCP) return this.inspectMessage(buf, at, end, packet, fromInside, memory);
    // DNS over TCP: messages behind a 2-byte length, read when whole in this segment.
    let found: Evidence | null = null;
    while (at + 2 <= end) {
      const length = (buf[at]! << 8) | buf[at + 1]!;
      if (length === 0 || at + 2 + length > end) break;
      found = this.inspectMessage(buf, at + 2, at + 2 + length, packet, fromInside, memory) ?? found;
      at += 2 + length;
    }
    return found;
  }

  private inspectMessage(buf: Uint8Array, start: number, end: number, packet: PacketReader, fromInside: boolean, memory: FlowMemory<DnsFlowState>): Evidence | null {
    const message = this.message;
    if (!message.read(buf, start, end) || message.class !== DNS_CLASS_IN) return null;
    return fromInside ? this.query(message, packet, memory) : this.answer(message, memory);
  }

  private query(message: DnsMessage, packet: PacketReader, memory: FlowMemory<DnsFlowState>): Evidence | null {
    if (message.isResponse || message.answerCount !== 0) return null;
    if (message.type !== DnsType.a && message.type !== DnsType.aaaa) return null;
    const rule = this.patterns.matchName(message);
    if (rule === null) return null;
    if (rule.learn.length > 0) remember(memory.open(), { id: message.id, name: message.name, type: message.type, rule });
    // The inside end is the sender. A resolver of the organisation asks for others: one listed in
    // `resolvers`, or any host resolving iteratively (no RD bit: stub resolvers, the glibc one
    // and every P2P client's included, always ask for recursion).
    const resolver = !message.recursionDesired || this.resolvers.contains(packet.buf, packet.srcAddressOffset, packet.addressLength);
    const identifies = !resolver && rule.evidence === NameEvidence.identifying;
    return {
      rule: resolver ? DnsRule.resolverQuery : identifies ? DnsRule.nameQuery : DnsRule.supportingQuery,
      supporting: false,
      identifiesHost: identifies,
      family: rule.protocol,
      transport: 'udp',
      outsideEndIsPeer: false,
      // The flow is DNS to a resolver, not the family's traffic: several hosts asking one
      // resolver must never look like a peer they share (the brain's fan-out rule).
      labelsFlow: false,
      detail: message.name,
    };
  }

  private answer(message: DnsMessage, memory: FlowMemory<DnsFlowState>): Evidence | null {
    const state = memory.state;
    if (state === undefined || !message.isResponse) return null;
    const index = state.pending.findIndex((query) => query.id === message.id && query.type === message.type && query.name === message.name);
    if (index < 0) return null;
    const query = state.pending[index]!;
    state.pending.splice(index, 1);
    if (message.rcode !== 0) return null;
    const records = readAnswers(message, MAX_ANSWER_ADDRESSES);
    if (records === null) return null;
    const peers = namedPeers(message.buf, query, records.addresses, records.aliases);
    if (peers.length === 0) return null;
    return {
      rule: DnsRule.nameAnswer,
      supporting: false,
      // The query said what there was to say about the host.
      identifiesHost: false,
      family: query.rule.protocol,
      transport: 'udp',
      outsideEndIsPeer: false,
      labelsFlow: false,
      detail: query.name,
      peers,
    };
  }
}

function remember(state: DnsFlowState, query: PendingQuery): void {
  const pending = state.pending;
  // A retry (same id and question) replaces its twin; the oldest goes when the list is full.
  const twin = pending.findIndex((other) => other.id === query.id && other.type === query.type && other.name === query.name);
  if (twin >= 0) pending.splice(twin, 1);
  else if (pending.length >= MAX_PENDING_QUERIES) pending.shift();
  pending.push(query);
}

/** The answer's addresses for the question's name (or an alias it leads to), on every endpoint the rule declares. */
function namedPeers(buf: Uint8Array, query: PendingQuery, addresses: readonly AddressRecord[], aliases: readonly AliasRecord[]): NamedPeer[] {
  const names = new Set([query.name]);
  for (let step = 0; step < MAX_ALIAS_STEPS; step++) {
    const before = names.size;
    for (const alias of aliases) if (names.has(alias.owner)) names.add(alias.target);
    if (names.size === before) break;
  }
  const peers: NamedPeer[] = [];
  const wanted = query.type === DnsType.a ? 4 : 16;
  for (const record of addresses) {
    if (record.length !== wanted || !names.has(record.owner)) continue;
    const ip = formatAddress(buf, record.offset, record.length);
    for (const endpoint of query.rule.learn) peers.push({ ip, port: endpoint.port, transport: endpoint.transport, via: DnsRule.nameAnswer });
  }
  return peers;
}

/** The module with the shipped names and no resolvers, as the registry runs it unconfigured. */
export const dns: ProtocolModule<DnsFlowState> = dnsModule(readDnsOptions({}).options);
