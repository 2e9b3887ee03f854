import type { Evidence, FlowDigest, PacketReader } from '../module.js';
import { FastTrackRule } from './rules.js';

const CLIENT_HELLO_LENGTH = 12;
const SERVER_HELLO_LENGTH = 8;

/**
 * Client → 12 bytes (rand, cipher seed, encryption type), server → 8 bytes (seed, type), on a
 * connection the inside host opened to a high port: fires on the 8-byte reply. 12/8 first
 * payloads alone are far too common to count, so this is supporting evidence: the engine counts
 * it only on a flow to an already learned peer.
 */
export function encryptedHandshake(packet: PacketReader, flow: FlowDigest, fromInside: boolean): Evidence | null {
  if (fromInside || packet.payloadLength !== SERVER_HELLO_LENGTH) return null;
  if (!flow.initiatorInside || !flow.startedFresh || flow.outsidePort <= 1023) return null;
  if (flow.inPayloadPackets !== 1 || flow.outFirstPayloadLength !== CLIENT_HELLO_LENGTH) return null;
  return HANDSHAKE_EVIDENCE;
}

const HANDSHAKE_EVIDENCE: Evidence = { rule: FastTrackRule.encryptedHandshake, supporting: true, transport: 'both' };
