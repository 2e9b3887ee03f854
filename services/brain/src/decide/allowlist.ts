import { BlockList } from 'node:net';
import { parseEndpointText } from '@p2pwall/common';
import { type AllowlistConfig, parseIp } from '@p2pwall/common/correlate';

export class AllowlistError extends Error {}

function addCidr(list: BlockList, text: string): void {
  const [address, prefix] = text.split('/');
  const bytes = address === undefined ? undefined : parseIp(address);
  if (!bytes) throw new AllowlistError(`"${text}" is not an address or CIDR`);
  const family = bytes.length === 4 ? 'ipv4' : 'ipv6';
  if (prefix === undefined) {
    list.addAddress(address!, family);
    return;
  }
  const bits = Number(prefix);
  if (!/^\d+$/.test(prefix) || bits > bytes.length * 8) throw new AllowlistError(`"${text}": bad prefix length`);
  list.addSubnet(address!, bits, family);
}

function check(list: BlockList, ip: string): boolean {
  return list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
}

/**
 * Hosts and endpoints that are never blocked. hosts: `CIDR` (every site) or `site/CIDR`;
 * endpoints: `CIDR` (every port) or `ip:port` / `[v6]:port`.
 */
export class Allowlist {
  private readonly hostsEverywhere = new BlockList();
  private readonly hostsBySite = new Map<string, BlockList>();
  private readonly addresses = new BlockList();
  private readonly endpoints = new Set<string>();

  constructor(config: AllowlistConfig) {
    for (const entry of config.hosts) {
      const match = /^([a-z0-9][a-z0-9-]*)\/(.+)$/.exec(entry);
      // "site/CIDR"; a plain CIDR never matches (its address holds '.' or ':', which no site name does).
      if (match) {
        let list = this.hostsBySite.get(match[1]!);
        if (!list) this.hostsBySite.set(match[1]!, (list = new BlockList()));
        addCidr(list, match[2]!);
      } else {
        addCidr(this.hostsEverywhere, entry);
      }
    }
    for (const entry of config.endpoints) {
      const endpoint = parseEndpointText(entry);
      if (endpoint && parseIp(endpoint.ip)) this.endpoints.add(`${endpoint.ip}|${endpoint.port}`);
      else addCidr(this.addresses, entry);
    }
  }

  /** Problems of an allowlist configuration, each naming its entry. */
  static problems(config: AllowlistConfig): string[] {
    try {
      new Allowlist(config);
      return [];
    } catch (error) {
      if (error instanceof AllowlistError) return [`allowlist: ${error.message}`];
      throw error;
    }
  }

  allowsHost(site: string, ip: string): boolean {
    if (check(this.hostsEverywhere, ip)) return true;
    const list = this.hostsBySite.get(site);
    return list !== undefined && check(list, ip);
  }

  /** port 0: the whole address (allowed only when the address, or any of its ports, is allowlisted). */
  allowsEndpoint(ip: string, port: number): boolean {
    if (check(this.addresses, ip)) return true;
    if (port === 0) return [...this.endpoints].some((e) => e.startsWith(`${ip}|`));
    return this.endpoints.has(`${ip}|${port}`);
  }
}
