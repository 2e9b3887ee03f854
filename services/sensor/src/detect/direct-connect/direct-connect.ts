/**
 * Direct Connect: NMDC (`$Cmd …|`, nmdc.ts) and ADC (`XCMD …\n`, adc.ts), hubs and clients
 * (DC++, EiskaltDC++, AirDC++, ncdc, microdc2; hubs such as uhub, Verlihub, PtokaX). Byte layouts
 * and traps: /work/shared/protocols/families.md §4.
 *
 * The client is recognised by how it opens a stream: its hub login (`$Key`/`$ValidateNick`,
 * `HSUP ADBASE`) or its handshake with another client (`$MyNick`, `CSUP ADBASE`). The hub is the
 * flow's outside end; the peers are learned from what the hub relays on that flow: NMDC
 * `$ConnectToMe` and active `$Search` addresses, ADC `DCTM` placed at the sender's INF `I4`,
 * and the INFs' UDP ports. UDP search results (`$SR`, `URES`) identify as well.
 *
 * TLS hubs (`adcs://`, `nmdcs://`) and TLS between clients show nothing of this: their first
 * bytes are a TLS ClientHello, which this module never matches. What reaches them is the
 * engine's learned peers and time-lock, and blocking hubs by address or name.
 *
 * Cost: this runs on the first packets of every flow the gateway queues. A direction whose first
 * byte is not `$`, `H`, `I` or `C` costs one compare and no state; a stream that opens like
 * Direct Connect keeps a small state (and a cut command, at most MAX_COMMAND bytes).
 */
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/packet.js';
import { couldStartWith } from '../http-headers.js';
import { passWhenOpenersGoneBy } from '../stream-openers.js';
import type { Evidence, FlowDigest, FlowMemory, PacketReader, ProtocolModule } from '../module.js';
import { ADC_OPENERS, AdcUsers, readAdcCommand, readAdcOpener } from './adc.js';
import { Found } from './found.js';
import { NMDC_OPENERS, readNmdcCommand, readNmdcOpener } from './nmdc.js';
import { DIRECT_CONNECT, DirectConnectRule, DirectConnectVia, constantEvidence, evidence } from './rules.js';
import { Dialect, DirectionStream, LF, MAX_COMMAND, PIPE, indexOfByte } from './stream.js';
import { inspectUdp } from './udp.js';

export { DIRECT_CONNECT, DirectConnectRule, DirectConnectVia, MAX_PEERS_PER_SEGMENT, MAX_USERS } from './rules.js';
export { MAX_COMMAND } from './stream.js';

export class DirectConnectFlowState {
  readonly out = new DirectionStream();
  readonly in = new DirectionStream();
  users: AdcUsers | null = null;

  isDone(): boolean {
    return this.out.dialect === Dialect.done && this.in.dialect === Dialect.done;
  }
}

type Memory = FlowMemory<DirectConnectFlowState>;

const CONSTANT: Readonly<Record<string, Evidence>> = Object.fromEntries(Object.values(DirectConnectRule).map((rule) => [rule, constantEvidence(rule, 'tcp')]));

const found = new Found();
/** Where a kept command and the next segment are joined; grown when a segment is larger. */
let scratch = new Uint8Array(MAX_COMMAND + 2048);

function couldOpen(buf: Uint8Array, start: number, end: number): boolean {
  const openers = buf[start] === 0x24 ? NMDC_OPENERS : ADC_OPENERS;
  for (const opener of openers) if (couldStartWith(buf, start, end, opener)) return true;
  return false;
}

/** `$` (NMDC) or the type letter of an ADC SUP (`H`, `I`, `C`): the one compare every other stream costs. */
function mayOpen(byte: number): boolean {
  return byte === 0x24 || byte === 0x48 || byte === 0x49 || byte === 0x43;
}

export class DirectConnectModule implements ProtocolModule<DirectConnectFlowState> {
  readonly name = DIRECT_CONNECT;
  readonly transports = ['tcp', 'udp'] as const;
  readonly priority = 9;
  readonly inspectPackets = 16;
  readonly rules: readonly string[] = [...Object.values(DirectConnectRule), ...Object.values(DirectConnectVia)];

  createState(): DirectConnectFlowState {
    return new DirectConnectFlowState();
  }

  isDone(state: DirectConnectFlowState): boolean {
    return state.isDone();
  }

  heldBytes(state: DirectConnectFlowState): number {
    return state.out.heldBytes + state.in.heldBytes;
  }

  inspect(packet: PacketReader, flow: FlowDigest, fromInside: boolean, memory: Memory): Evidence | null {
    if (packet.payloadLength <= 0) return null;
    if (packet.protocol === IPPROTO_UDP) return inspectUdp(packet, flow, memory.concluded);
    if (packet.protocol !== IPPROTO_TCP) return null;
    const firstInDirection = (fromInside ? flow.outPayloadPackets : flow.inPayloadPackets) === 1;
    let state = memory.state;
    let dir = state === undefined ? null : fromInside ? state.out : state.in;
    if (dir === null || dir.dialect === Dialect.unknown) {
      // Only a stream's first bytes can open it: a direction first seen later is not read.
      if (!firstInDirection) {
        dir?.finish(memory.buffers);
        return passWhenOpenersGoneBy(flow, memory);
      }
      // No state for a stream that cannot open like Direct Connect: HTTP's `HTTP/1.1` answers
      // start with `H` as ADC's `HSUP` does, and keeping state for every web flow cost more than
      // the rest of the module.
      const start = packet.payloadOffset;
      if (dir === null && !(mayOpen(packet.buf[start]!) && couldOpen(packet.buf, start, start + packet.payloadLength))) return passWhenOpenersGoneBy(flow, memory);
    }
    if (dir?.dialect === Dialect.done) return null;
    state ??= memory.open();
    dir ??= fromInside ? state.out : state.in;
    found.reset();
    read(packet, dir, fromInside, state, memory);
    if (found.peers !== null) return evidence(found.rule ?? ruleOf(state), 'tcp', { peers: found.peers });
    if (found.rule === null || memory.concluded) return null;
    return CONSTANT[found.rule]!;
  }
}

/** The rule a flow's earlier commands showed, for evidence that carries peers named later. */
function ruleOf(state: DirectConnectFlowState): DirectConnectRule {
  const adc = state.out.dialect === Dialect.adc || state.in.dialect === Dialect.adc || state.users !== null;
  return adc ? DirectConnectRule.adcHubLogin : DirectConnectRule.nmdcHubLogin;
}

/** Reads the segment's commands (after the kept tail, if any) into `found`; keeps what is cut. */
function read(packet: PacketReader, dir: DirectionStream, fromInside: boolean, state: DirectConnectFlowState, memory: Memory): void {
  let buf = packet.buf;
  let start = packet.payloadOffset;
  let end = start + packet.payloadLength;
  if (dir.skipping) {
    const at = indexOfByte(buf, start, end, dir.terminator());
    if (at < 0) return;
    dir.skipping = false;
    start = at + 1;
  } else if (dir.tailLength > 0) {
    const length = dir.tailLength + packet.payloadLength;
    if (scratch.length < length) scratch = new Uint8Array(length);
    scratch.set(dir.tail!.subarray(0, dir.tailLength), 0);
    scratch.set(buf.subarray(start, end), dir.tailLength);
    buf = scratch;
    start = 0;
    end = length;
    dir.tailLength = 0;
  }
  if (dir.dialect === Dialect.unknown) dir.dialect = buf[start] === 0x24 ? Dialect.nmdc : Dialect.adc;
  const terminator = dir.dialect === Dialect.nmdc ? PIPE : LF;
  const users = (): AdcUsers => (state.users ??= new AdcUsers());
  while (start < end) {
    const at = indexOfByte(buf, start, end, terminator);
    if (at < 0) break;
    let ok: boolean;
    // ADC ends a command at LF alone: a CR before it fails the text check.
    if (dir.commands === 0) ok = dir.dialect === Dialect.nmdc ? readNmdcOpener(buf, start, at, dir, found) : readAdcOpener(buf, start, at, found);
    else ok = dir.dialect === Dialect.nmdc ? readNmdcCommand(buf, start, at, dir, fromInside, found) : readAdcCommand(buf, start, at, dir, fromInside, users, found);
    if (!ok) {
      dir.finish(memory.buffers);
      return;
    }
    dir.commands++;
    start = at + 1;
    if ((dir.dialect as Dialect) === Dialect.done) {
      dir.finish(memory.buffers);
      return;
    }
  }
  if (start >= end) {
    // Nothing cut: the kept buffer goes back to the budget until a command is cut again.
    dir.release(memory.buffers);
    return;
  }
  // A command cut by the segment's end: the first only while it can still be an opener.
  if (dir.commands === 0 && !couldOpen(buf, start, end)) dir.finish(memory.buffers);
  else if (end - start > MAX_COMMAND) {
    if (dir.commands === 0) dir.finish(memory.buffers);
    else {
      dir.skipping = true;
      dir.release(memory.buffers);
    }
  } else if (!dir.keep(buf, start, end, memory.buffers)) dir.finish(memory.buffers);
}
export const directConnect = new DirectConnectModule();
