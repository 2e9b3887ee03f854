import { networkText, originLabel, transportOfWire, type Transport } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { formatAddress } from '../decode/address.js';

const { Scope, Action } = p2pwall.v1;

/** What a shared decision asks of this sensor, in the terms of its engine and kernel sets. */
export type DecisionEffect =
  | { kind: 'block-peer'; ip: string; port: number; transport: Transport; expiresAt: number; via: string }
  | { kind: 'unblock-peer'; ip: string; port: number; transport: Transport }
  | { kind: 'block-network'; network: string; transport: Transport; expiresAt: number }
  | { kind: 'unblock-network'; network: string; transport: Transport }
  | { kind: 'allow-peer'; ip: string; port: number; allowedUntil: number }
  | { kind: 'disallow-peer'; ip: string; port: number }
  | { kind: 'lock-host'; ip: string; lockedUntil: number }
  | { kind: 'unlock-host'; ip: string }
  | { kind: 'allow-host'; ip: string; allowedUntil: number }
  | { kind: 'disallow-host'; ip: string }
  | { kind: 'none'; why: string };

/**
 * Maps a decision from the shared blocklist to its effect here. Host and network decisions concern
 * one site (or every site when their site is empty); simulated decisions are recorded, never enforced.
 * A network block is the kernel's alone (a hash:net set whose packets never reach the queue), so
 * the engine is not told of it; allow entries inside it still reach the engine as allow-peer.
 * `removed` is true when the decision left the blocklist (expired, withdrawn, unblocked).
 */
export function decisionEffect(decision: p2pwall.v1.IDecision, site: string, removed: boolean): DecisionEffect {
  if (decision.simulated) return { kind: 'none', why: 'simulated' };
  const bytes = decision.ip;
  if (!bytes || (bytes.length !== 4 && bytes.length !== 16)) return { kind: 'none', why: 'no usable address' };
  const ip = formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16);
  const allow = decision.action === Action.ACTION_ALLOW;
  switch (decision.scope) {
    case Scope.SCOPE_ENDPOINT:
    case Scope.SCOPE_IP: {
      const port = decision.scope === Scope.SCOPE_IP ? 0 : (decision.port ?? 0);
      const transport = transportOfWire(decision.transport);
      // An allow entry lifts every block it covers and keeps the peer from being learned while it
      // lasts, for every transport; its removal restores nothing by itself.
      if (allow) return removed ? { kind: 'disallow-peer', ip, port } : { kind: 'allow-peer', ip, port, allowedUntil: decision.expiresMs ?? 0 };
      if (removed) return { kind: 'unblock-peer', ip, port, transport };
      return { kind: 'block-peer', ip, port, transport, expiresAt: decision.expiresMs ?? 0, via: `shared:${originLabel(decision.origin)}` };
    }
    case Scope.SCOPE_NETWORK: {
      if (decision.site && decision.site !== site) return { kind: 'none', why: `network of site ${decision.site}` };
      const prefix = decision.prefixLength ?? 0;
      if (allow) return { kind: 'none', why: 'network allow entries are not made' };
      if (prefix < 1 || prefix > bytes.length * 8) return { kind: 'none', why: `prefix length ${prefix}` };
      const network = networkText(bytes, prefix);
      const transport = transportOfWire(decision.transport);
      return removed ? { kind: 'unblock-network', network, transport } : { kind: 'block-network', network, transport, expiresAt: decision.expiresMs ?? 0 };
    }
    case Scope.SCOPE_HOST: {
      if (decision.site && decision.site !== site) return { kind: 'none', why: `host of site ${decision.site}` };
      if (allow) return removed ? { kind: 'disallow-host', ip } : { kind: 'allow-host', ip, allowedUntil: decision.expiresMs ?? 0 };
      if (removed) return { kind: 'unlock-host', ip };
      return { kind: 'lock-host', ip, lockedUntil: decision.expiresMs ?? 0 };
    }
    default:
      return { kind: 'none', why: `scope ${String(decision.scope)}` };
  }
}
