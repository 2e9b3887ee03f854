/**
 * BitTorrent: the peer wire in clear (peer-wire.ts), uTP (utp.ts), the mainline DHT (dht.ts),
 * HTTP and UDP trackers (tracker-http.ts, tracker-udp.ts), Local Service Discovery (lsd.ts) and,
 * as supporting evidence only, the shape of an MSE/PE opening (mse.ts). Byte layouts, peer
 * learning and false-positive traps: /work/shared/protocols/families.md §1, §6, §8.
 *
 * The client is recognised by what it must do to start (announce, query the DHT, handshake),
 * and its swarm is learned from what the protocol hands out in clear (tracker and DHT replies,
 * PEX). Encrypted peer connections are then caught by the engine's learned peers and time-lock.
 *
 * Cost: this runs on the first packets of every flow the gateway queues. Each path starts with
 * a first-byte or length test, so a packet that cannot match costs a few compares and
 * allocates nothing; state is kept only for flows in the middle of a uTP opening, a tracker
 * exchange or a handshake split after its first byte.
 */
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/packet.js';
import type { Evidence, FlowDigest, FlowMemory, PacketReader, ProtocolModule } from '../module.js';
import { passFreshWhenOpenersGoneBy } from '../stream-openers.js';
import { KrpcKind, KrpcReader, couldBeKrpc } from './dht.js';
import { isLsdSearch, LSD_PORT } from './lsd.js';
import { looksLikeMseOpening } from './mse.js';
import { PSTRLEN, handshakePrefix, peerIdClient, walkMessages, wire } from './peer-wire.js';
import { BITTORRENT, BitTorrentRule, BitTorrentVia, DHT_CONTACT_TTL_MS, SWARM_TRANSPORT, constantEvidence, evidence } from './rules.js';
import { ReplyBuffer, couldStartAnnounce, isAnnounceRequest, readReply, reply } from './tracker-http.js';
import { TRUNCATED } from './bencode.js';
import { announceReplyPeers, announceTransaction, connectTransaction, isConnectReply, isConnectRequest } from './tracker-udp.js';
import { UtpPhase, UtpStep, couldBeUtp, stepUtp, utpHeader, type UtpTrack } from './utp.js';

export { BITTORRENT, BitTorrentRule, BitTorrentVia, DHT_CONTACT_TTL_MS, MAX_PEERS } from './rules.js';

const OUT = 1;
const IN = 2;
/** `BitTorrent protocol`: what follows the 0x13, and enough to call a stream's start a handshake. */
const PROTOCOL_REST = 19;

/**
 * Ports whose look-alikes are known: Teredo (3544), CAPWAP (5246/5247, Unifi access points) and
 * Windows Delivery Optimization (7680, which uses BitTorrent's request message) — nDPI's and ET's
 * exclusions born from false-positive reports (families.md §1.11, §6).
 */
function excludedPort(port: number): boolean {
  return port === 3544 || port === 5246 || port === 5247 || port === 7680;
}

/** Per-flow state, kept only while something is pending; done once nothing is. */
export class BitTorrentFlowState implements UtpTrack {
  utpPhase: UtpPhase = UtpPhase.none;
  utpId = 0;
  utpSeq = 0;
  /** The UDP tracker transaction the inside host started (connect or announce), or -1. */
  udpTransaction = -1;
  /** The transaction id of the inside host's last DHT query on this flow (KrpcReader.transaction), or -1. */
  dhtTransaction = -1;
  /** Directions (OUT, IN) whose first payload was a lone 0x13: the handshake's rest comes next. */
  loneHandshakeByte = 0;
  /** The inside host announced over HTTP on this flow: the tracker's reply is read. */
  awaitingTrackerReply = false;
  /** The reply while it spans segments. */
  reply: ReplyBuffer | null = null;
}

type Memory = FlowMemory<BitTorrentFlowState>;

const DHT_QUERY = Object.freeze(evidence(BitTorrentRule.dhtQuery, 'udp', { ttlMs: DHT_CONTACT_TTL_MS }));
const DHT_ANSWER = Object.freeze(evidence(BitTorrentRule.dhtReply, 'udp', { ttlMs: DHT_CONTACT_TTL_MS }));
const HANDSHAKE = constantEvidence(BitTorrentRule.handshake, SWARM_TRANSPORT);
const UTP = constantEvidence(BitTorrentRule.utp, SWARM_TRANSPORT);
const UTP_STREAM = constantEvidence(BitTorrentRule.utpStream, SWARM_TRANSPORT);
const LSD = constantEvidence(BitTorrentRule.lsd, SWARM_TRANSPORT);
const PIECE_REQUEST = constantEvidence(BitTorrentRule.pieceRequest, SWARM_TRANSPORT);
const EXTENSION = constantEvidence(BitTorrentRule.extension, SWARM_TRANSPORT);
const PEER_MESSAGES = constantEvidence(BitTorrentRule.peerMessages, SWARM_TRANSPORT);
const MSE_OPENING = constantEvidence(BitTorrentRule.mseOpening, SWARM_TRANSPORT, true);

/** A tracker or rendezvous on a well-known port shares its address with other services: not a peer. */
function serviceEvidence(rule: BitTorrentRule, transport: 'tcp' | 'udp', flow: FlowDigest, peers?: Evidence['peers'] | null): Evidence {
  return evidence(rule, transport, { peers: peers ?? null, outsideEndIsPeer: flow.outsidePort >= 1024 });
}

export class BitTorrentModule implements ProtocolModule<BitTorrentFlowState> {
  readonly name = BITTORRENT;
  readonly transports = ['tcp', 'udp'] as const;
  readonly priority = 20;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(BitTorrentRule), ...Object.values(BitTorrentVia)];
  private readonly krpc = new KrpcReader();

  createState(): BitTorrentFlowState {
    return new BitTorrentFlowState();
  }

  isDone(state: BitTorrentFlowState): boolean {
    return state.utpPhase === UtpPhase.none && state.udpTransaction < 0 && state.dhtTransaction < 0 && state.loneHandshakeByte === 0 && !state.awaitingTrackerReply && state.reply === null;
  }

  heldBytes(state: BitTorrentFlowState): number {
    return state.reply?.heldBytes ?? 0;
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    if (packet.payloadLength <= 0) return null;
    if (packet.protocol === IPPROTO_UDP) return this.inspectUdp(packet, flow, fromInside, memory);
    if (packet.protocol === IPPROTO_TCP) return this.inspectTcp(packet, flow, fromInside, memory) ?? passFreshWhenOpenersGoneBy(flow, memory);
    return null;
  }

  // ---- UDP: DHT, uTP, UDP tracker, LSD ----

  private inspectUdp(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    const buf = packet.buf;
    const p = packet.payloadOffset;
    const length = packet.payloadLength;
    const state = memory.state;
    if (state !== undefined && state.udpTransaction >= 0 && !fromInside) {
      const answer = udpTrackerReply(state, buf, p, length, flow);
      if (answer !== null) return answer;
    }
    const first = buf[p]!;
    if (fromInside && (first === 0x00 || memory.concluded)) {
      const request = udpTrackerRequest(packet, flow, memory);
      if (request !== null || first === 0x00) return request;
    }
    if (excludedPort(flow.outsidePort) || excludedPort(flow.insidePort)) return null;
    if (first === 0x42 /* B */) return fromInside && flow.outsidePort === LSD_PORT && isLsdSearch(buf, p, length) ? LSD : null;
    // DHT and uTP run between high ports; a well-known port on either end is another service
    // (DNS, NTP, …), whatever its bytes look like (nDPI's rule, born of false positives).
    if (flow.outsidePort < 1024 || flow.insidePort < 1024) return null;
    if (first === 0x64 /* d */) return couldBeKrpc(buf, p, length) ? this.inspectKrpc(packet, fromInside, memory) : null;
    if (couldBeUtp(buf, p, length)) return inspectUtp(buf, p, length, fromInside, memory);
    return null;
  }

  private inspectKrpc(packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
    const krpc = this.krpc;
    if (fromInside) {
      const kind = krpc.read(packet, false);
      if (kind === KrpcKind.query && krpc.transaction >= 0) memory.open().dhtTransaction = krpc.transaction;
      if (kind === KrpcKind.none || memory.concluded) return null;
      return kind === KrpcKind.query ? DHT_QUERY : DHT_ANSWER;
    }
    // A reply names peers only when it answers the host's own query on this flow, by its
    // transaction id: a forger must guess it as well as the queried node's address and port.
    const state = memory.state;
    if (state === undefined || state.dhtTransaction < 0) return null;
    const kind = krpc.read(packet, true);
    if (kind === KrpcKind.none || krpc.transaction !== state.dhtTransaction) return null;
    state.dhtTransaction = -1;
    const peers = krpc.peers;
    if (kind !== KrpcKind.reply || peers === null || peers.length === 0) return null;
    return evidence(BitTorrentRule.dhtReply, 'udp', { peers, ttlMs: DHT_CONTACT_TTL_MS });
  }

  // ---- TCP: handshake, peer messages, HTTP tracker, MSE ----

  private inspectTcp(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    const buf = packet.buf;
    const p = packet.payloadOffset;
    const end = p + packet.payloadLength;
    const state = memory.state;
    const payloadPackets = fromInside ? flow.outPayloadPackets : flow.inPayloadPackets;
    if (state !== undefined) {
      if (!fromInside && state.awaitingTrackerReply) return trackerReply(state, packet, flow, memory);
      const bit = fromInside ? OUT : IN;
      if ((state.loneHandshakeByte & bit) !== 0) {
        state.loneHandshakeByte &= ~bit;
        // The rest of `BitTorrent protocol` (19 bytes) at least; the rest may be split again.
        if (payloadPackets === 2 && end - p >= PROTOCOL_REST && handshakePrefix(buf, p, end, 1)) return handshakeEvidence(buf, p, end, 1, memory.concluded);
        return null;
      }
    }
    if (excludedPort(flow.outsidePort) || excludedPort(flow.insidePort)) return null;
    const first = buf[p]!;
    if (payloadPackets === 1) {
      if (first === PSTRLEN) {
        if (end - p === 1) {
          memory.open().loneHandshakeByte |= fromInside ? OUT : IN;
          return null;
        }
        // A handshake cut anywhere after `0x13BitTorrent protocol` (20 bytes) is one all the same.
        if (end - p >= PROTOCOL_REST + 1 && handshakePrefix(buf, p, end)) return handshakeEvidence(buf, p, end, 0, memory.concluded);
        return null;
      }
      if (first === 0x47 /* G */ && fromInside && couldStartAnnounce(buf, p, end)) {
        if (!isAnnounceRequest(buf, p, end)) return null;
        memory.open().awaitingTrackerReply = true;
        return serviceEvidence(BitTorrentRule.trackerAnnounce, 'tcp', flow);
      }
      if (looksLikeMseOpening(packet, flow, fromInside)) return MSE_OPENING;
    }
    if (first !== 0x00 || (!fromInside && !memory.concluded)) return null;
    walkMessages(buf, p, end, true);
    if (wire.pex !== null) return evidence(BitTorrentRule.extension, SWARM_TRANSPORT, { peers: wire.pex });
    if (memory.concluded || !fromInside) return null;
    if (wire.extensionHandshake) return EXTENSION;
    if (wire.request) return PIECE_REQUEST;
    if (wire.messagesOnly) return PEER_MESSAGES;
    return null;
  }
}

/** `from`: bytes of the handshake that came in an earlier segment (the lone 0x13). */
function handshakeEvidence(buf: Uint8Array, p: number, end: number, from: number, concluded: boolean): Evidence | null {
  if (concluded) return null;
  const client = peerIdClient(buf, p, end, from);
  return client === undefined ? HANDSHAKE : evidence(BitTorrentRule.handshake, SWARM_TRANSPORT, { detail: client });
}

/** The HTTP tracker's reply, in place when whole in one segment, else collected as it arrives. */
function trackerReply(state: BitTorrentFlowState, packet: PacketReader, flow: FlowDigest, memory: Memory): Evidence | null {
  let status: number;
  if (state.reply !== null) {
    if (!state.reply.append(packet, memory.buffers)) return giveUpReply(state, memory);
    status = readReply(state.reply.bytes, 0, state.reply.length);
  } else {
    if (flow.inPayloadPackets !== 1) return giveUpReply(state, memory);
    status = readReply(packet.buf, packet.payloadOffset, packet.payloadOffset + packet.payloadLength);
    if (status === TRUNCATED) {
      state.reply = ReplyBuffer.start(packet, memory.buffers);
      return state.reply === null ? giveUpReply(state, memory) : null;
    }
  }
  if (status === TRUNCATED) return null;
  const peers = status === 0 ? reply.peers : null;
  giveUpReply(state, memory);
  if (peers === null) return null;
  return serviceEvidence(BitTorrentRule.trackerReply, 'tcp', flow, peers);
}

function giveUpReply(state: BitTorrentFlowState, memory: Memory): null {
  if (state.reply !== null) memory.buffers.release(state.reply.heldBytes);
  state.reply = null;
  state.awaitingTrackerReply = false;
  return null;
}

function udpTrackerRequest(packet: PacketReader, flow: FlowDigest, memory: Memory): Evidence | null {
  const buf = packet.buf;
  const p = packet.payloadOffset;
  const length = packet.payloadLength;
  if (isConnectRequest(buf, p, length)) {
    memory.open().udpTransaction = connectTransaction(buf, p);
    return serviceEvidence(BitTorrentRule.udpTrackerConnect, 'udp', flow);
  }
  // An announce alone is too plain to name a client: only after this flow's connect.
  if (!memory.concluded) return null;
  const transaction = announceTransaction(buf, p, length);
  if (transaction < 0) return null;
  memory.open().udpTransaction = transaction;
  return serviceEvidence(BitTorrentRule.udpTrackerAnnounce, 'udp', flow);
}

function udpTrackerReply(state: BitTorrentFlowState, buf: Uint8Array, p: number, length: number, flow: FlowDigest): Evidence | null {
  const transaction = state.udpTransaction;
  if (isConnectReply(buf, p, length, transaction)) return null;
  const peers = announceReplyPeers(buf, p, length, transaction, flow.ipVersion === 6);
  if (peers === null) return null;
  state.udpTransaction = -1;
  return serviceEvidence(BitTorrentRule.udpTrackerReply, 'udp', flow, peers);
}

function inspectUtp(buf: Uint8Array, p: number, length: number, fromInside: boolean, memory: Memory): Evidence | null {
  if (memory.concluded || !utpHeader(buf, p, length)) return null;
  const state = memory.open();
  const step = stepUtp(state, fromInside);
  if (step === UtpStep.waiting) return null;
  state.utpPhase = UtpPhase.none;
  if (step === UtpStep.opened) return UTP;
  if (step === UtpStep.stream) return UTP_STREAM;
  return null;
}

export const bitTorrent = new BitTorrentModule();
