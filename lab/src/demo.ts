import { swarmUnavailableReason } from './bittorrent/swarm.js';
import { beginBitTorrentChapter, tellBitTorrentChapter, type BitTorrentChapter } from './demo-bittorrent.js';
import { KAZAA_SUPERNODE, KAZAA_UPLOADER, LAB_HOSTS } from './netns/addresses.js';
import { Lab, LabExistsError } from './netns/lab.js';
import { labUnavailableReason, hasCommand } from './netns/run.js';
import { SensorProcess, type SensorLogLine } from './sensor-process.js';

/** `npm run demo`: the live sensor on a gateway in the namespace lab, told for a person. */

/** The demo's lab, unless --prefix names another. */
export const DEMO_PREFIX = 'p2pwdemo';
const FAST_CLIENT = ['--pong-wait', '300', '--connect-timeout', '700', '--hello-timeout', '700', '--serial', '5', '--serial-timeout', '400', '--download-timeout', '1500'];

type Summary = Record<string, Record<string, unknown>>;

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function n(value: unknown): string {
  return typeof value === 'number' ? value.toLocaleString('en-US') : String(value);
}

/** What keeps the demo from running here, in words that say what to do; '' when nothing. */
export function demoUnavailableReason(): string {
  const lab = labUnavailableReason();
  if (lab) return `${lab}. Run the demo as root on Linux after scripts/setup.`;
  const missing = ['iptables', 'ip6tables', 'ipset', 'iptables-restore'].filter((tool) => !hasCommand(tool));
  if (missing.length > 0) return `missing ${missing.join(', ')}: run scripts/setup (it installs iptables and ipset)`;
  const swarm = swarmUnavailableReason();
  if (swarm) return `the BitTorrent chapter needs a real swarm, but ${swarm}`;
  return '';
}

interface KernelDrops {
  learnedPeers: number;
  timeLock: number;
  queued: number;
}

/**
 * Packet counters of the p2pwall chains' rules in the gateway (IPv4). Packets to or from learned
 * peers go to P2PWALL-PEER: their opening packets are queued (the sensor drops them), the rest is
 * dropped there by the kernel.
 */
async function kernelCounters(lab: Lab, gateway: string): Promise<KernelDrops> {
  const drops: KernelDrops = { learnedPeers: 0, timeLock: 0, queued: 0 };
  for (const chain of ['P2PWALL', 'P2PWALL-PEER']) {
    const listing = await lab.exec(gateway, 'iptables', ['-t', 'security', '-L', chain, '-v', '-x', '-n']);
    for (const line of listing.stdout.split('\n')) {
      const packets = Number(line.trim().split(/\s+/)[0]);
      if (!Number.isFinite(packets)) continue;
      if (/DROP/.test(line) && chain === 'P2PWALL-PEER') drops.learnedPeers += packets;
      else if (/DROP/.test(line) && /-lock/.test(line)) drops.timeLock += packets;
      else if (/NFQUEUE/.test(line)) drops.queued += packets;
    }
  }
  return drops;
}

async function queueCounters(lab: Lab, gateway: string): Promise<string> {
  const text = (await lab.exec(gateway, 'cat', ['/proc/net/netfilter/nfnetlink_queue'], { check: false })).stdout.trim();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const f = line.trim().split(/\s+/).map(Number);
      return `queue ${f[0]}: ${n(f[7])} packets queued in all, ${n(f[2])} waiting, queue_dropped ${n(f[5])}, user_dropped ${n(f[6])}`;
    })
    .join('; ');
}

export async function runDemo(prefix = DEMO_PREFIX): Promise<number> {
  const unavailable = demoUnavailableReason();
  if (unavailable) {
    process.stderr.write(`demo: ${unavailable}\n`);
    return 1;
  }
  // Never someone else's lab: Lab.up refuses a prefix in use, and the demo says what to do.
  // c4 (192.168.1.21) is the BitTorrent client.
  let lab: Lab;
  try {
    lab = await Lab.up({ prefix, sites: ['a'], clientsPerSite: 4 });
  } catch (error) {
    if (!(error instanceof LabExistsError)) throw error;
    process.stderr.write(`demo: ${error.message}, or give the demo another --prefix\n`);
    return 1;
  }
  let sensor: SensorProcess | undefined;
  let bittorrent: BitTorrentChapter | undefined;
  const interrupted = () => {
    void (async () => {
      await sensor?.stop();
      await bittorrent?.swarm.stop();
      await lab.down();
      process.exit(130);
    })();
  };
  process.once('SIGINT', interrupted);
  try {
    const site = lab.site('a');
    const [kazaaHost, tcpOnlyHost, benignHost, bittorrentHost] = site.clients;
    say('p2pwall demo: the live sensor on a Linux gateway, in a network-namespace lab');
    say(`  site a: clients ${site.clients.map((c) => c.ipv4).join(', ')} behind gateway ${site.gateway} (LAN ${site.lan.ipv4Cidr}, WAN ${site.wan.ipv4})`);
    say(`  internet: ${n(lab.plan.peers)} FastTrack peers from 203.0.113.0/24 and 198.51.100.0/24, a web server ${LAB_HOSTS.web}, DNS ${LAB_HOSTS.dns}, NTP ${LAB_HOSTS.ntp}`);
    say('           and a real BitTorrent swarm: opentracker and 4 libtorrent seeders with DHT among them');
    const peers = lab.emulate(lab.inet, 'fasttrack-peers', ['--duration', '120']);
    const servers = lab.emulate(lab.inet, 'benign-servers', ['--duration', '120']);
    [bittorrent] = await Promise.all([beginBitTorrentChapter(lab, bittorrentHost!), peers.ready(), servers.ready()]);
    sensor = await SensorProcess.start({ namespace: site.gateway, config: { site: 'a', gateway: 'gw1', onExit: 'remove', log: { events: 'cp' } } });
    say(`  sensor: p2pwall-sensor run in ${site.gateway} (NFQUEUE 0, rules in the security table, ipset sets), enforce mode, time-lock 120 s`);
    say();

    const started = Date.now();
    const kazaaRun = lab.emulate(kazaaHost!.ns, 'kazaa-client', FAST_CLIENT);
    const benignRun = lab.emulate(benignHost!.ns, 'benign-client', ['--bulk-bytes', '20000000']);
    const [kazaa, benign] = await Promise.all([kazaaRun.wait(60_000), benignRun.wait(60_000)]);
    const k = kazaa.summary as Summary;
    const b = benign.summary as Summary;
    const benignOk = (benign.summary as { allOk?: unknown } | undefined)?.allOk === true;
    const client = sensor.events('client').find((line) => line['host'] === kazaaHost!.ipv4);
    const learned = sensor.events('peer');

    say(`Kazaa client ${kazaaHost!.ipv4}: a start-up flood of ${n(k['udp']?.['pingsSent'])} node pings to its peer cache, then parallel and serial TCP connects, then an HTTP download`);
    if (client) {
      const evidence = (client['evidence'] as { rule: string; detail?: string }[])[0]!;
      say(`  identified by rule ${evidence.rule}${evidence.detail ? ` (network ${evidence.detail})` : ''} after ${n(client['hostPackets'])} of its packets, ${Number(client['msSinceFirstPacket']).toFixed(1)} ms after its first, ${client.time - started} ms into the run`);
    } else {
      say('  NOT identified (unexpected)');
    }
    say(`  peers learned: ${n(learned.length)}; the client is time-locked for 120 s`);
    const accepted = peers.readLog().filter((e) => e.event === 'tcp-accept').length;
    const pingsThrough = peers.readLog().filter((e) => e.event === 'udp-ping').length;
    const tcpAttempts = Number(k['parallel']?.['attempts'] ?? 0) + Number(k['serial']?.['attempts'] ?? 0);
    say(`  what reached the peers: ${n(pingsThrough)} of ${n(k['udp']?.['pingsSent'])} pings, ${n(accepted)} of ${n(tcpAttempts)} TCP connections; the download: ${String(k['download']?.['outcome'])}`);
    say();

    const tcpOnly = await lab.emulate(tcpOnlyHost!.ns, 'kazaa-client', [...FAST_CLIENT, '--no-udp', '--parallel', '5', '--serial', '0']).wait(60_000);
    const second = sensor.events('client').find((line) => line['host'] === tcpOnlyHost!.ipv4);
    const parallel = (tcpOnly.summary as Summary)['parallel'];
    say(`Kazaa client ${tcpOnlyHost!.ipv4} with UDP disabled: starts with TCP, then a clear-text download`);
    say(`  its encrypted handshakes to cached peers: ${n(parallel?.['connected'])} of ${n(parallel?.['attempts'])} got through (the kernel already blocks the peers learned from the first client)`);
    if (second) {
      const rule = (second['evidence'] as { rule: string }[])[0]!.rule;
      const fromHeaders = sensor.events('peer').filter((line) => line['learnedFrom'] === tcpOnlyHost!.ipv4).map((line) => `${String(line['ip'])}:${String(line['port'])} (${String(line['via'])})`);
      say(`  identified by rule ${rule}; peers learned from its request: ${fromHeaders.join(', ')}`);
      say(`  (the uploader ${KAZAA_UPLOADER.ip}:${KAZAA_UPLOADER.port} and the supernode ${KAZAA_SUPERNODE.ip}:${KAZAA_SUPERNODE.port} named in X-Kazaa-SupernodeIP)`);
    } else {
      say('  NOT identified (unexpected)');
    }
    say();

    say(`Benign host ${benignHost!.ipv4}: ${benignOk ? 'everything passed untouched' : 'SOMETHING FAILED'}`);
    say(`  HTTP ${b['http']?.['ok'] ? 'ok' : 'failed'}, DNS ${b['dns']?.['ok'] ? 'ok' : 'failed'}, NTP ${b['ntp']?.['ok'] ? 'ok' : 'failed'}, bulk ${n(b['bulk']?.['bytes'])} bytes at ${n(Math.round(Number(b['bulk']?.['bytesPerSecond'] ?? 0) / 1e6))} MB/s`);
    say();

    const bittorrentStopped = await tellBitTorrentChapter(lab, sensor, bittorrent, say);
    say();

    const kernel = await kernelCounters(lab, site.gateway);
    const queue = await queueCounters(lab, site.gateway);
    await sensor.stop();
    const stopped = sensor.lines.find((line: SensorLogLine) => line.msg === 'sensor stopped');
    const counters = (stopped?.['counters'] ?? {}) as Record<string, number>;
    say('Where packets were dropped:');
    say(`  in the kernel, by the ipset rules: ${n(kernel.learnedPeers)} to/from learned peers, ${n(kernel.timeLock)} new TCP connections of locked clients`);
    say(`  in userspace, by the sensor: ${n(counters['dropped'])} of ${n(counters['packets'])} queued packets (signature ${n(counters['droppedSignature'])}, learned peer ${n(counters['droppedLearnedPeer'])}, time-lock ${n(counters['droppedTimeLock'])})`);
    say(`  kernel queue: ${queue || 'no counters'}`);
    say();
    say(`Teardown: the sensor removed its rules and sets (onExit: remove); the lab removes its namespaces and processes.`);
    const ok = client !== undefined && second !== undefined && accepted === 0 && benignOk && bittorrentStopped;
    say(ok ? 'Demo result: the clients were identified and blocked, benign traffic passed.' : 'Demo result: UNEXPECTED, see above.');
    return ok ? 0 : 1;
  } finally {
    await sensor?.stop();
    sensor?.cleanup();
    await bittorrent?.swarm.stop();
    await lab.down();
    process.removeListener('SIGINT', interrupted);
  }
}
