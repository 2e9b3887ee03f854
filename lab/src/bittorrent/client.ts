/**
 * The real BitTorrent client (libtorrent, `lab/python/bt_peer.py fetch`) inside a lab
 * namespace: it fetches the lab torrent in one of the modes and reports how much payload arrived.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../netns/lab.js';
import { fetchArguments, type BitTorrentMode, type SwarmFacts } from './swarm-plan.js';
import { BT_PEER, SYSTEM_PYTHON } from './swarm.js';

/** What the client reports when it ends (complete, or out of time). */
export interface BitTorrentDownload {
  mode: BitTorrentMode;
  complete: boolean;
  /** Seconds from start to completion, or to the timeout. */
  seconds: number;
  /** Piece payload received (libtorrent's total_payload_download), redundant bytes included. */
  payloadDownloaded: number;
  piecesHave: number;
  /** Null when the client never got the metadata (a magnet link that found no peer). */
  pieces: number | null;
  pieceLength: number | null;
  hasMetadata: boolean;
  trackerReplies: number;
  trackerPeers: number;
  dhtReplies: number;
  /** Peers a connection was begun with (libtorrent's peer_connect_alert), as ip:port. */
  peersConnected: string[];
  /** Established connections as "ip:port transport encryption" (tcp|utp, plaintext|rc4|header-only). */
  connections: string[];
  errors: string[];
  /** Seconds from start to the first of each: trackerReply, dhtPeers, metadata, peerConnect, firstPiece. */
  timeline: Record<string, number>;
}

export interface ClientOptions {
  /** The client gives up after this long (default 30 s). */
  timeoutMs?: number;
  /**
   * Its listening port. By default a random one for each run, as a client picks on first start:
   * a fixed port would make one run's UDP flows (DHT, uTP) the same conntrack entries as the
   * last run's, which a gateway keeps for minutes.
   */
  listenPort?: number;
  /** The DHT bootstrap node instead of the first seeder, `host:port`: a name is resolved by libtorrent (glibc, the namespace's resolv.conf), as a real client resolves router.bittorrent.com. */
  dhtBootstrap?: string;
}

/** Runs the client to its end in namespace `ns` and returns its report. */
export async function runBitTorrentClient(lab: Lab, ns: string, swarm: SwarmFacts, mode: BitTorrentMode, options: ClientOptions = {}): Promise<BitTorrentDownload> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const port = options.listenPort ?? 20_000 + Math.floor(Math.random() * 40_000);
  // In the lab's state folder, so that `p2pwall-lab down` removes it even after a crash.
  const save = mkdtempSync(join(lab.stateDir, 'bt-client-'));
  try {
    const args = [BT_PEER, 'fetch', ...fetchArguments(mode, swarm, options.dhtBootstrap), '--save', save, '--listen', `0.0.0.0:${port}`, '--timeout', String(timeoutMs / 1000)];
    const client = lab.spawn(ns, SYSTEM_PYTHON, args, { role: 'bt-client' });
    let result;
    try {
      result = await client.wait(timeoutMs + 15_000);
    } finally {
      await client.stop();
    }
    if (!result.summary) throw new Error(`bt client (${mode}) in ${ns} ended (${result.code ?? result.signal}) without a report: ${result.stderr.trim().slice(-1000)}`);
    return { mode, ...(result.summary as Omit<BitTorrentDownload, 'mode'>) };
  } finally {
    rmSync(save, { recursive: true, force: true });
  }
}
