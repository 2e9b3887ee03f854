import { CidrError, CidrSet, parseNetwork, peerToken, unblockableAddressReason, type Transport } from '@p2pwall/common';
import { ApiError, badInput } from './errors.js';
import type { ManualInput } from './manual.js';
import { parseIpText, parsePeer, parseTarget, type Address } from './target.js';
import { parseTime, type TimeDirection } from './time.js';
import type { ScopeName } from './views.js';

/** Request values the schemas cannot check alone, parsed or rejected with a 400 naming the field. */

export function timeInput(field: string, text: string | undefined, nowMs: number, direction: TimeDirection): number | undefined {
  if (text === undefined) return undefined;
  const result = parseTime(text, nowMs, direction);
  if ('error' in result) throw badInput(field, result.error);
  return result.ms;
}

export function ipInput(field: string, text: string): Address {
  const address = parseIpText(text);
  if (!address) throw badInput(field, `"${text}" is not an IPv4 or IPv6 address`);
  return address;
}

/** A network (CIDR) as a set to test addresses against. */
export function rangeInput(field: string, text: string): CidrSet {
  try {
    parseNetwork(text);
    return new CidrSet([text]);
  } catch (error) {
    if (error instanceof CidrError) throw badInput(field, error.message);
    throw error;
  }
}

/** `ip`, `ip:port` or `[v6]:port`, normalised. */
export function peerInput(field: string, text: string): { address: Address; port: number; text: string } {
  const peer = parsePeer(text);
  if ('error' in peer) throw badInput(field, peer.error);
  return { ...peer, text: peerToken(peer.address.ip, peer.port) };
}

export interface ManualBody {
  scope: ScopeName;
  value: string;
  site?: string;
  /** endpoint and ip blocks: what they hold for (default both). */
  transport?: Transport;
  reason: string;
  author?: string;
  /** A time, relative or ISO 8601, or "never"; absent: the configured default (api.manualExpirySeconds). */
  expires?: string;
  /** Blocks only: block an inside (private-range) address as a peer anyway. */
  force?: boolean;
}

/** The validated input of a manual block or allow entry; with no expiry given, it ends after `defaultExpirySeconds` (0: never). */
export function manualInput(body: ManualBody, nowMs: number, defaultExpirySeconds = 0): ManualInput {
  const parsed = parseTarget(body.scope, body.value, body.site, body.transport);
  if ('field' in parsed) throw badInput(`body/${parsed.field}`, parsed.error);
  if (body.expires === 'never') return { target: parsed.ok, reason: body.reason, author: body.author, expiresMs: undefined, nowMs };
  const expiresMs = body.expires === undefined ? (defaultExpirySeconds > 0 ? nowMs + defaultExpirySeconds * 1000 : undefined) : timeInput('body/expires', body.expires, nowMs, 'ahead');
  if (expiresMs !== undefined && expiresMs <= nowMs) throw badInput('body/expires', `"${body.expires}" is not in the future`);
  return { target: parsed.ok, reason: body.reason, author: body.author, expiresMs, nowMs };
}

/**
 * A peer block (endpoint or whole address) of an address no peer can be: reserved ranges always
 * (loopback, multicast, ...), inside (private) ranges unless forced, since such a block cuts that
 * host off from every site. A host lock is the way to stop an inside host.
 */
export function checkPeerTarget(input: ManualInput, force: boolean): void {
  if (input.target.scope === 'host') return;
  const reason = unblockableAddressReason(input.target.bytes);
  if (reason === 'reserved') throw new ApiError(409, `${input.target.ip} is a reserved address (loopback, link-local, multicast, broadcast or unspecified): it is never a peer`);
  if (reason === 'inside' && !force) {
    throw new ApiError(409, `${input.target.ip} is an inside (private-range) address: a peer block of it cuts every site's hosts off from it. To stop that host, lock it at its site (scope host with site); to block it as a peer anyway, send force: true (CLI: --force)`);
  }
}
