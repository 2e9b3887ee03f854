/**
 * The names of the shared blocklist, in one place: decision ids (how the brain keys a decision,
 * how an operator names one to unblock it), allow-entry ids, the peer a block covers, and the
 * origins a decision can have. Text only (no wire code), so the `p2pwall` CLI can use it too;
 * the mapping to the wire's enums is in wire-enums.ts.
 *
 * Decision ids:
 * - `endpoint:<ip:port>`, `endpoint:tcp:<ip:port>`, `endpoint:udp:<ip:port>`: an outside
 *   endpoint (endpointText: `1.2.3.4:1214`, `[2001:db8::1]:1214`), blocked for both transports,
 *   TCP only or UDP only;
 * - `ip:<ip>`, `ip:tcp:<ip>`, `ip:udp:<ip>`: a whole outside address, likewise;
 * - `host:<site>:<ip>`: an inside host, locked at its site;
 * - `net:<cidr>`, `net:tcp:<cidr>`, `net:udp:<cidr>` (networkText: `198.51.100.0/24`): an outside
 *   network, likewise; `@<site>` appended when it holds at one site only (`net:198.51.100.0/24@b`;
 *   no address or prefix has an `@`, and a site cannot be mistaken for a transport there);
 * - `allow:` + one of the above: the allow entry that lifts that block.
 * A transport of `both` is left out, so ids made before transports existed name the same
 * decisions. `tcp:`/`udp:` cannot be mistaken for an address: no IPv4 or IPv6 text starts so.
 */
import { isIPv4 } from 'node:net';
import { formatAddress, parseAddress } from './address.js';
import { CidrError, outsideNetworkText } from './cidr.js';
import { TRANSPORTS, endpointText, parseEndpointText, type Transport } from './formats.js';

// ---------------------------------------------------------------------------------------------
// Origins

/** How a decision came to be: a sensor's signature evidence, the brain's correlation, an operator. */
export type OriginName = 'signature' | 'correlation' | 'manual';
export const ORIGIN_NAMES: readonly OriginName[] = ['signature', 'correlation', 'manual'];

export function isOriginName(value: unknown): value is OriginName {
  return value === 'signature' || value === 'correlation' || value === 'manual';
}

// ---------------------------------------------------------------------------------------------
// Decision ids

/** What a decision id names. Host locks have no transport: they hold the whole host. */
export type DecisionTarget =
  | { scope: 'endpoint'; ip: string; port: number; transport: Transport }
  | { scope: 'ip'; ip: string; transport: Transport }
  | { scope: 'host'; site: string; ip: string }
  | { scope: 'network'; network: string; transport: Transport; site: string };

export const ALLOW_PREFIX = 'allow:';

/** Longer text is no decision id (the longest: an allow entry of a UDP-only IPv6 endpoint, or a host of a 63-character site). */
export const MAX_DECISION_ID_LENGTH = 160;

/** What an id starts with, by the scope of the decision it names. */
const ID_PREFIX: Record<DecisionTarget['scope'], string> = { endpoint: 'endpoint:', ip: 'ip:', host: 'host:', network: 'net:' };

const transportPart = (transport: Transport): string => (transport === 'both' ? '' : `${transport}:`);

/** Stable ids: the same scope, value and transport (and site) always name the same decision. */
export const decisionId = {
  endpoint: (ip: string, port: number, transport: Transport = 'both'): string => `${ID_PREFIX.endpoint}${transportPart(transport)}${endpointText(ip, port)}`,
  ip: (ip: string, transport: Transport = 'both'): string => `${ID_PREFIX.ip}${transportPart(transport)}${ip}`,
  host: (site: string, ip: string): string => `${ID_PREFIX.host}${site}:${ip}`,
  /** `network` as networkText writes it; site "" for every site. */
  network: (network: string, transport: Transport = 'both', site = ''): string => `${ID_PREFIX.network}${transportPart(transport)}${network}${site === '' ? '' : `@${site}`}`,
};

/** The id of the decision about `target`. */
export function decisionIdOf(target: DecisionTarget): string {
  switch (target.scope) {
    case 'endpoint':
      return decisionId.endpoint(target.ip, target.port, target.transport);
    case 'ip':
      return decisionId.ip(target.ip, target.transport);
    case 'host':
      return decisionId.host(target.site, target.ip);
    case 'network':
      return decisionId.network(target.network, target.transport, target.site);
  }
}

/** The ids of the blocks of one endpoint (port ≥ 1) or of a whole address (port 0): one per transport. */
export function peerBlockIds(ip: string, port: number): string[] {
  return TRANSPORTS.map((transport) => (port === 0 ? decisionId.ip(ip, transport) : decisionId.endpoint(ip, port, transport)));
}

/** The id prefixes of the endpoint blocks of an address, one per transport (`endpoint:1.2.3.4:`, `endpoint:udp:[2001:db8::1]:`, ...). */
export function endpointBlockIdPrefixes(ip: string): string[] {
  // the id of port 0 without its last character: an endpoint's id up to its port
  return TRANSPORTS.map((transport) => decisionId.endpoint(ip, 0, transport).slice(0, -1));
}

/** The id of the allow entry that lifts the block with id `blockId`. */
export function allowId(blockId: string): string {
  return `${ALLOW_PREFIX}${blockId}`;
}

export function isAllowId(id: string): boolean {
  return id.startsWith(ALLOW_PREFIX);
}

/** The address text as ids write it (dotted IPv4, compressed lower-case IPv6); undefined when it is not one. */
function canonicalIp(text: string): string | undefined {
  // node's isIPv4 takes only the dotted quad formatAddress writes (no leading zeros): no round trip needed
  if (isIPv4(text)) return text;
  const bytes = parseAddress(text);
  if (!bytes) return undefined;
  const canonical = formatAddress(bytes, 0, bytes.length === 4 ? 4 : 16);
  return canonical === text ? canonical : undefined;
}

/** The network text as ids write it (networkText of a network with zero host bits); undefined otherwise. */
function canonicalNetwork(text: string): string | undefined {
  try {
    return outsideNetworkText(text) === text ? text : undefined;
  } catch (error) {
    if (error instanceof CidrError) return undefined;
    throw error;
  }
}

function splitTransport(text: string): { transport: Transport; rest: string } {
  if (text.startsWith('tcp:')) return { transport: 'tcp', rest: text.slice(4) };
  if (text.startsWith('udp:')) return { transport: 'udp', rest: text.slice(4) };
  return { transport: 'both', rest: text };
}

function parseBlockId(id: string): DecisionTarget | undefined {
  const colon = id.indexOf(':');
  if (colon < 0) return undefined;
  const body = id.slice(colon + 1);
  switch (id.slice(0, colon)) {
    case 'endpoint': {
      const { transport, rest } = splitTransport(body);
      const endpoint = parseEndpointText(rest);
      const ip = endpoint && canonicalIp(endpoint.ip);
      if (!endpoint || ip === undefined || endpoint.port === 0 || endpointText(ip, endpoint.port) !== rest) return undefined;
      return { scope: 'endpoint', ip, port: endpoint.port, transport };
    }
    case 'ip': {
      const { transport, rest } = splitTransport(body);
      const ip = canonicalIp(rest);
      return ip === undefined ? undefined : { scope: 'ip', ip, transport };
    }
    case 'net': {
      const { transport, rest } = splitTransport(body);
      const at = rest.indexOf('@');
      const network = canonicalNetwork(at < 0 ? rest : rest.slice(0, at));
      const site = at < 0 ? '' : rest.slice(at + 1);
      if (network === undefined || (at >= 0 && site === '')) return undefined;
      return { scope: 'network', network, transport, site };
    }
    case 'host': {
      const siteEnd = body.indexOf(':');
      const ip = siteEnd > 0 ? canonicalIp(body.slice(siteEnd + 1)) : undefined;
      return ip === undefined ? undefined : { scope: 'host', site: body.slice(0, siteEnd), ip };
    }
    default:
      return undefined;
  }
}

/**
 * The inverse of decisionId and allowId: what an id names, and whether it is an allow entry's.
 * Only the form decisionId writes is read (canonical addresses, no `both:`), so one decision
 * never has two ids; anything else is undefined.
 */
export function parseDecisionId(id: string): { allow: boolean; target: DecisionTarget } | undefined {
  if (id.length > MAX_DECISION_ID_LENGTH) return undefined;
  const allow = isAllowId(id);
  const target = parseBlockId(allow ? id.slice(ALLOW_PREFIX.length) : id);
  return target && { allow, target };
}

// ---------------------------------------------------------------------------------------------
// Peers

/** An outside peer as flows, host windows and incidents name it: `ip:port` (endpointText), or the bare IP of a whole address (port 0). */
export function peerToken(ip: string, port: number): string {
  return port === 0 ? ip : endpointText(ip, port);
}

/**
 * The peer a block decision's id covers: its peerToken (`whole`: a bare IP, every port) and the
 * transport blocked. Undefined for host locks, allow entries and text that is no decision id.
 */
export function blockedPeer(id: string): { token: string; whole: boolean; transport: Transport } | undefined {
  // host locks and allow entries are common (one per locked host): known without parsing their address
  if (!id.startsWith(ID_PREFIX.endpoint) && !id.startsWith(ID_PREFIX.ip)) return undefined;
  const parsed = parseDecisionId(id);
  if (!parsed || parsed.allow) return undefined;
  const { target } = parsed;
  switch (target.scope) {
    case 'endpoint':
      return { token: peerToken(target.ip, target.port), whole: false, transport: target.transport };
    case 'ip':
      return { token: target.ip, whole: true, transport: target.transport };
    default:
      return undefined;
  }
}
