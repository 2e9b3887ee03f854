import type { Transport } from '@p2pwall/common';
import type { NamedPeer } from './module.js';

/**
 * Where a list of peers in a payload came from, for every module that reads one (compact lists,
 * contact lists, server lists, pongs): the rule id it names them by, their transport, and the
 * most taken from one message. The engine's guards and caps then decide what is learned.
 */
export interface PeerListSource {
  readonly via: string;
  readonly transport: Transport;
  /** Peers taken from one reply at most. */
  readonly max: number;
  readonly ttlMs?: number;
}

export function namedPeer(ip: string, port: number, source: PeerListSource): NamedPeer {
  return source.ttlMs === undefined ? { ip, port, transport: source.transport, via: source.via } : { ip, port, transport: source.transport, via: source.via, ttlMs: source.ttlMs };
}
