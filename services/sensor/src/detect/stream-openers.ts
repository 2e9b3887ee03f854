import type { FlowDigest, FlowMemory } from './module.js';

/**
 * For a module that reads a TCP stream only from how it opens (and then only while it keeps a
 * state for it): once both directions have sent their first payload and the module keeps no
 * state, nothing later on the stream can matter to it, so it passes (FlowMemory.pass). Most of a
 * module's calls are the later packets of streams that opened like something else.
 */
export function passWhenOpenersGoneBy(flow: FlowDigest, memory: FlowMemory<unknown>): null {
  if (memory.state === undefined && flow.outPayloadPackets > 0 && flow.inPayloadPackets > 0) memory.pass();
  return null;
}

/**
 * passWhenOpenersGoneBy for a module that also reads a stream after its opening when it concluded
 * on it (BitTorrent's PEX after a handshake) or when the stream was picked up mid-way (frames or
 * peer messages of a connection older than the sensor): only a stream seen from its SYN, on
 * which the module concluded nothing, is passed.
 */
export function passFreshWhenOpenersGoneBy(flow: FlowDigest, memory: FlowMemory<unknown>): null {
  if (flow.startedFresh && !memory.concluded) passWhenOpenersGoneBy(flow, memory);
  return null;
}
