/**
 * What the commands of one segment showed: the strongest rule and the peers named. One object
 * is reused for every segment, so reading costs no allocation until a peer is named.
 */
import type { NamedPeer } from '../module.js';
import { DirectConnectRule, MAX_PEERS_PER_SEGMENT } from './rules.js';

/** Stronger rules win when one segment shows several. */
const RANK: Readonly<Record<string, number>> = {
  [DirectConnectRule.nmdcHub]: 1,
  [DirectConnectRule.nmdcLock]: 2,
  [DirectConnectRule.adcHub]: 2,
  [DirectConnectRule.nmdcPeer]: 3,
  [DirectConnectRule.adcPeer]: 3,
  [DirectConnectRule.nmdcHubLogin]: 4,
  [DirectConnectRule.adcHubLogin]: 4,
};

export class Found {
  rule: DirectConnectRule | null = null;
  peers: NamedPeer[] | null = null;

  reset(): void {
    this.rule = null;
    this.peers = null;
  }

  show(rule: DirectConnectRule): void {
    if (this.rule === null || RANK[rule]! > RANK[this.rule]!) this.rule = rule;
  }

  name(peer: NamedPeer | null): void {
    if (peer === null) return;
    const peers = (this.peers ??= []);
    if (peers.length < MAX_PEERS_PER_SEGMENT) peers.push(peer);
  }
}
