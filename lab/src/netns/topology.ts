/**
 * The lab's topology as data: which namespaces, links, addresses and routes a lab of a given
 * shape has, and the `ip -batch` scripts that build each namespace. Pure: no commands run here,
 * so the plan is tested without root.
 *
 *   ${prefix}-inet            br0 198.18.0.254/24, 2001:db8:ffff::254/64; peers and services on lo
 *     │ br0 ── wan-a ═══ wan0 ${prefix}-a-gw  198.18.0.1   (ip_forward=1, v4 and v6)
 *     │                         br-lan 192.168.1.1/24, fd00:1::1/64
 *     │                           ├ lan-c1 ═══ eth0 ${prefix}-a-c1  192.168.1.5   fd00:1::5
 *     │                           ├ lan-c2 ═══ eth0 ${prefix}-a-c2  192.168.1.6   fd00:1::6
 *     │                           └ lan-c3 ═══ eth0 ${prefix}-a-c3  192.168.1.20  fd00:1::20
 *     └ br0 ── wan-b ═══ wan0 ${prefix}-b-gw  198.18.0.2, LAN 192.168.2.0/24, fd00:2::/64 …
 *
 * Every veth is created from inside a lab namespace with its peer end put straight into another,
 * so no lab interface ever exists in the root namespace.
 */
import { DEFAULT_LAB_PEERS, internetAddresses, ipv6Twin, WAN } from './addresses.js';

export interface LabShape {
  /** Namespace name prefix: 1–8 characters, lower-case letters and digits, starting with a letter. */
  prefix?: string;
  /** Site names (1–4 lower-case letters/digits), or a count (sites a, b, c, …). */
  sites?: readonly string[] | number;
  clientsPerSite?: number;
  /** How many peer-cache entries get addresses in the internet (0–240). */
  peers?: number;
}

export const DEFAULT_PREFIX = 'p2pw';
export const MAX_SITES = 50;
export const MAX_CLIENTS_PER_SITE = 50;

/** What each client slot is for, by position. */
export const CLIENT_ROLES = ['kazaa', 'p2p', 'benign'] as const;
export type ClientRole = (typeof CLIENT_ROLES)[number] | 'host';

export interface ClientPlan {
  /** `c1`, `c2`, … */
  name: string;
  ns: string;
  role: ClientRole;
  ipv4: string;
  ipv6: string;
  /** The client's interface (a veth). */
  ifname: 'eth0';
  /** The gateway end of its veth, a port of the LAN bridge. */
  gatewayPort: string;
}

export interface SitePlan {
  name: string;
  /** 0-based position: LAN 192.168.(index+1).0/24, WAN 198.18.0.(index+1). */
  index: number;
  /** The gateway namespace. */
  gateway: string;
  wan: { ifname: 'wan0'; inetPort: string; ipv4: string; ipv6: string; ipv4Cidr: string; ipv6Cidr: string };
  lan: { bridge: 'br-lan'; ipv4Cidr: string; ipv6Cidr: string; gatewayIpv4: string; gatewayIpv6: string };
  clients: ClientPlan[];
}

export interface LabPlan {
  prefix: string;
  inet: {
    ns: string;
    bridge: 'br0';
    routerIpv4: string;
    routerIpv6: string;
    /** Outside addresses held on inet's lo (peer cache, extra peers, services), and their IPv6 twins. */
    ipv4: string[];
    ipv6: string[];
  };
  sites: SitePlan[];
  /** Every namespace, inet first. */
  namespaces: string[];
  peers: number;
}

const PREFIX_RE = /^[a-z][a-z0-9]{0,7}$/;
const SITE_RE = /^[a-z][a-z0-9]{0,3}$/;

/** Host numbers of client slots: c1 .5, c2 .6, c3 .20 (as in the synthetic scenarios), then .21, .22, … */
export function clientHostNumber(index: number): number {
  return index === 0 ? 5 : index === 1 ? 6 : 18 + index;
}

export function siteNames(sites: readonly string[] | number | undefined): string[] {
  if (sites === undefined) return ['a'];
  if (typeof sites === 'number') {
    if (!Number.isInteger(sites) || sites < 1 || sites > 26) throw new RangeError('sites: a count from 1 to 26, or a list of names');
    return Array.from({ length: sites }, (_, i) => String.fromCharCode(97 + i));
  }
  if (sites.length < 1 || sites.length > MAX_SITES) throw new RangeError(`sites: 1 to ${MAX_SITES}`);
  for (const site of sites) if (!SITE_RE.test(site)) throw new RangeError(`site name "${site}": 1–4 lower-case letters or digits, starting with a letter`);
  if (new Set(sites).size !== sites.length) throw new RangeError('sites: names must differ');
  return [...sites];
}

export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) throw new RangeError(`prefix "${prefix}": 1–8 lower-case letters or digits, starting with a letter`);
  return prefix;
}

export function planLab(shape: LabShape = {}): LabPlan {
  const prefix = validatePrefix(shape.prefix ?? DEFAULT_PREFIX);
  const names = siteNames(shape.sites);
  const clientsPerSite = shape.clientsPerSite ?? 3;
  if (!Number.isInteger(clientsPerSite) || clientsPerSite < 0 || clientsPerSite > MAX_CLIENTS_PER_SITE) throw new RangeError(`clientsPerSite: 0 to ${MAX_CLIENTS_PER_SITE}`);
  const peers = shape.peers ?? DEFAULT_LAB_PEERS;
  const ipv4 = internetAddresses(peers);
  const sites = names.map((name, index): SitePlan => {
    const n = index + 1;
    const gateway = `${prefix}-${name}-gw`;
    return {
      name,
      index,
      gateway,
      wan: {
        ifname: 'wan0',
        inetPort: `wan-${name}`,
        ipv4: `${WAN.ipv4Prefix}.${n}`,
        ipv6: `${WAN.ipv6Prefix}::${n}`,
        ipv4Cidr: `${WAN.ipv4Prefix}.0/${WAN.ipv4Len}`,
        ipv6Cidr: `${WAN.ipv6Prefix}::/${WAN.ipv6Len}`,
      },
      lan: { bridge: 'br-lan', ipv4Cidr: `192.168.${n}.0/24`, ipv6Cidr: `fd00:${n}::/64`, gatewayIpv4: `192.168.${n}.1`, gatewayIpv6: `fd00:${n}::1` },
      clients: Array.from({ length: clientsPerSite }, (_, i): ClientPlan => {
        const host = clientHostNumber(i);
        return {
          name: `c${i + 1}`,
          ns: `${prefix}-${name}-c${i + 1}`,
          role: CLIENT_ROLES[i] ?? 'host',
          ipv4: `192.168.${n}.${host}`,
          ipv6: `fd00:${n}::${host}`,
          ifname: 'eth0',
          gatewayPort: `lan-c${i + 1}`,
        };
      }),
    };
  });
  const inetNs = `${prefix}-inet`;
  return {
    prefix,
    inet: { ns: inetNs, bridge: 'br0', routerIpv4: WAN.routerIpv4, routerIpv6: WAN.routerIpv6, ipv4, ipv6: ipv4.map(ipv6Twin) },
    sites,
    namespaces: [inetNs, ...sites.flatMap((site) => [site.gateway, ...site.clients.map((client) => client.ns)])],
    peers,
  };
}

/** Does a namespace name belong to a lab with this prefix? */
export function belongsToLab(ns: string, prefix: string): boolean {
  return ns.startsWith(`${prefix}-`) && /^(inet|[a-z][a-z0-9]{0,3}-(gw|c\d+))$/.test(ns.slice(prefix.length + 1));
}

/**
 * The namespaces of the lab with this prefix among `all`. With its recorded plan, only its inet
 * and namespaces of its own sites count, so another tool's namespace that merely looks alike
 * (`p2pw-x-gw` beside a lab `p2pw` of sites a, b) is left alone; without a plan (its state
 * directory lost too), every name of the lab's shape with the prefix counts.
 */
export function labNamespaces(all: readonly string[], prefix: string, plan?: LabPlan): string[] {
  const matching = all.filter((ns) => belongsToLab(ns, prefix));
  if (!plan) return matching;
  const sites = new Set(plan.sites.map((site) => site.name));
  return matching.filter((ns) => {
    const rest = ns.slice(prefix.length + 1);
    return rest === 'inet' || sites.has(rest.slice(0, rest.indexOf('-')));
  });
}

/**
 * sysctls for a namespace, set before its links exist so `default.*` applies to them:
 * no reverse-path filter, no IPv6 duplicate-address detection (addresses are usable at once),
 * no router advertisements, and a bridge that is plain layer 2 (bridged frames skip iptables).
 * Gateways forward IPv4 and IPv6; nothing else does.
 */
export function sysctlsFor(kind: 'inet' | 'gateway' | 'client'): string[] {
  const common = [
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv6.conf.all.accept_ra=0',
    'net.ipv6.conf.default.accept_ra=0',
  ];
  const bridge = ['net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0'];
  if (kind === 'gateway') return [...common, ...bridge, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.default.forwarding=1'];
  if (kind === 'inet') return [...common, ...bridge, 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0'];
  return [...common, 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0'];
}

/** inet, first part: its bridge, router address and the outside addresses on lo. */
export function inetScript(plan: LabPlan): string[] {
  const { inet } = plan;
  return [
    'link set lo up',
    `link add ${inet.bridge} type bridge mcast_snooping 0`,
    `addr add ${inet.routerIpv4}/${WAN.ipv4Len} dev ${inet.bridge}`,
    `addr add ${inet.routerIpv6}/${WAN.ipv6Len} dev ${inet.bridge} nodad`,
    `link set ${inet.bridge} up`,
    ...inet.ipv4.map((ip) => `addr add ${ip}/32 dev lo`),
    ...inet.ipv6.map((ip) => `addr add ${ip}/128 dev lo nodad`),
  ];
}

/** inet, second part (after the gateways made their WAN veths): bridge ports and routes to each LAN. */
export function inetRoutesScript(plan: LabPlan): string[] {
  return plan.sites.flatMap((site) => [
    `link set ${site.wan.inetPort} master ${plan.inet.bridge}`,
    `link set ${site.wan.inetPort} up`,
    `route add ${site.lan.ipv4Cidr} via ${site.wan.ipv4}`,
    `route add ${site.lan.ipv6Cidr} via ${site.wan.ipv6}`,
  ]);
}

/** A gateway: its WAN veth (peer end into inet), its LAN bridge with one veth per client (peer end into the client), default routes. */
export function gatewayScript(plan: LabPlan, site: SitePlan): string[] {
  return [
    'link set lo up',
    `link add ${site.wan.ifname} type veth peer name ${site.wan.inetPort} netns ${plan.inet.ns}`,
    `addr add ${site.wan.ipv4}/${WAN.ipv4Len} dev ${site.wan.ifname}`,
    `addr add ${site.wan.ipv6}/${WAN.ipv6Len} dev ${site.wan.ifname} nodad`,
    `link set ${site.wan.ifname} up`,
    `link add ${site.lan.bridge} type bridge mcast_snooping 0`,
    `addr add ${site.lan.gatewayIpv4}/24 dev ${site.lan.bridge}`,
    `addr add ${site.lan.gatewayIpv6}/64 dev ${site.lan.bridge} nodad`,
    `link set ${site.lan.bridge} up`,
    ...site.clients.flatMap((client) => [
      `link add ${client.gatewayPort} type veth peer name ${client.ifname} netns ${client.ns}`,
      `link set ${client.gatewayPort} master ${site.lan.bridge}`,
      `link set ${client.gatewayPort} up`,
    ]),
    `route add default via ${plan.inet.routerIpv4}`,
    `route add ::/0 via ${plan.inet.routerIpv6}`,
  ];
}

export function clientScript(site: SitePlan, client: ClientPlan): string[] {
  return [
    'link set lo up',
    `addr add ${client.ipv4}/24 dev ${client.ifname}`,
    `addr add ${client.ipv6}/64 dev ${client.ifname} nodad`,
    `link set ${client.ifname} up`,
    `route add default via ${site.lan.gatewayIpv4}`,
    `route add ::/0 via ${site.lan.gatewayIpv6}`,
  ];
}
