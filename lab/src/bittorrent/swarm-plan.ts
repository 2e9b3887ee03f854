/**
 * The lab's real BitTorrent swarm as data: where its tracker and seeders live, and which
 * arguments make the real client (`lab/python/bt_peer.py fetch`) find and fetch the lab torrent
 * in each mode. Pure: nothing runs here.
 *
 * The swarm's addresses are 203.0.113.160/28 and 198.51.100.160/28, clear of the FastTrack peer
 * cache (.1–.120 at most) and the lab's services. They are routed as local in the internet
 * namespace (`ip route add local … dev lo`, "AnyIP") instead of being added to lo like the other
 * outside addresses: libtorrent binds a listening socket to the device that holds its address
 * (SO_BINDTODEVICE), and a socket bound to lo never sees the packets that arrive over br0 from
 * the gateways.
 */
import { formatEndpoint, type Endpoint } from '../netns/addresses.js';

export const SWARM_ROUTES = ['203.0.113.160/28', '198.51.100.160/28'] as const;

/** opentracker: HTTP (TCP) and UDP announces on the same port. */
export const TRACKER: Endpoint = { ip: '203.0.113.170', port: 6969 };

/** Where the swarm's readiness check asks the DHT from (an address of its own: a DHT node may ignore queries from its own address). */
export const DHT_PROBE: Endpoint = { ip: '203.0.113.171', port: 6970 };

/** Seeders alternate between the two documentation ranges, each on a port of its own, as real peers would. */
const SEEDER_HOSTS = ['198.51.100.161', '203.0.113.161', '198.51.100.162', '203.0.113.162', '198.51.100.163', '203.0.113.163'] as const;
const SEEDER_PORTS = [6881, 51413, 6889, 42424, 6999, 50500] as const;
export const MAX_SEEDERS = SEEDER_HOSTS.length;
export const DEFAULT_SEEDERS = 4;

/** The lab torrent: 16 MiB in 256 KiB pieces (64 pieces). */
export const LAB_TORRENT = { size: 16 * 1024 * 1024, pieceLength: 256 * 1024 } as const;

export function seederEndpoints(count = DEFAULT_SEEDERS): Endpoint[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SEEDERS) throw new RangeError(`seeders: 1 to ${MAX_SEEDERS}`);
  return SEEDER_HOSTS.slice(0, count).map((ip, i) => ({ ip, port: SEEDER_PORTS[i]! }));
}

export function trackerUrl(kind: 'http' | 'udp'): string {
  return `${kind}://${formatEndpoint(TRACKER)}/announce`;
}

/** How the inside client finds its peers and talks to them. */
export const BITTORRENT_MODES = ['http-tracker-dht', 'udp-tracker-encrypted', 'magnet-dht', 'utp-only', 'known-peers-encrypted', 'known-peers-encrypted-tcp'] as const;
export type BitTorrentMode = (typeof BITTORRENT_MODES)[number];

export const MODE_DESCRIPTIONS: Record<BitTorrentMode, string> = {
  'http-tracker-dht': 'HTTP tracker with DHT',
  'udp-tracker-encrypted': 'UDP tracker, encryption forced (RC4), no DHT',
  'magnet-dht': 'magnet link over DHT only (no tracker)',
  'utp-only': 'uTP only (TCP off), UDP tracker and DHT: a client that never speaks TCP',
  'known-peers-encrypted': 'peers already known, encryption forced, no tracker and no DHT',
  'known-peers-encrypted-tcp': 'peers already known, encryption forced, TCP only (uTP off), no tracker and no DHT',
};

/** What the client needs to know of the swarm. */
export interface SwarmFacts {
  torrent: string;
  magnet: string;
  seeders: readonly Endpoint[];
}

/**
 * `bt_peer.py fetch` arguments for a mode (without --save, --listen and --timeout). A client's
 * DHT is bootstrapped from one seeder, as a real one is from a well-known router node, or from
 * `dhtBootstrap` (`host:port`; a name libtorrent resolves through the namespace's resolver).
 */
export function fetchArguments(mode: BitTorrentMode, swarm: SwarmFacts, dhtBootstrap?: string): string[] {
  const bootstrap = ['--dht-node', dhtBootstrap ?? formatEndpoint(swarm.seeders[0]!)];
  const knownPeers = swarm.seeders.flatMap((seeder) => ['--peer', formatEndpoint(seeder)]);
  switch (mode) {
    case 'http-tracker-dht':
      return ['--torrent', swarm.torrent, '--tracker', trackerUrl('http'), ...bootstrap];
    case 'udp-tracker-encrypted':
      return ['--torrent', swarm.torrent, '--tracker', trackerUrl('udp'), '--no-dht', '--forced-encryption'];
    case 'magnet-dht':
      return ['--magnet', swarm.magnet, ...bootstrap];
    case 'utp-only':
      return ['--torrent', swarm.torrent, '--tracker', trackerUrl('udp'), ...bootstrap, '--no-tcp'];
    case 'known-peers-encrypted':
      return ['--torrent', swarm.torrent, '--no-dht', '--forced-encryption', ...knownPeers];
    case 'known-peers-encrypted-tcp':
      return ['--torrent', swarm.torrent, '--no-dht', '--forced-encryption', '--no-utp', ...knownPeers];
  }
}

/** `bt_peer.py seed` arguments for seeder i: its address, the tracker, and every other seeder as a DHT contact. */
export function seedArguments(index: number, seeders: readonly Endpoint[], torrent: string, data: string, log: string): string[] {
  const self = seeders[index]!;
  return [
    'seed',
    '--torrent', torrent,
    '--data', data,
    '--listen', formatEndpoint(self),
    '--tracker', trackerUrl('http'),
    ...seeders.filter((_, i) => i !== index).flatMap((other) => ['--dht-node', formatEndpoint(other)]),
    '--log', log,
  ];
}
