import { formatAddress, parseAddress } from '@p2pwall/common/address';
import { CidrError, outsideNetworkText } from '@p2pwall/common/cidr';
import { InvalidValueError } from '@p2pwall/common/cli-values';
import { peerToken } from '@p2pwall/common/decisions';

/**
 * Addresses as people type them on the command line: `IP`, `IP:PORT` or `[v6]:PORT`. Parsed
 * here, before any request, so a typo is named at once; the text sent is the canonical form
 * (compressed IPv6), which is also how the brain names decisions.
 */

export interface Target {
  ip: string;
  /** 0: the whole address. */
  port: number;
}

/** Canonical text of an IPv4 or IPv6 address, or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  const bytes = parseAddress(text.trim());
  if (!bytes) return undefined;
  return formatAddress(bytes, 0, bytes.length as 4 | 16);
}

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= 65535 ? value : undefined;
}

/**
 * `IP` (port 0), `IPv4:PORT` or `[IPv6]:PORT`. A bare IPv6 address is always a whole address:
 * `2001:db8::1:1214` is an address, not an endpoint; an IPv6 endpoint needs the brackets.
 */
export function parseTarget(text: string): Target | undefined {
  const trimmed = text.trim();
  const bare = canonicalIp(trimmed);
  if (bare) return { ip: bare, port: 0 };
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed) ?? /^([0-9.]+):(\d+)$/.exec(trimmed);
  if (!match) return undefined;
  const ip = canonicalIp(match[1]!);
  const p = port(match[2]!);
  if (!ip || p === undefined) return undefined;
  if (match[0].startsWith('[') !== ip.includes(':')) return undefined; // `[1.2.3.4]:80` is not a form anyone writes
  return { ip, port: p };
}

/** `ip`, `ip:port` or `[v6]:port`: the way the brain writes values and peers (@p2pwall/common peerToken). */
export function targetText(target: Target): string {
  return peerToken(target.ip, target.port);
}

// Parsers shaped for commander's argParser: they return the canonical text or throw an error
// that commander prints as "argument 'x' is invalid. <message>" with exit 1.

/** `NET/LEN` with host bits zero, canonical (`2001:DB8::/32` → `2001:db8::/32`); the error says what was meant. */
export function canonicalNetwork(text: string): { network: string } | { error: string } {
  try {
    return { network: outsideNetworkText(text) };
  } catch (error) {
    if (error instanceof CidrError) return { error: error.message };
    throw error;
  }
}

export function networkArgument(text: string): string {
  const parsed = canonicalNetwork(text);
  if ('error' in parsed) throw new InvalidValueError(`${parsed.error}. Expected a network such as 198.51.100.0/24 or 2001:db8:7::/48.`);
  return parsed.network;
}

export function ipArgument(text: string): string {
  const ip = canonicalIp(text);
  if (!ip) throw new InvalidValueError('Expected an IPv4 or IPv6 address, e.g. 192.168.1.5 or 2001:db8::5.');
  return ip;
}

export function endpointArgument(text: string): string {
  const target = parseTarget(text);
  if (!target || target.port === 0) throw new InvalidValueError('Expected IP:PORT or [IPv6]:PORT with a port from 1 to 65535, e.g. 198.51.100.9:1214.');
  return targetText(target);
}

/** What `allow add` takes: peerArgument, and a network named as what it is not. */
export function allowTargetArgument(text: string): string {
  if (text.includes('/')) throw new InvalidValueError('Allow entries name one address, endpoint or host, not a network: list a network never to block in the brain config allowlist.endpoints, or lift a network block with p2pwall decisions delete --network NET/LEN.');
  return peerArgument(text);
}

export function peerArgument(text: string): string {
  const target = parseTarget(text);
  if (!target) throw new InvalidValueError('Expected IP, IP:PORT or [IPv6]:PORT, e.g. 198.51.100.9 or 198.51.100.9:1214.');
  return targetText(target);
}
