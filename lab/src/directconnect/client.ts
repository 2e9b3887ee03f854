/**
 * The real Direct Connect client (ncdc under `lab/python/dc_client.py fetch`) inside a lab
 * namespace: it logs in to the hub, fetches the sharer's file list and then its shared folder,
 * and reports how many bytes arrived.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../netns/lab.js';
import { DC_CLIENT, DC_PYTHON } from './network.js';
import { DC_CLIENT_NICK, DC_CONTENT, DC_SHARER_NICK, hubUrl, type DcHubKind } from './plan.js';

export interface DcDownload {
  hub: DcHubKind;
  complete: boolean;
  seconds: number;
  /** The sharer's file list (bzip2 XML) as it arrived over a client-to-client connection. */
  fileListBytes: number;
  /** The shared file's bytes in ncdc's finished and unfinished folders. */
  downloadedBytes: number;
  incompleteBytes: number;
  /** Seconds from start to fileList, queued, complete. */
  timeline: Record<string, number>;
}

export interface DcClientOptions {
  timeoutMs?: number;
  /** TLS between clients: 'disabled' (the default, clear-text CSUP/CGET) or 'prefer' (ADCS). */
  clientTls?: 'disabled' | 'prefer';
}

/** Runs the client to its end in namespace `ns` and returns its report. */
export async function runDcClient(lab: Lab, ns: string, hub: DcHubKind, options: DcClientOptions = {}): Promise<DcDownload> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  // In the lab's state folder, so that `p2pwall-lab down` removes it even after a crash.
  const session = mkdtempSync(join(lab.stateDir, 'dc-client-'));
  try {
    const args = [DC_CLIENT, 'fetch', '--session', session, '--nick', DC_CLIENT_NICK, '--hub', hubUrl(hub), '--peer', DC_SHARER_NICK, '--timeout', String(timeoutMs / 1000), '--want', String(DC_CONTENT.size), '--tls-policy', options.clientTls ?? 'disabled'];
    const client = lab.spawn(ns, DC_PYTHON, args, { role: 'dc-client' });
    let result;
    try {
      result = await client.wait(timeoutMs + 15_000);
    } finally {
      await client.stop();
    }
    if (!result.summary) throw new Error(`dc client (${hub}) in ${ns} ended (${result.code ?? result.signal}) without a report: ${result.stderr.trim().slice(-1000)}`);
    const { complete, seconds, fileListBytes, downloadedBytes, incompleteBytes, timeline } = result.summary as Omit<DcDownload, 'hub'>;
    return { hub, complete, seconds, fileListBytes, downloadedBytes, incompleteBytes, timeline };
  } finally {
    rmSync(session, { recursive: true, force: true });
  }
}
