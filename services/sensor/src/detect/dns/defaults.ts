/**
 * The names the module ships with (`detectors.dns.defaults: false` drops them all,
 * `disableDefaults: [name, …]` some). Why each is identifying or supporting, and why some learn
 * nothing: README.md, "DNS-name rules". Learned endpoints must be on ports >= 1024: the engine
 * refuses named peers below (a tracker on 80, 443 or 451 teaches nothing; its name is still
 * counted).
 */
import { NameEvidence, type NameRule } from './names.js';

const { identifying, supporting } = NameEvidence;

const dhtRouter = (name: string, port: number): NameRule => ({ name, protocol: 'bittorrent', evidence: identifying, learn: [{ transport: 'udp', port }] });
const tracker = (name: string, learn: NameRule['learn']): NameRule => ({ name, protocol: 'bittorrent', evidence: supporting, learn });
const uhc = (name: string, port: number): NameRule => ({ name, protocol: 'gnutella', evidence: identifying, learn: [{ transport: 'udp', port }] });
const gwc = (name: string): NameRule => ({ name, protocol: 'gnutella', evidence: supporting, learn: [] });

export const DEFAULT_NAMES: readonly NameRule[] = [
  // DHT bootstrap routers (families.md §1.4; libtorrent settings_pack dht_bootstrap_nodes,
  // anacrolix/dht): only a DHT client asks for them, at start-up.
  dhtRouter('router.bittorrent.com', 6881),
  dhtRouter('router.utorrent.com', 6881),
  dhtRouter('dht.transmissionbt.com', 6881),
  dhtRouter('dht.libtorrent.org', 25401),
  dhtRouter('router.bitcomet.com', 6881),
  dhtRouter('dht.aelitis.com', 6881),
  // Public trackers: their names also serve web pages (statistics, listings), so a browser may
  // ask; supporting. Ports as the public tracker lists give them.
  tracker('tracker.opentrackr.org', [
    { transport: 'udp', port: 1337 },
    { transport: 'tcp', port: 1337 },
  ]),
  tracker('exodus.desync.com', [
    { transport: 'udp', port: 6969 },
    { transport: 'tcp', port: 6969 },
  ]),
  // udp://open.stealth.si:80 and udp://tracker.torrent.eu.org:451: ports below 1024, nothing to learn.
  tracker('open.stealth.si', []),
  tracker('tracker.torrent.eu.org', []),
  // Soulseek's central server: only Soulseek clients ask for it (the web site is www.slsknet.org).
  // 2242: Nicotine+'s default; 2271 and 2416: other clients' (SoulseekQt), not verified here.
  {
    name: 'server.slsknet.org',
    protocol: 'soulseek',
    evidence: identifying,
    learn: [
      { transport: 'tcp', port: 2242 },
      { transport: 'tcp', port: 2271 },
      { transport: 'tcp', port: 2416 },
    ],
  },
  // Gnutella UDP host caches (UHC), from gtk-gnutella's boot_hosts (src/core/uhc.c) and later
  // client catalogues: a servent pings them over UDP at start-up; only servents ask.
  uhc('useast.gnutella.dyslexicfish.net', 3558),
  uhc('uswest.gnutella.dyslexicfish.net', 3558),
  uhc('uk.gnutella.dyslexicfish.net', 3558),
  uhc('au.gnutella.dyslexicfish.net', 3558),
  uhc('1.uhc.gtk-gnutella.nl', 19104),
  uhc('2.uhc.gtk-gnutella.nl', 4876),
  uhc('uhc.gtk-gnutella.nl', 15749),
  // Gnutella and G2 web caches (GWebCache): scripts on ordinary web servers (port 80), which a
  // browser may visit too: supporting, nothing learned.
  gwc('midian.jayl.de'),
  gwc('bj.ddns.net'),
  gwc('gweb3.4octets.co.uk'),
  gwc('dkac.trillinux.org'),
  // eMule server lists (server.met) are fetched over HTTP from web sites: supporting, and the
  // web servers are not eDonkey servers, so nothing is learned.
  { name: 'emule-security.org', protocol: 'edonkey', evidence: supporting, learn: [] },
  { name: 'upd.emule-security.org', protocol: 'edonkey', evidence: supporting, learn: [] },
  { name: 'shortypower.org', protocol: 'edonkey', evidence: supporting, learn: [] },
  { name: 'www.shortypower.org', protocol: 'edonkey', evidence: supporting, learn: [] },
];
