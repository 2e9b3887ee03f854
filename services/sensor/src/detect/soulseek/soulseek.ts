/**
 * Soulseek (SoulseekQt, Nicotine+, slskd, Soulseek.NET): the client's login to the central
 * server, the init message that opens a connection between clients, and the server's answers
 * that name peers (messages.ts). Byte layouts and traps: /work/shared/protocols/families.md §4.
 *
 * The client is recognised by what it sends first: its Login (identifying) or a PeerInit
 * (identifying); a PierceFirewall or another server message only supports. On the login flow
 * the server's GetPeerAddress and ConnectToPeer answers name peers for TCP. The server itself
 * is the login flow's outside end. Obfuscated peer connections (a 4-byte key, then rotated
 * bytes) show nothing here: the learned peers, the time-lock, and blocking the one central
 * server by address or name are what reach them.
 *
 * Cost: this runs on the first packets of every flow the gateway queues. A stream's first
 * segment is looked at only when its first four bytes (LE) are its own length minus four;
 * anything else costs a few compares and no state. State is kept only for a login flow (the
 * bytes the last message still needs, per direction: no bytes are kept).
 */
import { IPPROTO_TCP } from '../../decode/packet.js';
import type { Evidence, FlowDigest, FlowMemory, NamedPeer, PacketReader, ProtocolModule } from '../module.js';
import { MAX_MESSAGE, ServerCode, answerPeer, isLogin, isPeerInit, isPierceFirewall, isServerCode, u32le } from './messages.js';
import { MAX_PEERS_PER_SEGMENT, SOULSEEK, SoulseekRule, SoulseekVia, constantEvidence, evidence } from './rules.js';

export { MAX_PEERS_PER_SEGMENT, SOULSEEK, SoulseekRule, SoulseekVia } from './rules.js';

/** What the module keeps for a login flow: how far the last message of each direction reaches. */
export class SoulseekFlowState {
  /** Bytes of the message under way the stream still owes, per direction (-1: not followed any more). */
  outRemaining = 0;
  inRemaining = 0;

  isDone(): boolean {
    return this.outRemaining < 0 && this.inRemaining < 0;
  }
}

type Memory = FlowMemory<SoulseekFlowState>;

const LOGIN = constantEvidence(SoulseekRule.login);
const PEER_INIT = constantEvidence(SoulseekRule.peerInit);
const PIERCE_FIREWALL = constantEvidence(SoulseekRule.pierceFirewall);
const SERVER_MESSAGE = constantEvidence(SoulseekRule.serverMessage);

/**
 * Other messages a client opens a server flow with are short (CheckPrivileges is its code alone,
 * SetWaitPort a port, GetPeerAddress a name): a length and a known code are all there is to check.
 */
const MAX_OTHER_SERVER_MESSAGE = 4 + 256;

export class SoulseekModule implements ProtocolModule<SoulseekFlowState> {
  readonly name = SOULSEEK;
  readonly transports = ['tcp'] as const;
  readonly priority = 11;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(SoulseekRule), ...Object.values(SoulseekVia)];

  createState(): SoulseekFlowState {
    return new SoulseekFlowState();
  }

  isDone(state: SoulseekFlowState): boolean {
    return state.isDone();
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    const found = this.inspectStream(packet, flow, fromInside, memory);
    // Only the client's first segment can start what this module follows: once it has gone by
    // without a state, nothing later on the stream counts.
    if (found === null && memory.state === undefined && flow.outPayloadPackets > 0) memory.pass();
    return found;
  }

  private inspectStream(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    if (packet.payloadLength <= 0 || packet.protocol !== IPPROTO_TCP) return null;
    const buf = packet.buf;
    const start = packet.payloadOffset;
    const end = start + packet.payloadLength;
    const state = memory.state;
    if (state !== undefined) return follow(state, buf, start, end, fromInside, memory);
    if (!fromInside || flow.outPayloadPackets !== 1 || end - start < 8) return null;
    // The cheap rejection: the first message must end within the segment.
    const length = u32le(buf, start);
    if (length + 4 > end - start) return null;
    if (length + 4 < end - start) {
      // A client that sends more server messages right after its Login (SetWaitPort, …): the
      // Login must still be whole and check, and the rest read as server messages.
      const loginEnd = start + 4 + length;
      if (!isLogin(buf, start, loginEnd)) return null;
      const rest = remainingAfter(buf, loginEnd, end);
      if (rest === NOT_MESSAGES) return null;
      // A head cut by the segment: the host's messages are not followed further (its answers are).
      memory.open().outRemaining = rest === HEAD_CUT ? -1 : rest;
      return memory.concluded ? null : LOGIN;
    }
    if (isLogin(buf, start, end)) {
      // The server's answers on this flow may name peers: follow both directions' messages.
      memory.open();
      return memory.concluded ? null : LOGIN;
    }
    if (isPeerInit(buf, start, end)) return memory.concluded ? null : PEER_INIT;
    if (isPierceFirewall(buf, start, end)) return memory.concluded ? null : PIERCE_FIREWALL;
    const code = u32le(buf, start + 4);
    // A code-1 message that failed the Login checks is not Soulseek's.
    if (length <= MAX_OTHER_SERVER_MESSAGE && code !== ServerCode.login && isServerCode(code)) return memory.concluded ? null : SERVER_MESSAGE;
    return null;
  }
}

const NOT_MESSAGES = -1;
const HEAD_CUT = -2;

/**
 * Walks server messages in buf[at, end): the bytes the last one still owes the stream (0 when
 * they end with the segment); NOT_MESSAGES when one is not a server message (a length above
 * 4 MiB, an unknown code); HEAD_CUT when a message head (8 bytes) is cut by the segment's end.
 */
function remainingAfter(buf: Uint8Array, at: number, end: number): number {
  while (at + 8 <= end) {
    const length = u32le(buf, at);
    if (length < 4 || length > MAX_MESSAGE || !isServerCode(u32le(buf, at + 4))) return NOT_MESSAGES;
    at += 4 + length;
  }
  return at >= end ? at - end : HEAD_CUT;
}

/**
 * Walks the messages of a login flow's segment (after what the last one still owed): peers from
 * the server's answers. A message whose length or code is not Soulseek's ends the following.
 */
function follow(state: SoulseekFlowState, buf: Uint8Array, start: number, end: number, fromInside: boolean, memory: Memory): Evidence | null {
  let remaining = fromInside ? state.outRemaining : state.inRemaining;
  if (remaining < 0) return null;
  let at = start + remaining;
  let peers: NamedPeer[] | null = null;
  while (at + 8 <= end) {
    const length = u32le(buf, at);
    if (length < 4 || length > MAX_MESSAGE || !isServerCode(u32le(buf, at + 4))) {
      remaining = -1;
      break;
    }
    const frameEnd = at + 4 + length;
    if (frameEnd > end) break;
    if (!fromInside) {
      const peer = answerPeer(buf, at, frameEnd);
      if (peer !== null && (peers ??= []).length < MAX_PEERS_PER_SEGMENT) peers.push(peer);
    }
    at = frameEnd;
  }
  // A message cut by the segment's end: its head tells how much the stream still owes (a head
  // of fewer than 8 bytes cannot be judged, and the following ends).
  if (remaining >= 0) remaining = at >= end ? at - end : at + 8 <= end ? at + 4 + u32le(buf, at) - end : -1;
  if (fromInside) state.outRemaining = remaining;
  else state.inRemaining = remaining;
  if (state.isDone()) memory.close();
  return peers === null ? null : evidence(SoulseekRule.serverAnswer, { peers });
}

export const soulseek = new SoulseekModule();
