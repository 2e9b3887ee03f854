/**
 * The TCP side of the module: frames opening a segment (or continuing one the stream spans),
 * the rule each shows, the requests the inside host sends and the server answers to them.
 */
import type { Evidence, FlowMemory, NamedPeer, PacketReader } from '../module.js';
import { Marker, TcpOpcode } from './opcodes.js';
import { EdonkeyRule, constantEvidence, evidence } from './rules.js';
import { HASH_LENGTH, foundSourcesPeers, serverListPeers } from './server-answers.js';
import type { EdonkeyFlowState } from './state.js';
import { FRAME_HEAD, FRAME_HEADER, NOT_FRAMES, frameLength, isTcpMarker, walkFrames } from './tcp-frame.js';

type Memory = FlowMemory<EdonkeyFlowState>;

/** Hello body: `10`, user hash(16), client ID(4), port(2), tag count(4); login: the same without `10`. */
const HELLO_MIN_LENGTH = 1 + 1 + HASH_LENGTH + 4 + 2 + 4;
const LOGIN_MIN_LENGTH = 1 + HASH_LENGTH + 4 + 2 + 4;
const HASH_LENGTH_BYTE = 0x10;

const HELLO = constantEvidence(EdonkeyRule.hello, 'tcp');
const LOGIN = constantEvidence(EdonkeyRule.serverLogin, 'tcp');
const MESSAGE = constantEvidence(EdonkeyRule.tcpMessage, 'tcp');
/** Stronger rules win when one segment holds several frames. */
const RANK: Readonly<Record<string, number>> = { [EdonkeyRule.tcpMessage]: 1, [EdonkeyRule.serverLogin]: 2, [EdonkeyRule.hello]: 3 };

export function inspectTcp(packet: PacketReader, fromInside: boolean, memory: Memory): Evidence | null {
  const buf = packet.buf;
  const p = packet.payloadOffset;
  const end = p + packet.payloadLength;
  const state = memory.state;
  const remaining = state === undefined ? 0 : fromInside ? state.outRemaining : state.inRemaining;
  if (remaining > 0) return continueFrame(state!, remaining, buf, p, end, fromInside, memory);
  // The cheap rejection every other TCP segment takes: its first byte is no marker.
  if (!isTcpMarker(buf[p]!)) return null;
  const rest = walkFrames(buf, p, end);
  if (rest === NOT_FRAMES) return null;
  const found = readFrames(buf, p, end, fromInside, memory);
  if (rest === 0) return found;
  // The last frame goes on in later segments: believed once the stream ends it where it says.
  follow(memory.open(), fromInside, rest, found);
  return null;
}

function continueFrame(state: EdonkeyFlowState, remaining: number, buf: Uint8Array, p: number, end: number, fromInside: boolean, memory: Memory): Evidence | null {
  if (end - p < remaining) {
    follow(state, fromInside, remaining - (end - p), fromInside ? state.outPending : state.inPending);
    return null;
  }
  const pending = fromInside ? state.outPending : state.inPending;
  follow(state, fromInside, 0, null);
  const at = p + remaining;
  const rest = walkFrames(buf, at, end);
  // The frame did not end where its length said, or something else follows it.
  if (rest === NOT_FRAMES) return null;
  const found = at < end ? readFrames(buf, at, end, fromInside, memory) : null;
  if (rest > 0) follow(state, fromInside, rest, null);
  if (found?.peers !== undefined) return found;
  return pending ?? found;
}

function follow(state: EdonkeyFlowState, fromInside: boolean, remaining: number, pending: Evidence | null): void {
  if (fromInside) {
    state.outRemaining = remaining;
    state.outPending = pending;
  } else {
    state.inRemaining = remaining;
    state.inPending = pending;
  }
}

/**
 * The evidence of the frames in buf[start, end) (already walked): the strongest rule among them
 * and the peers of server answers to the host's own requests. Notes the host's requests.
 */
function readFrames(buf: Uint8Array, start: number, end: number, fromInside: boolean, memory: Memory): Evidence | null {
  let rule: EdonkeyRule = EdonkeyRule.tcpMessage;
  let peers: NamedPeer[] | null = null;
  for (let at = start; end - at >= FRAME_HEAD; ) {
    const length = frameLength(buf, at);
    const frameEnd = at + FRAME_HEADER + length;
    const frameRule = ruleOf(buf, at, length, end);
    if (RANK[frameRule]! > RANK[rule]!) rule = frameRule;
    if (frameEnd > end) break;
    if (buf[at] === Marker.edonkey) {
      if (fromInside) noteRequest(buf, at, frameEnd, memory);
      else {
        const named = answerPeers(buf, at, frameEnd, memory.state);
        if (named !== null && named.length > 0) peers = peers === null ? named : peers.concat(named);
      }
    }
    at = frameEnd;
  }
  if (peers !== null) return evidence(rule, 'tcp', { peers });
  if (memory.concluded) return null;
  return rule === EdonkeyRule.hello ? HELLO : rule === EdonkeyRule.serverLogin ? LOGIN : MESSAGE;
}

/** The rule a frame shows; `end` is where the segment ends (a frame may go on beyond it). */
function ruleOf(buf: Uint8Array, at: number, length: number, end: number): EdonkeyRule {
  if (buf[at] !== Marker.edonkey) return EdonkeyRule.tcpMessage;
  const opcode = buf[at + FRAME_HEADER];
  if (opcode === TcpOpcode.helloAnswer) return length >= LOGIN_MIN_LENGTH ? EdonkeyRule.hello : EdonkeyRule.tcpMessage;
  if (opcode !== TcpOpcode.hello) return EdonkeyRule.tcpMessage;
  // A client's Hello says its hash is 16 bytes long; a login to a server does not. A segment
  // that ends before that byte shows an eDonkey message, not which.
  if (at + FRAME_HEAD >= end) return EdonkeyRule.tcpMessage;
  if (buf[at + FRAME_HEAD] === HASH_LENGTH_BYTE && length >= HELLO_MIN_LENGTH) return EdonkeyRule.hello;
  return length >= LOGIN_MIN_LENGTH ? EdonkeyRule.serverLogin : EdonkeyRule.tcpMessage;
}

function noteRequest(buf: Uint8Array, at: number, frameEnd: number, memory: Memory): void {
  const opcode = buf[at + FRAME_HEADER];
  if (opcode === TcpOpcode.getServerList) memory.open().askedServerList = true;
  else if (opcode === TcpOpcode.getSources && frameEnd - (at + FRAME_HEAD) >= HASH_LENGTH) memory.open().noteSources(buf, at + FRAME_HEAD);
}

/** Peers of a server list or found-sources frame answering the host's request on this flow. */
function answerPeers(buf: Uint8Array, at: number, frameEnd: number, state: EdonkeyFlowState | undefined): NamedPeer[] | null {
  const opcode = buf[at + FRAME_HEADER];
  const body = at + FRAME_HEAD;
  if (opcode === TcpOpcode.serverList) return state?.askedServerList === true ? serverListPeers(buf, body, frameEnd) : null;
  if (opcode === TcpOpcode.foundSources && frameEnd - body > HASH_LENGTH) return state?.answersSources(buf, body) === true ? foundSourcesPeers(buf, body, frameEnd) : null;
  return null;
}
