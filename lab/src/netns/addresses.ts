/**
 * The lab's fixed "internet" addresses. Outside hosts live in the documentation ranges
 * 203.0.113.0/24 and 198.51.100.0/24 and the benchmark range 198.18.0.0/15; inside networks in
 * 192.168.x.0/24 and fd00:x::/64 (they never leave the lab's namespaces).
 *
 * The FastTrack peer cache is `peerCache(size, seed)` from the synthetic scenarios, so live and
 * synthetic traffic agree: peer i sits at 203.0.113.(1 + i/2) for even i and 198.51.100.(1 + i/2)
 * for odd i, so a 200-peer cache takes 203.0.113.1–100 and 198.51.100.1–100. The service
 * addresses below stay clear of every cache of up to MAX_LAB_PEERS peers.
 */
import { endpointText, parseEndpointText } from '@p2pwall/common';
import { peerCache } from '../synthetic/scenarios.js';

export interface Endpoint {
  ip: string;
  port: number;
}

/** The most cache peers the lab gives addresses to (keeps them clear of the service addresses). */
export const MAX_LAB_PEERS = 240;
export const DEFAULT_LAB_PEERS = 200;

/** Outside hosts that are not in the peer cache. */
export const LAB_HOSTS = {
  /** HTTP (port 80) and the TCP bulk source/sink (port 5001). */
  web: '203.0.113.250',
  /**
   * The DNS-like echo (port 53). Not 198.51.100.53 (the synthetic benign scenario's resolver):
   * that address is peer 104 of a 200-peer cache, and a firewall that learns whole addresses
   * would then cut DNS.
   */
  dns: '198.51.100.153',
  /** The NTP-like responder (port 123). */
  ntp: '198.51.100.123',
} as const;

export const WEB_PORT = 80;
/** HTTPS on the web server, served only when benign-servers is given a certificate. */
export const TLS_PORT = 443;
/** A UDP echo on the web server's address: ordinary high-port UDP (a game server's port). */
export const UDP_ECHO_PORT = 27015;
export const BULK_PORT = 5001;
export const DNS_PORT = 53;
export const NTP_PORT = 123;

/** The uploader a search found and the client's supernode, as in the synthetic kazaaStartup. */
export const KAZAA_UPLOADER: Endpoint = { ip: '203.0.113.200', port: 2121 };
export const KAZAA_SUPERNODE: Endpoint = { ip: '198.51.100.201', port: 1214 };
/** The supernode the uploader names in its reply (X-Kazaa-SupernodeIP), as in the synthetic scenario. */
export const UPLOADER_SUPERNODE: Endpoint = { ip: '198.51.100.202', port: 1214 };
/** Peers served outside the cache. */
export const EXTRA_PEERS: readonly Endpoint[] = [KAZAA_UPLOADER, KAZAA_SUPERNODE];

/** The shared "internet" segment between gateways (WAN side). */
export const WAN = {
  ipv4Prefix: '198.18.0',
  ipv4Len: 24,
  ipv6Prefix: '2001:db8:ffff',
  ipv6Len: 64,
  /** The internet router (inet's address on br0). */
  routerIpv4: '198.18.0.254',
  routerIpv6: '2001:db8:ffff::254',
} as const;

/** Outside IPv6 peers and services live in 2001:db8::/48 (the WAN /64 is outside it). */
export const INTERNET_IPV6 = '2001:db8::/48';

/**
 * The IPv6 twin of an outside IPv4 address of the lab: 203.0.113.d → 2001:db8:0:113::d and
 * 198.51.100.d → 2001:db8:0:100::d (the last group spells the decimal octet). The inet
 * namespace holds both, and the emulators serve both, so every test can run over either family.
 */
export function ipv6Twin(ipv4: string): string {
  const match = /^(203\.0\.113|198\.51\.100)\.(\d{1,3})$/.exec(ipv4);
  if (!match || Number(match[2]) > 255) throw new RangeError(`no IPv6 twin for ${ipv4}: only 203.0.113.0/24 and 198.51.100.0/24 have one`);
  return `2001:db8:0:${match[1] === '203.0.113' ? '113' : '100'}::${Number(match[2])}`;
}

/** The address of an endpoint in the family asked for. */
export function inFamily(ip: string, ipv6: boolean): string {
  return ipv6 && !ip.includes(':') ? ipv6Twin(ip) : ip;
}

/** `ip:port`, with brackets for IPv6. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpointText(endpoint.ip, endpoint.port);
}

/** Parses `a.b.c.d:port` or `[v6]:port`. */
export function parseEndpoint(text: string): Endpoint {
  const endpoint = parseEndpointText(text);
  if (!endpoint || endpoint.port < 1) throw new RangeError(`"${text}" is not ip:port (IPv6 as [addr]:port)`);
  return endpoint;
}

/** Every IPv4 address the inet namespace holds for a cache of `peers` entries, services included. */
export function internetAddresses(peers = DEFAULT_LAB_PEERS): string[] {
  if (!Number.isInteger(peers) || peers < 0 || peers > MAX_LAB_PEERS) throw new RangeError(`peers: 0 to ${MAX_LAB_PEERS}`);
  const addresses = new Set(peerCache(peers).map((peer) => peer.ip));
  for (const peer of EXTRA_PEERS) addresses.add(peer.ip);
  for (const host of Object.values(LAB_HOSTS)) addresses.add(host);
  return [...addresses];
}
