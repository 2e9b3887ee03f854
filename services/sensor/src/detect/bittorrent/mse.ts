/**
 * MSE/PE (message stream encryption) has no signature: its first payload is a Diffie-Hellman
 * public key (96 bytes) and 0-512 random pad bytes, then RC4. What is left is behaviour: a
 * high-entropy first payload of 96-608 bytes, sent by the inside host first on a connection it
 * opened to a high port. That shape fits too many things to identify anything alone, so it is
 * supporting evidence: the engine counts it only on a flow to a peer already learned, where it
 * re-arms the host's time-lock and labels the flow.
 */
import type { FlowDigest, PacketReader } from '../module.js';

export const MSE_MIN = 96;
export const MSE_MAX = 96 + 512;
/**
 * Distinct byte values among the first 96 bytes: uniform random bytes give ~80 on average and
 * fewer than 68 about 3 times in 10^5 (simulated); text, TLS records and most binary headers
 * give far fewer.
 */
const MIN_DISTINCT = 68;
const SAMPLE = 96;

const seen = new Uint8Array(256);
let mark = 0;

/** Whether the packet is the inside host's opening of what may be an MSE handshake. */
export function looksLikeMseOpening(packet: PacketReader, flow: FlowDigest, fromInside: boolean): boolean {
  const length = packet.payloadLength;
  if (!fromInside || length < MSE_MIN || length > MSE_MAX) return false;
  if (!flow.initiatorInside || !flow.startedFresh || flow.outsidePort < 1024) return false;
  if (flow.outPayloadPackets !== 1 || flow.inPayloadPackets !== 0) return false;
  return distinctBytes(packet.buf, packet.payloadOffset) >= MIN_DISTINCT;
}

/** Distinct values among buf[p, p + 96): one pass, no allocation (marks are generation counters). */
function distinctBytes(buf: Uint8Array, p: number): number {
  mark = mark === 255 ? 1 : mark + 1;
  if (mark === 1) seen.fill(0);
  let distinct = 0;
  for (let i = p; i < p + SAMPLE; i++) {
    const byte = buf[i]!;
    if (seen[byte] !== mark) {
      seen[byte] = mark;
      distinct++;
    }
  }
  return distinct;
}
