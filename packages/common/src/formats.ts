/**
 * The text forms p2pwall shares between the sensor, the brain, the lab and the CLI: transports,
 * IP protocol names, endpoints, inside hosts (`site/ip`), rule ids (`protocol/rule`). One
 * definition of each, with its parser, so no hop re-declares a format of its own.
 */
import { parseAddress } from './address.js';

// ---------------------------------------------------------------------------------------------
// Transports

/** Which transport a peer is blocked for. `both`: TCP and UDP (what the wire's 0 means). */
export type Transport = 'tcp' | 'udp' | 'both';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'udp', 'both'];

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export function isTransport(value: unknown): value is Transport {
  return value === 'tcp' || value === 'udp' || value === 'both';
}

/** `tcp` for 6, `udp` for 17, null for any other IP protocol. */
export function transportOfIpProtocol(protocol: number): 'tcp' | 'udp' | null {
  if (protocol === IPPROTO_TCP) return 'tcp';
  if (protocol === IPPROTO_UDP) return 'udp';
  return null;
}

/** How an IP protocol number is written in events, summaries and the CLI. */
export function ipProtocolName(protocol: number): string {
  if (protocol === IPPROTO_TCP) return 'tcp';
  if (protocol === IPPROTO_UDP) return 'udp';
  if (protocol === 1) return 'icmp';
  if (protocol === 58) return 'icmpv6';
  return `ip-${protocol}`;
}

/** The inverse of ipProtocolName; undefined for text it never writes. */
export function parseIpProtocolName(text: string): number | undefined {
  if (text === 'tcp') return IPPROTO_TCP;
  if (text === 'udp') return IPPROTO_UDP;
  if (text === 'icmp') return 1;
  if (text === 'icmpv6') return 58;
  const match = /^ip-(\d{1,3})$/.exec(text);
  const value = match ? Number(match[1]) : NaN;
  return value >= 0 && value <= 255 ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Endpoints and inside hosts

/** `1.2.3.4:1214` or `[2001:db8::1]:1214` (a port of `*` stands for every port, in reports). */
export function endpointText(ip: string, port: number | '*'): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHexOrColon = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 58;
const isDigitOrDot = (c: number): boolean => isDigit(c) || c === 46;

function allChars(text: string, from: number, to: number, ok: (c: number) => boolean): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) if (!ok(text.charCodeAt(i))) return false;
  return true;
}

/**
 * The inverse of endpointText: `[hex:…]:port` or `digits.dots:port`, port ≤ 65535. It checks the
 * characters, not that the address is valid (see parseEndpoint). Hand-written rather than a
 * regular expression: the brain's ingest parses every member of every host window it evaluates.
 */
export function parseEndpointText(text: string): { ip: string; port: number } | undefined {
  let ipFrom: number;
  let ipTo: number;
  let portFrom: number;
  if (text.charCodeAt(0) === 91 /* [ */) {
    ipFrom = 1;
    ipTo = text.indexOf(']:');
    portFrom = ipTo + 2;
    if (ipTo < 0 || !allChars(text, ipFrom, ipTo, isHexOrColon)) return undefined;
  } else {
    ipFrom = 0;
    ipTo = text.indexOf(':');
    portFrom = ipTo + 1;
    if (ipTo < 0 || !allChars(text, ipFrom, ipTo, isDigitOrDot)) return undefined;
  }
  if (!allChars(text, portFrom, text.length, isDigit) || text.length - portFrom > 5) return undefined;
  const port = Number(text.slice(portFrom));
  return port <= 65535 ? { ip: text.slice(ipFrom, ipTo), port } : undefined;
}

/** parseEndpointText, and the address must parse too. */
export function parseEndpoint(text: string): { ip: string; port: number; bytes: Uint8Array } | undefined {
  const endpoint = parseEndpointText(text);
  const bytes = endpoint ? parseAddress(endpoint.ip) : null;
  return endpoint && bytes ? { ...endpoint, bytes } : undefined;
}

/** `site/ip`: an inside host, as evidence, incidents and decisions name it. */
export function siteHostText(site: string, ip: string): string {
  return `${site}/${ip}`;
}

/** The inverse of siteHostText. */
export function parseSiteHost(text: string): { site: string; ip: string } | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return undefined;
  return { site: text.slice(0, slash), ip: text.slice(slash + 1) };
}

/** The site of a `site/ip` text (the whole text when it has no slash). */
export function siteOfSiteHost(text: string): string {
  const slash = text.indexOf('/');
  return slash < 0 ? text : text.slice(0, slash);
}

// ---------------------------------------------------------------------------------------------
// Rule ids

/**
 * Every rule is named `namespace/rule`: the protocol module that matched (`fasttrack/udp-ping`),
 * the brain's correlation (`correlate/udp-fanout`) or an operator (`operator/manual`).
 */
export const RULE_NAMESPACES = {
  correlate: 'correlate',
  operator: 'operator',
} as const;

const RULE_PART = /^[a-z0-9][a-z0-9-]{0,47}$/;

export class RuleIdError extends Error {}

/** `namespace/rule`; both parts lower-case letters, digits and dashes. */
export function ruleId(namespace: string, rule: string): string {
  if (!RULE_PART.test(namespace)) throw new RuleIdError(`rule namespace "${namespace}": use lower-case letters, digits and dashes`);
  if (!RULE_PART.test(rule)) throw new RuleIdError(`rule "${rule}": use lower-case letters, digits and dashes`);
  return `${namespace}/${rule}`;
}

/** The parts of a rule id; undefined when the text is not one. */
export function parseRuleId(text: string): { namespace: string; rule: string } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const namespace = text.slice(0, slash);
  const rule = text.slice(slash + 1);
  return RULE_PART.test(namespace) && RULE_PART.test(rule) ? { namespace, rule } : undefined;
}

/** The namespace (protocol) part of a rule id, or '' when it has none. */
export function ruleNamespace(text: string): string {
  const slash = text.indexOf('/');
  return slash < 0 ? '' : text.slice(0, slash);
}

/** Protocol names (a module's `name`): the same form as a rule's namespace. */
export function isProtocolName(text: string): boolean {
  return RULE_PART.test(text);
}
