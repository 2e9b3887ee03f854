import { CidrError, CidrSet, networkAddress, parseNetwork, peerToken, type Network, type Transport } from '@p2pwall/common';
import { ApiError, badInput } from './errors.js';
import type { ManualInput } from './manual.js';
import { peerTargetRefusal, type PeerLimits } from './peer-refusal.js';
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

/** A network (CIDR, host bits may be set: a range to search, not to block) as its first address and prefix. */
export function networkInput(field: string, text: string): Network {
  try {
    const { bytes, prefix } = parseNetwork(text);
    return { bytes: networkAddress(bytes, prefix), prefix };
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

/** A peer block (endpoint, address or network) the brain refuses (peer-refusal.ts): 409, or 400 for a network too wide. */
export function checkPeerTarget(input: ManualInput, force: boolean, limits: PeerLimits): void {
  const refusal = peerTargetRefusal(input.target, force, limits);
  if (refusal === undefined) return;
  if (refusal.status === 400) throw badInput('body/value', refusal.message);
  throw new ApiError(refusal.status, refusal.message);
}
