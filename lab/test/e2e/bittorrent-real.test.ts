/**
 * Real BitTorrent clients in the lab (issue 13): opentracker and libtorrent seeders in the
 * internet, a libtorrent client inside a site, no emulated peer anywhere. Without the sensor
 * every mode downloads the whole 16 MiB lab torrent; with the sensor in the gateway each gets
 * less than one piece. Needs root, opentracker and python3-libtorrent (scripts/setup); skipped
 * with the reason otherwise. The lab, the swarm and every sensor are torn down also when a test
 * fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BITTORRENT_MODES, BitTorrentSwarm, LAB_TORRENT, Lab, labUnavailableReason, runBitTorrentClient, swarmUnavailableReason, type BitTorrentDownload, type BitTorrentMode } from '../../src/index.js';

const UNAVAILABLE = labUnavailableReason() || swarmUnavailableReason();

/** Without the sensor every mode completes within a few seconds in the lab. */
const UNBLOCKED_TIMEOUT_MS = 30_000;

const prefix = `p2pwb${Math.floor(Math.random() * 0xfff).toString(16).padStart(3, '0')}`;
let lab: Lab;
let swarm: BitTorrentSwarm | undefined;
const measured: Record<string, Partial<Record<'withoutSensor' | 'withSensor', Pick<BitTorrentDownload, 'complete' | 'seconds' | 'payloadDownloaded' | 'piecesHave'>>>> = {};

function record(download: BitTorrentDownload, key: 'withoutSensor' | 'withSensor'): void {
  const { complete, seconds, payloadDownloaded, piecesHave } = download;
  (measured[download.mode] ??= {})[key] = { complete, seconds, payloadDownloaded, piecesHave };
}

/** The site-a client that runs a mode: c1 (the lab's first P2P slot) for every mode. */
const clientNs = (): string => lab.site('a').clients[0]!.ns;

async function download(mode: BitTorrentMode, timeoutMs: number): Promise<BitTorrentDownload> {
  return runBitTorrentClient(lab, clientNs(), swarm!, mode, { timeoutMs });
}

/** The client did what its mode says: found peers only that way, and spoke only that transport and encryption. */
function expectModeHonoured(result: BitTorrentDownload): void {
  const connections = result.connections.filter((line) => !line.startsWith('192.168.'));
  expect(connections.length, `${result.mode}: no connection to a seeder`).toBeGreaterThan(0);
  const usesTracker = result.mode === 'http-tracker-dht' || result.mode === 'udp-tracker-encrypted' || result.mode === 'utp-only';
  expect(result.trackerReplies > 0, `${result.mode}: tracker replies`).toBe(usesTracker);
  if (result.mode === 'udp-tracker-encrypted' || result.mode === 'known-peers-encrypted') expect(connections.every((line) => line.endsWith(' rc4')), connections.join(', ')).toBe(true);
  if (result.mode === 'utp-only') expect(connections.every((line) => line.includes(' utp ')), connections.join(', ')).toBe(true);
  if (result.mode === 'known-peers-encrypted' || result.mode === 'udp-tracker-encrypted') expect(result.dhtReplies).toBe(0);
}

describe.skipIf(UNAVAILABLE !== '')(`real BitTorrent clients in the lab${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  beforeAll(async () => {
    lab = await Lab.up({ prefix, sites: ['a', 'b'] });
    swarm = await BitTorrentSwarm.start(lab);
  }, 60_000);

  afterAll(async () => {
    console.log('bytes of payload per mode', JSON.stringify(measured, null, 1));
    await swarm?.stop().catch(() => undefined);
    await lab?.down();
  }, 60_000);

  it.each(BITTORRENT_MODES)('(i) without the sensor, the %s download completes: all 16 MiB', async (mode) => {
    const result = await download(mode, UNBLOCKED_TIMEOUT_MS);
    record(result, 'withoutSensor');
    expect(result, JSON.stringify(result)).toMatchObject({ complete: true, piecesHave: LAB_TORRENT.size / LAB_TORRENT.pieceLength });
    expect(result.payloadDownloaded).toBeGreaterThanOrEqual(LAB_TORRENT.size);
    expectModeHonoured(result);
  }, UNBLOCKED_TIMEOUT_MS + 20_000);
});
