/**
 * DNS-name rules end to end (issue 16, item 3), with real parts only: dnsmasq answering in the
 * lab's internet, the inside hosts' glibc resolver (`getent ahostsv4`) asking it through the
 * gateway, and the built `p2pwall-sensor run` on NFQUEUE in the gateway. An inside host that
 * resolves a BitTorrent DHT router is identified as a BitTorrent client from its query alone, the
 * router's address from the answer is learned on the router's port (6881/udp) and blocked in the
 * kernel, while DNS, the web and other hosts' traffic pass. Needs root and dnsmasq
 * (scripts/setup); skipped with the reason otherwise. Everything is torn down also when a test
 * fails.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BitTorrentSwarm,
  LAB_HOSTS,
  LAB_TORRENT,
  Lab,
  SYSTEM_PYTHON,
  SensorProcess,
  dnsServerUnavailableReason,
  ipsetMembers,
  labUnavailableReason,
  resolveIpv4,
  runBitTorrentClient,
  startDnsServer,
  swarmUnavailableReason,
  until,
  useResolver,
  type LabDnsServer,
  type LabProcess,
} from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason() || dnsServerUnavailableReason();
const NO_SWARM = UNAVAILABLE === '' ? swarmUnavailableReason() : '';

const prefix = `pwdn${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
/** The DNS server, in 198.51.100.0/24 but clear of the lab's peer cache (.1–.120) and services. */
const RESOLVER = '198.51.100.54';
/** A second server for the real client's test: its router.bittorrent.com is the swarm's first seeder (its DHT on 6881). */
const SWARM_RESOLVER = '198.51.100.55';
/** Where the lab's "router.bittorrent.com" answers (a UDP echo on 6881), and an ordinary UDP service. */
const ROUTER = '203.0.113.131';
const ROUTER_PORT = 6881;
const OTHER = '203.0.113.132';
const OTHER_PORT = 7000;
/** Neither a DHT message nor anything else a module reads: only the learned peer or the lock can drop it. */
const NEUTRAL_PAYLOAD = Buffer.from('hello from the lab').toString('hex');

/** Echoes every datagram on the router's and the other service's endpoint. */
const ECHO = `
import socket, selectors
sel = selectors.DefaultSelector()
for host, port in [('${ROUTER}', ${ROUTER_PORT}), ('${OTHER}', ${OTHER_PORT})]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    sel.register(s, selectors.EVENT_READ)
print('ready', flush=True)
while True:
    for key, _ in sel.select():
        data, peer = key.fileobj.recvfrom(2048)
        key.fileobj.sendto(data, peer)
`;

let lab: Lab;
let dns: LabDnsServer | undefined;
let echo: LabProcess | undefined;
let servers: LabProcess | undefined;
let swarm: BitTorrentSwarm | undefined;
let swarmDns: LabDnsServer | undefined;
const resolverCleanups: (() => void)[] = [];
const sensors: SensorProcess[] = [];

const client = (index: number) => lab.site('a').clients[index]!;

/** One UDP datagram from an inside host and its echo: true when the echo came back. */
async function udpEchoes(index: number, ip: string, port: number): Promise<boolean> {
  const run = lab.emulate(client(index).ns, 'probe', ['--udp', `${ip}:${port}`, '--payload', NEUTRAL_PAYLOAD, '--timeout', '1500']);
  const result = await run.wait(20_000);
  return (result.summary as { ok: boolean }).ok;
}

async function startSensor(): Promise<SensorProcess> {
  const gateway = lab.site('a').gateway;
  await lab.exec(gateway, 'conntrack', ['-F'], { check: false });
  const sensor = await SensorProcess.start({ namespace: gateway, config: { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'cp' } } });
  sensors.push(sensor);
  return sensor;
}

describe.skipIf(UNAVAILABLE !== '')(`DNS-name rules in the lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a'] });
    for (const ip of [ROUTER, OTHER]) await lab.exec(lab.inet, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    echo = lab.spawn(lab.inet, SYSTEM_PYTHON, ['-u', '-c', ECHO], { role: 'udp-echo' });
    servers = lab.emulate(lab.inet, 'benign-servers', ['--duration', '600']);
    dns = await startDnsServer(lab, lab.inet, { address: RESOLVER, records: { 'router.bittorrent.com': [ROUTER], 'www.example.com': [LAB_HOSTS.web] } });
    await servers.ready();
    for (const index of [0, 1]) resolverCleanups.push(useResolver(client(index).ns, RESOLVER));
  }, 60_000);

  afterEach(async () => {
    for (const sensor of sensors.splice(0)) {
      await sensor.stop();
      sensor.cleanup();
    }
  });

  afterAll(async () => {
    for (const cleanup of resolverCleanups.splice(0)) cleanup();
    await swarm?.stop().catch(() => undefined);
    await swarmDns?.stop().catch(() => undefined);
    await dns?.stop().catch(() => undefined);
    await echo?.stop().catch(() => undefined);
    await servers?.stop().catch(() => undefined);
    await lab?.down();
  }, 60_000);

  it('(a) without the sensor: both names resolve through the gateway, and both UDP services answer', async () => {
    expect(await resolveIpv4(lab, client(0).ns, 'www.example.com')).toEqual([LAB_HOSTS.web]);
    expect(await resolveIpv4(lab, client(0).ns, 'router.bittorrent.com')).toEqual([ROUTER]);
    // The echo may take a moment to bind: the first answer shows it does.
    await until('the UDP echo', 10_000, async () => ((await udpEchoes(0, ROUTER, ROUTER_PORT)) ? true : undefined), 200);
    expect(await udpEchoes(0, OTHER, OTHER_PORT)).toBe(true);
    expect(dns!.queries().some((line) => line.includes('query[A] router.bittorrent.com'))).toBe(true);
  }, 60_000);

  it('(b) resolving a DHT router identifies the host; the router is learned on 6881/udp and dropped, while DNS, the web and other hosts pass', async () => {
    const sensor = await startSensor();
    const host = client(0).ipv4;
    // An ordinary name is nothing, and the router's endpoint is not blocked before anyone asked.
    expect(await resolveIpv4(lab, client(0).ns, 'www.example.com')).toEqual([LAB_HOSTS.web]);
    expect(await udpEchoes(0, ROUTER, ROUTER_PORT)).toBe(true);
    expect(sensor.events('client')).toEqual([]);

    // The real resolver's query and the real server's answer cross the gateway; DNS keeps working.
    expect(await resolveIpv4(lab, client(0).ns, 'router.bittorrent.com')).toEqual([ROUTER]);
    const identified = await sensor.waitFor((line) => line.event === 'client');
    expect(identified).toMatchObject({ host, protocol: 'bittorrent', evidence: [{ rule: 'dns/name-query', detail: 'router.bittorrent.com' }] });
    const peer = await sensor.waitFor((line) => line.event === 'peer');
    expect(peer).toMatchObject({ ip: ROUTER, port: ROUTER_PORT, transport: 'udp', protocol: 'bittorrent', via: 'dns/name-answer', learnedFrom: host });
    // Learned on the router's port only, never the resolver.
    await until('the router in the kernel set', 5000, async () => ((await ipsetMembers(lab, lab.site('a').gateway, 'p2pwall-peer-ep4')).includes(`${ROUTER},udp:${ROUTER_PORT}`) ? true : undefined), 50);
    const members = await ipsetMembers(lab, lab.site('a').gateway, 'p2pwall-peer-ep4');
    expect(members).toEqual([`${ROUTER},udp:${ROUTER_PORT}`]);

    // The identified host's datagram to the router is dropped; so is another host's (a learned
    // peer is blocked for everyone), whose datagram to an ordinary service still passes.
    expect(await udpEchoes(0, ROUTER, ROUTER_PORT)).toBe(false);
    expect(await udpEchoes(1, ROUTER, ROUTER_PORT)).toBe(false);
    expect(await udpEchoes(1, OTHER, OTHER_PORT)).toBe(true);
    // The identified host is time-locked for new high-port connections, but DNS and the web pass.
    expect(await udpEchoes(0, OTHER, OTHER_PORT)).toBe(false);
    expect(await resolveIpv4(lab, client(0).ns, 'www.example.com')).toEqual([LAB_HOSTS.web]);
    const web = await lab.emulate(client(0).ns, 'probe', ['--http', `http://${LAB_HOSTS.web}/`]).wait(20_000);
    expect(JSON.stringify(web.summary)).toMatch(/"ok":true/);
    // The other host resolved nothing watched and stays unidentified.
    expect(await resolveIpv4(lab, client(1).ns, 'www.example.com')).toEqual([LAB_HOSTS.web]);
    expect(sensor.events('client').map((line) => line['host'])).toEqual([host]);
  }, 90_000);

  describe.skipIf(NO_SWARM !== '')(`a real libtorrent client bootstrapping its DHT from router.bittorrent.com${NO_SWARM ? ` (skipped: ${NO_SWARM})` : ''}`, () => {
    beforeAll(async () => {
      swarm = await BitTorrentSwarm.start(lab);
      const router = swarm.seeders[0]!;
      expect(router.port).toBe(6881);
      swarmDns = await startDnsServer(lab, lab.inet, { address: SWARM_RESOLVER, records: { 'router.bittorrent.com': [router.ip] } });
      resolverCleanups.push(useResolver(client(2).ns, SWARM_RESOLVER));
    }, 90_000);

    const fetchByName = (timeoutMs: number) => runBitTorrentClient(lab, client(2).ns, swarm!, 'magnet-dht', { timeoutMs, dhtBootstrap: 'router.bittorrent.com:6881' });

    it('(c) without the sensor, the magnet link completes through the DHT found by name', async () => {
      const result = await fetchByName(30_000);
      expect(result, JSON.stringify(result)).toMatchObject({ complete: true, piecesHave: LAB_TORRENT.size / LAB_TORRENT.pieceLength });
      expect(result.dhtReplies).toBeGreaterThan(0);
      expect(swarmDns!.queries().some((line) => line.includes('router.bittorrent.com'))).toBe(true);
    }, 60_000);

    it('(d) with the sensor, the client is identified by its lookup of the router, which is learned, and it gets less than one piece', async () => {
      const sensor = await startSensor();
      const result = await fetchByName(10_000);
      const first = sensor.events('client').find((line) => line['host'] === client(2).ipv4);
      expect(first, JSON.stringify(sensor.events('client'))).toMatchObject({ protocol: 'bittorrent', evidence: [{ rule: 'dns/name-query', detail: 'router.bittorrent.com' }] });
      expect(sensor.events('peer').find((line) => line['via'] === 'dns/name-answer')).toMatchObject({ ip: swarm!.seeders[0]!.ip, port: 6881, transport: 'udp', protocol: 'bittorrent' });
      expect(result.payloadDownloaded, JSON.stringify(result)).toBeLessThan(LAB_TORRENT.pieceLength);
      expect(result.complete).toBe(false);
      console.log('real client, DHT router by name, with the sensor', JSON.stringify({ payloadDownloaded: result.payloadDownloaded, dhtReplies: result.dhtReplies, hasMetadata: result.hasMetadata, timeline: result.timeline }));
    }, 60_000);
  });
});
