import { describe, expect, it } from 'vitest';
import {
  belongsToLab,
  clientScript,
  EXTRA_PEERS,
  gatewayScript,
  inetRoutesScript,
  inetScript,
  internetAddresses,
  labNamespaces,
  ipv6Twin,
  LAB_HOSTS,
  parseEndpoint,
  formatEndpoint,
  peerCache,
  planLab,
  sysctlsFor,
} from '../src/index.js';

describe('lab topology plan', () => {
  it('names namespaces by prefix, site and client, and addresses them as documented', () => {
    const plan = planLab({ prefix: 'p2pwt3f2', sites: ['a', 'b'] });
    expect(plan.namespaces).toEqual(['p2pwt3f2-inet', 'p2pwt3f2-a-gw', 'p2pwt3f2-a-c1', 'p2pwt3f2-a-c2', 'p2pwt3f2-a-c3', 'p2pwt3f2-b-gw', 'p2pwt3f2-b-c1', 'p2pwt3f2-b-c2', 'p2pwt3f2-b-c3']);
    const [a, b] = plan.sites;
    expect(a).toMatchObject({ gateway: 'p2pwt3f2-a-gw', wan: { ipv4: '198.18.0.1', ipv6: '2001:db8:ffff::1' }, lan: { ipv4Cidr: '192.168.1.0/24', ipv6Cidr: 'fd00:1::/64', gatewayIpv4: '192.168.1.1' } });
    expect(a!.clients.map((c) => [c.ns, c.role, c.ipv4, c.ipv6])).toEqual([
      ['p2pwt3f2-a-c1', 'kazaa', '192.168.1.5', 'fd00:1::5'],
      ['p2pwt3f2-a-c2', 'p2p', '192.168.1.6', 'fd00:1::6'],
      ['p2pwt3f2-a-c3', 'benign', '192.168.1.20', 'fd00:1::20'],
    ]);
    expect(b).toMatchObject({ wan: { ipv4: '198.18.0.2' }, lan: { ipv4Cidr: '192.168.2.0/24', ipv6Cidr: 'fd00:2::/64' } });
    expect(plan.inet).toMatchObject({ ns: 'p2pwt3f2-inet', routerIpv4: '198.18.0.254', routerIpv6: '2001:db8:ffff::254' });
    expect(planLab({ sites: 3 }).sites.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect(planLab().namespaces[0]).toBe('p2pw-inet');
  });

  it('rejects prefixes and names that would not fit or could collide', () => {
    expect(() => planLab({ prefix: 'toolongpfx' })).toThrow(/1–8/);
    expect(() => planLab({ prefix: 'P2PW' })).toThrow(/prefix/);
    expect(() => planLab({ sites: ['a', 'a'] })).toThrow(/differ/);
    expect(() => planLab({ sites: ['a-b'] })).toThrow(/site name/);
    expect(() => planLab({ peers: 300 })).toThrow(/peers/);
  });

  it('keeps every interface name within 15 characters, and no lab interface in the root namespace', () => {
    const plan = planLab({ prefix: 'abcdefgh', sites: ['abcd'], clientsPerSite: 50 });
    const scripts = [...inetScript(plan), ...inetRoutesScript(plan), ...plan.sites.flatMap((s) => [...gatewayScript(plan, s), ...s.clients.flatMap((c) => clientScript(s, c))])];
    const names = scripts.flatMap((line) => [...line.matchAll(/(?:link add|peer name|dev|master) (\S+)/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThan(100);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(15);
    // Every veth is made inside a lab namespace with its peer end put into another one.
    for (const line of scripts.filter((l) => l.includes('type veth'))) expect(line).toMatch(/peer name \S+ netns abcdefgh-/);
  });

  it('builds the links and routes: gateways default to the internet router, the internet routes each LAN to its gateway', () => {
    const plan = planLab({ prefix: 'x', sites: ['a', 'b'] });
    const gw = gatewayScript(plan, plan.sites[0]!);
    expect(gw).toContain('link add wan0 type veth peer name wan-a netns x-inet');
    expect(gw).toContain('link add lan-c1 type veth peer name eth0 netns x-a-c1');
    expect(gw).toContain('route add default via 198.18.0.254');
    expect(gw).toContain('route add ::/0 via 2001:db8:ffff::254');
    expect(inetRoutesScript(plan)).toEqual(expect.arrayContaining(['route add 192.168.2.0/24 via 198.18.0.2', 'route add fd00:2::/64 via 2001:db8:ffff::2', 'link set wan-b master br0']));
    expect(clientScript(plan.sites[1]!, plan.sites[1]!.clients[2]!)).toEqual(expect.arrayContaining(['addr add 192.168.2.20/24 dev eth0', 'route add default via 192.168.2.1', 'route add ::/0 via fd00:2::1']));
    expect(inetScript(plan)).toEqual(expect.arrayContaining(['addr add 203.0.113.250/32 dev lo', 'addr add 2001:db8:0:113::250/128 dev lo nodad']));
  });

  it('forwards only in gateways, and never sets anything for the root namespace', () => {
    expect(sysctlsFor('gateway')).toEqual(expect.arrayContaining(['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0']));
    expect(sysctlsFor('inet')).toContain('net.ipv4.ip_forward=0');
    expect(sysctlsFor('client')).toContain('net.ipv4.ip_forward=0');
  });

  it('uses the synthetic peer cache, with service addresses clear of it', () => {
    const addresses = internetAddresses(200);
    for (const peer of peerCache(200, 7)) expect(addresses).toContain(peer.ip);
    for (const peer of EXTRA_PEERS) expect(addresses).toContain(peer.ip);
    const cacheIps = new Set(peerCache(240).map((p) => p.ip));
    for (const host of [...Object.values(LAB_HOSTS), ...EXTRA_PEERS.map((p) => p.ip)]) expect(cacheIps.has(host)).toBe(false);
    for (const ip of addresses) expect(ip).toMatch(/^(203\.0\.113|198\.51\.100)\./);
  });

  it('maps outside addresses to IPv6 twins in 2001:db8::/48 and parses endpoints', () => {
    expect(ipv6Twin('203.0.113.250')).toBe('2001:db8:0:113::250');
    expect(ipv6Twin('198.51.100.7')).toBe('2001:db8:0:100::7');
    expect(() => ipv6Twin('192.168.1.5')).toThrow();
    expect(parseEndpoint('203.0.113.200:2121')).toEqual({ ip: '203.0.113.200', port: 2121 });
    expect(parseEndpoint('[2001:db8:0:113::200]:2121')).toEqual({ ip: '2001:db8:0:113::200', port: 2121 });
    expect(formatEndpoint({ ip: '2001:db8::1', port: 80 })).toBe('[2001:db8::1]:80');
    expect(() => parseEndpoint('203.0.113.1')).toThrow();
  });

  it('recognises the namespaces of a lab and nothing else', () => {
    expect(belongsToLab('p2pw-inet', 'p2pw')).toBe(true);
    expect(belongsToLab('p2pw-a-gw', 'p2pw')).toBe(true);
    expect(belongsToLab('p2pw-b-c12', 'p2pw')).toBe(true);
    expect(belongsToLab('p2pw2-inet', 'p2pw')).toBe(false);
    expect(belongsToLab('p2pw-x-srv', 'p2pw')).toBe(false);
    expect(belongsToLab('other', 'p2pw')).toBe(false);
    // With its plan, a lab claims only its own sites; without (state lost), every look-alike.
    const all = ['p2pw-inet', 'p2pw-a-gw', 'p2pw-a-c1', 'p2pw-x-gw', 'p2pw-t-1234abcd', 'p2pw2-inet'];
    expect(labNamespaces(all, 'p2pw', planLab({ sites: ['a'] }))).toEqual(['p2pw-inet', 'p2pw-a-gw', 'p2pw-a-c1']);
    expect(labNamespaces(all, 'p2pw')).toEqual(['p2pw-inet', 'p2pw-a-gw', 'p2pw-a-c1', 'p2pw-x-gw']);
  });
});
