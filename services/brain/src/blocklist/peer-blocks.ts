import { blockedPeer, type Transport } from '@p2pwall/common';
import { isActiveBlock, type BrainDecision } from '../decide/decision.js';

/**
 * Endpoint and IP decisions by the peer they cover (peerToken: `ip:port`, or the bare IP) and the
 * transport they block, so that "is a flow of this transport to this endpoint blocked?" takes a
 * few map look-ups and builds no ids. One decision per peer and transport: the id names both.
 */
export class PeerBlocks {
  private readonly byTransport: Record<Transport, Map<string, BrainDecision>> = { both: new Map(), tcp: new Map(), udp: new Map() };

  /** Files an endpoint or IP decision under its peer (a host lock, an allow entry: nothing to file). */
  set(decision: BrainDecision): void {
    const peer = blockedPeer(decision.id);
    if (peer) this.byTransport[peer.transport].set(peer.token, decision);
  }

  /** Forgets the decision filed under the peer the id `id` names. */
  delete(id: string): void {
    const peer = blockedPeer(id);
    if (peer) this.byTransport[peer.transport].delete(peer.token);
  }

  /** Whether an active block of the endpoint, or of its whole address `ip`, covers a flow of `transport` (a block for that transport, or for both). */
  covers(endpoint: string, ip: string, transport: 'tcp' | 'udp', nowMs: number): boolean {
    const both = this.byTransport.both;
    const one = this.byTransport[transport];
    return active(both.get(endpoint), nowMs) || active(one.get(endpoint), nowMs) || active(both.get(ip), nowMs) || active(one.get(ip), nowMs);
  }
}

const active = (decision: BrainDecision | undefined, nowMs: number): boolean => decision !== undefined && isActiveBlock(decision, nowMs);
