/**
 * The real aMule client inside a site: it bootstraps Kad from the first outside node (a bootstrap
 * nodes.dat naming that node by its real Kad ID), optionally downloads the lab file from its ed2k
 * link, and reports what it achieved and what crossed the gateway, from two captures: on the
 * internet's side of the site's WAN link (the client's packets that got through) and on the
 * client's own interface (what reached it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../netns/lab.js';
import { sleep } from '../waiting.js';
import { AmuleNode } from './amule-node.js';
import type { AmuleNetwork } from './amule-network.js';
import { bootstrapNodesDat, insideNode } from './amule-plan.js';
import { WireLog, type WirePacket } from './wire-log.js';

/** A download that got no new bytes for this long is stalled. */
const STALL_MS = 8000;

export interface AmuleClientOptions {
  site?: string;
  /** Which client slot of the site (default 0: c1). */
  client?: number;
  /** Add the lab file's ed2k link once Kad is connected (or once kadTimeoutMs passed). */
  download?: boolean;
  /** How long to wait for Kad "Connected" (default 20 s). */
  kadTimeoutMs?: number;
  /** How long the download may take from the link being added (default 60 s). */
  downloadTimeoutMs?: number;
  /** The client runs at least this long, so that Kad's first requests after the bootstrap are seen (default 8 s). */
  minRunMs?: number;
}

export interface AmuleClientRun {
  /** When the client was started (ms since the epoch). */
  startedAt: number;
  /** Kad status at the end, as amulecmd says it. */
  kadStatus: string;
  /** Milliseconds from start to Kad "Connected", null if it never was. */
  kadConnectedMs: number | null;
  /** The download completed (the file in Incoming with its full size). */
  complete: boolean;
  /** Seconds from the link being added to completion, or to the timeout; null without a download. */
  seconds: number | null;
  /** Times a stalled download was paused and resumed (see STALL_MS). */
  nudges: number;
  /** TCP payload bytes that reached the client from the outside nodes. */
  tcpBytesReceived: number;
  /** Bytes in the client's unfinished download (.part) at the end. */
  partBytes: number;
  /** Every packet the client sent to an outside node (captured on its own interface). */
  attempted: WirePacket[];
  /** Every packet from the client that got to the internet's side of the gateway. */
  sent: WirePacket[];
  /** Every packet from an outside node that reached the client. */
  received: WirePacket[];
  /** Outside nodes that got at least one packet from the client, and nodes whose packets reached it. */
  reached: string[];
  heardFrom: string[];
}

export async function runAmuleClient(lab: Lab, network: AmuleNetwork, options: AmuleClientOptions = {}): Promise<AmuleClientRun> {
  const site = lab.site(options.site ?? 'a');
  const slot = site.clients[options.client ?? 0]!;
  const plan = insideNode(slot.ipv4);
  const outbound = await WireLog.start(lab, lab.inet, site.wan.inetPort, `src host ${slot.ipv4}`);
  // Everything on the client's interface; its own LAN (the gateway's ARP, nothing else) is left out below.
  const atClient = await WireLog.start(lab, slot.ns, slot.ifname, `host ${slot.ipv4}`);
  // In the lab's state folder, so that `p2pwall-lab down` removes it even after a crash.
  const dir = mkdtempSync(join(lab.stateDir, 'amule-client-'));
  let node: AmuleNode | undefined;
  try {
    const startedAt = Date.now();
    node = await AmuleNode.start(lab, slot.ns, plan, { dir, mode: network.mode, nodesDat: bootstrapNodesDat([network.seeder.plan]) });
    const kadConnectedMs = await node.awaitKad(options.kadTimeoutMs ?? 20_000);
    let complete = false;
    let seconds: number | null = null;
    let nudges = 0;
    if (options.download) {
      const added = Date.now();
      await node.addLink(network.link);
      const deadline = added + (options.downloadTimeoutMs ?? 60_000);
      let progress = { bytes: 0, at: added };
      while (Date.now() < deadline && !complete) {
        complete = node.completed(network.file.name) === network.file.size;
        if (complete) break;
        const bytes = node.partBytes();
        if (bytes !== progress.bytes) progress = { bytes, at: Date.now() };
        else if (Date.now() - progress.at > STALL_MS) {
          // aMule 2.3.3 now and then stops reading a source's connection (its receive queue
          // full), or gets no part after the Hello, and never resumes; pausing and resuming the
          // file, as a user would, reconnects (through a sensor, over a new flow).
          await node.command(`pause ${network.file.hash}`);
          await node.command(`resume ${network.file.hash}`);
          nudges++;
          progress = { bytes, at: Date.now() };
        }
        await sleep(250);
      }
      seconds = (Date.now() - added) / 1000;
    }
    const minRunMs = options.minRunMs ?? 8000;
    if (Date.now() - startedAt < minRunMs) await sleep(minRunMs - (Date.now() - startedAt));
    const kadStatus = await node.kadStatus();
    const partBytes = node.partBytes();
    await node.stop();
    const [sent, seenAtClient] = await Promise.all([outbound.stop(), atClient.stop()]);
    const outside = new Set(network.addresses);
    const attempted = seenAtClient.filter((packet) => packet.src === slot.ipv4 && outside.has(packet.dst));
    const received = seenAtClient.filter((packet) => packet.dst === slot.ipv4 && outside.has(packet.src));
    const tcpBytesReceived = received.filter((packet) => packet.transport === 'tcp' && outside.has(packet.src)).reduce((sum, packet) => sum + packet.length, 0);
    return {
      startedAt,
      kadStatus,
      kadConnectedMs,
      complete,
      seconds,
      nudges,
      tcpBytesReceived,
      partBytes,
      attempted,
      sent,
      received,
      reached: [...new Set(sent.filter((packet) => outside.has(packet.dst)).map((packet) => packet.dst))].sort(),
      heardFrom: [...new Set(received.filter((packet) => outside.has(packet.src)).map((packet) => packet.src))].sort(),
    };
  } finally {
    await node?.stop().catch(() => undefined);
    await outbound.stop().catch(() => undefined);
    await atClient.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
