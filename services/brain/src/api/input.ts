import { CidrError, CidrSet, parseNetwork, peerToken, type Transport } from '@p2pwall/common';
import { badInput } from './errors.js';
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
  expires?: string;
}

/** The validated input of a manual block or allow entry. */
export function manualInput(body: ManualBody, nowMs: number): ManualInput {
  const parsed = parseTarget(body.scope, body.value, body.site, body.transport);
  if ('field' in parsed) throw badInput(`body/${parsed.field}`, parsed.error);
  const expiresMs = timeInput('body/expires', body.expires, nowMs, 'ahead');
  if (expiresMs !== undefined && expiresMs <= nowMs) throw badInput('body/expires', `"${body.expires}" is not in the future`);
  return { target: parsed.ok, reason: body.reason, author: body.author, expiresMs, nowMs };
}
