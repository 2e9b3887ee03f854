import { describe, expect, it } from 'vitest';
import { BITTORRENT_MODES, BITTORRENT_TRACKER, fetchArguments, internetAddresses, MAX_LAB_PEERS, seederEndpoints, SWARM_ROUTES, type SwarmFacts } from '../src/index.js';

/** Is an IPv4 address inside a.b.c.d/len? */
function inside(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/') as [string, string];
  const number = (text: string) => text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(len));
  return Math.floor(number(ip) / size) === Math.floor(number(base) / size);
}

const swarm: SwarmFacts = { torrent: '/t/lab.torrent', magnet: 'magnet:?xt=urn:btih:00', seeders: seederEndpoints(4) };

describe('the real BitTorrent swarm plan', () => {
  it('puts the tracker and seeders in the swarm blocks, clear of every address the lab already gives out', () => {
    const swarmHosts = [BITTORRENT_TRACKER.ip, ...seederEndpoints(6).map((seeder) => seeder.ip)];
    for (const ip of swarmHosts) expect(SWARM_ROUTES.some((route) => inside(ip, route)), ip).toBe(true);
    for (const ip of internetAddresses(MAX_LAB_PEERS)) expect(SWARM_ROUTES.some((route) => inside(ip, route)), ip).toBe(false);
    expect(new Set(swarmHosts).size).toBe(swarmHosts.length);
    expect(seederEndpoints(6).every((seeder) => seeder.port >= 1024)).toBe(true);
    expect(() => seederEndpoints(7)).toThrow(RangeError);
  });

  it('gives each mode only the way of finding peers that the mode names', () => {
    const args = Object.fromEntries(BITTORRENT_MODES.map((mode) => [mode, fetchArguments(mode, swarm).join(' ')]));
    expect(args['http-tracker-dht']).toMatch(/--tracker http:\/\/203\.0\.113\.170:6969\/announce --dht-node 198\.51\.100\.161:6881$/);
    expect(args['udp-tracker-encrypted']).toMatch(/--tracker udp:\/\/.* --no-dht --forced-encryption$/);
    expect(args['magnet-dht']).toBe('--magnet magnet:?xt=urn:btih:00 --dht-node 198.51.100.161:6881');
    // A bootstrap by name, as the DNS-name rules' lab test gives it.
    expect(fetchArguments('magnet-dht', swarm, 'router.bittorrent.com:6881').join(' ')).toBe('--magnet magnet:?xt=urn:btih:00 --dht-node router.bittorrent.com:6881');
    expect(args['utp-only']).toMatch(/--tracker udp:\/\/.* --no-tcp$/);
    expect(args['known-peers-encrypted']).not.toMatch(/--tracker|--dht-node|--magnet/);
    expect(args['known-peers-encrypted']).toMatch(/--no-dht --forced-encryption --peer 198\.51\.100\.161:6881 --peer 203\.0\.113\.161:51413/);
  });
});
