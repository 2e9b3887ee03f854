import { CidrError, decisionId, endpointText, formatAddress, networkText, parseAddress, parseOutsideNetwork, type Transport } from '@p2pwall/common';
import type { ScopeName } from './views.js';

/**
 * What an operator names in a request — an outside endpoint, address or network, an inside host —
 * parsed and normalised (IPv6 compressed, so `2001:DB8:0::1` and `2001:db8::1` name one decision).
 * An outside endpoint or address is blocked for a transport (tcp, udp, or both); an inside host
 * is locked whole. Errors name the field and say what is expected.
 */

export interface Address {
  bytes: Uint8Array;
  /** Normalised text. */
  ip: string;
}

export interface Target extends Address {
  scope: ScopeName;
  /** 0 unless scope is endpoint. */
  port: number;
  /** The network's prefix length (bytes are its first address); 0 unless scope is network. */
  prefix: number;
  /** The host's site, or the one site of a network block; "" for endpoint and ip (and a network at every site). */
  site: string;
  /** What an endpoint or ip entry holds for; both for a host. */
  transport: Transport;
  /** The id of the block decision for this target (decisionId). */
  blockId: string;
}

export type Parsed<T> = { ok: T } | { field: string; error: string };

export function parseIpText(text: string): Address | undefined {
  const bytes = parseAddress(text);
  return bytes ? { bytes, ip: formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16) } : undefined;
}

/** `ip`, `ip:port` or `[v6]:port`; port 0 when none is given. */
export function parsePeer(text: string): { address: Address; port: number } | { error: string } {
  const plain = parseIpText(text);
  if (plain) return { address: plain, port: 0 };
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!match) return { error: `"${text}" is not an address: use ip, ip:port or [ipv6]:port` };
  const address = parseIpText(match[1]!);
  if (!address) return { error: `"${match[1]}" is not an IPv4 or IPv6 address` };
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return { error: `port ${match[2]} is out of range 1..65535` };
  return { address, port };
}

/** The target of a manual block or an allow entry (fields `value`, `site` and `transport` of the body; no transport: both). */
export function parseTarget(scope: ScopeName, value: string, site: string | undefined, transport: Transport = 'both'): Parsed<Target> {
  if (scope === 'host' && transport !== 'both') return { field: 'transport', error: `a host lock holds for every transport: leave transport out (or both), got "${transport}"` };
  if (scope === 'network') return parseNetworkTarget(value, site, transport);
  if (scope === 'endpoint') {
    const peer = parsePeer(value);
    if ('error' in peer) return { field: 'value', error: peer.error };
    if (peer.port === 0) return { field: 'value', error: `an endpoint needs a port: ip:port or [ipv6]:port, got "${value}"` };
    if (site) return { field: 'site', error: 'only a host decision has a site (endpoint and ip decisions hold at every site)' };
    const { address, port } = peer;
    return { ok: { ...address, scope, port, prefix: 0, site: '', transport, blockId: decisionId.endpoint(address.ip, port, transport) } };
  }
  const address = parseIpText(value);
  if (!address) return { field: 'value', error: `"${value}" is not an IPv4 or IPv6 address${/:\d+$/.test(value) ? ` (a port needs scope endpoint)` : value.includes('/') ? ' (a network needs scope network)' : ''}` };
  if (scope === 'ip') {
    if (site) return { field: 'site', error: 'only a host decision has a site (endpoint and ip decisions hold at every site)' };
    return { ok: { ...address, scope, port: 0, prefix: 0, site: '', transport, blockId: decisionId.ip(address.ip, transport) } };
  }
  if (!site) return { field: 'site', error: 'a host decision needs the site of the host' };
  return { ok: { ...address, scope, port: 0, prefix: 0, site, transport, blockId: decisionId.host(site, address.ip) } };
}

/** `ip/prefix` with host bits zero and no port (@p2pwall/common parseOutsideNetwork says what was meant). */
function parseNetworkTarget(value: string, site: string | undefined, transport: Transport): Parsed<Target> {
  try {
    const { bytes, prefix } = parseOutsideNetwork(value);
    const ip = formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16);
    return { ok: { bytes, ip, scope: 'network', port: 0, prefix, site: site ?? '', transport, blockId: decisionId.network(networkText(bytes, prefix), transport, site ?? '') } };
  } catch (error) {
    if (error instanceof CidrError) return { field: 'value', error: error.message };
    throw error;
  }
}

/** The text a view shows for a target (`ip:port`, `ip/prefix` or `ip`). */
export function targetValue(target: Target): string {
  if (target.scope === 'network') return networkText(target.bytes, target.prefix);
  return target.scope === 'endpoint' ? endpointText(target.ip, target.port) : target.ip;
}
