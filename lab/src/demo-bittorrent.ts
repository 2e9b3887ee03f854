import { runBitTorrentClient, type BitTorrentDownload } from './bittorrent/client.js';
import { BitTorrentSwarm } from './bittorrent/swarm.js';
import { LAB_TORRENT, MODE_DESCRIPTIONS, type BitTorrentMode } from './bittorrent/swarm-plan.js';
import type { ClientPlan } from './netns/topology.js';
import type { Lab } from './netns/lab.js';
import type { SensorProcess } from './sensor-process.js';

/**
 * The demo's BitTorrent chapter: a real libtorrent client behind the gateway, fetching the lab
 * torrent from a real swarm (opentracker and libtorrent seeders in the internet), once before
 * the sensor starts and once with it.
 */

const MODE: BitTorrentMode = 'http-tracker-dht';
/** With the sensor, the client gets this long (without it the whole torrent takes about half a second). */
const BLOCKED_TIMEOUT_MS = 4000;
const MIB = 1024 * 1024;

export interface BitTorrentChapter {
  swarm: BitTorrentSwarm;
  client: ClientPlan;
  /** The download before the sensor started. */
  unblocked: BitTorrentDownload;
}

/** Starts the swarm and lets the client download once with nothing in its way. */
export async function beginBitTorrentChapter(lab: Lab, client: ClientPlan): Promise<BitTorrentChapter> {
  const swarm = await BitTorrentSwarm.start(lab);
  try {
    const unblocked = await runBitTorrentClient(lab, client.ns, swarm, MODE, { timeoutMs: 20_000 });
    return { swarm, client, unblocked };
  } catch (error) {
    await swarm.stop();
    throw error;
  }
}

/** The same client again, now behind the sensor; tells what happened and whether it was stopped. */
export async function tellBitTorrentChapter(lab: Lab, sensor: SensorProcess, chapter: BitTorrentChapter, say: (text?: string) => void): Promise<boolean> {
  const { client, swarm, unblocked } = chapter;
  const started = Date.now();
  const blocked = await runBitTorrentClient(lab, client.ns, swarm, MODE, { timeoutMs: BLOCKED_TIMEOUT_MS });
  const pieces = LAB_TORRENT.size / LAB_TORRENT.pieceLength;
  say(`BitTorrent client ${client.ipv4}: libtorrent fetching a ${LAB_TORRENT.size / MIB} MiB torrent (${pieces} pieces) from ${swarm.seeders.length} seeders, ${MODE_DESCRIPTIONS[MODE]}`);
  say(`  before the sensor started: ${unblocked.complete ? `all ${LAB_TORRENT.size / MIB} MiB in ${unblocked.seconds.toFixed(1)} s` : `only ${unblocked.payloadDownloaded} bytes (unexpected)`}`);
  const identified = sensor.events('client').find((line) => line['host'] === client.ipv4 && line.time >= started);
  if (identified) {
    const rule = (identified['evidence'] as { rule: string }[])[0]!.rule;
    // No packet count here: the sensor counts every packet of the host, and the ICMP "port
    // unreachable" answers to the seeders' DHT messages for the first run's port come first.
    say(`  with the sensor: identified by rule ${rule}, ${identified.time - started} ms after it started`);
  } else {
    say('  with the sensor: NOT identified (unexpected)');
  }
  const learned = sensor.events('peer').filter((line) => line['learnedFrom'] === client.ipv4 && line.time >= started);
  if (learned.length > 0) say(`  learned from it: ${learned.map((line) => `${String(line['ip'])}:${String(line['port'])} (${String(line['via'])})`).join(', ')}`);
  say(`  what it got in ${BLOCKED_TIMEOUT_MS / 1000} s: ${blocked.payloadDownloaded.toLocaleString('en-US')} bytes of payload, ${blocked.piecesHave} of ${pieces} pieces`);
  return unblocked.complete && identified !== undefined && blocked.payloadDownloaded < LAB_TORRENT.pieceLength;
}
