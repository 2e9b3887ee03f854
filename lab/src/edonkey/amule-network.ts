/**
 * A real Kad network in the lab's internet: three `amuled` nodes on outside addresses, each
 * knowing the others from its nodes.dat, the first sharing the lab file. All nodes use one
 * obfuscation mode (aMule's settings are per node; a mixed network is another experiment).
 *
 *   const network = await AmuleNetwork.start(lab, 'clear');
 *   try { … runAmuleClient(lab, 'a', network, …) … } finally { await network.stop(); }
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../netns/lab.js';
import { run } from '../netns/run.js';
import { until } from '../waiting.js';
import { AmuleNode, amuleUnavailableReason } from './amule-node.js';
import { ed2kLink, LAB_FILE, OUTSIDE_NODES, routingNodesDat, type ObfuscationMode, type SharedFile } from './amule-plan.js';

export class AmuleNetwork {
  private constructor(
    readonly mode: ObfuscationMode,
    readonly workDir: string,
    readonly file: SharedFile,
    readonly nodes: readonly AmuleNode[],
  ) {}

  /** The outside nodes' addresses. */
  get addresses(): string[] {
    return this.nodes.map((node) => node.plan.ip);
  }

  /** The node sharing the lab file. */
  get seeder(): AmuleNode {
    return this.nodes[0]!;
  }

  /** The lab file's ed2k link, naming the seeder as its source. */
  get link(): string {
    return ed2kLink(this.file, [{ ip: this.seeder.plan.ip, port: this.seeder.plan.tcpPort }]);
  }

  static async start(lab: Lab, mode: ObfuscationMode, options: { readyTimeoutMs?: number } = {}): Promise<AmuleNetwork> {
    const unavailable = amuleUnavailableReason();
    if (unavailable) throw new Error(`the aMule network cannot run: ${unavailable}`);
    // In the lab's state folder, so that `p2pwall-lab down` removes it even after a crash.
    const workDir = mkdtempSync(join(lab.stateDir, 'amule-'));
    const started: AmuleNode[] = [];
    try {
      const content = randomBytes(LAB_FILE.size);
      const file = await hashFile(workDir, content);
      for (const node of OUTSIDE_NODES) await lab.exec(lab.inet, 'ip', ['addr', 'replace', `${node.ip}/32`, 'dev', 'lo']);
      for (const [index, node] of OUTSIDE_NODES.entries()) {
        const others = OUTSIDE_NODES.filter((other) => other !== node);
        const share = index === 0 ? [{ name: file.name, content }] : [];
        started.push(await AmuleNode.start(lab, lab.inet, node, { dir: join(workDir, node.name), mode, nodesDat: routingNodesDat(others), share }));
      }
      const timeoutMs = options.readyTimeoutMs ?? 20_000;
      // Ready: every node has heard from another (Kad "Connected"), and the seeder has hashed its file.
      await Promise.all(started.map(async (node) => ((await node.awaitKad(timeoutMs)) === null ? Promise.reject(new Error(`aMule ${node.plan.name}: Kad not connected within ${timeoutMs} ms (${await node.kadStatus()})`)) : undefined)));
      await until(`aMule ${started[0]!.plan.name} sharing ${file.name}`, timeoutMs, async () => ((await started[0]!.shares(file.name)) ? true : undefined), 250);
      return new AmuleNetwork(mode, workDir, file, started);
    } catch (error) {
      await Promise.all(started.map((node) => node.stop()));
      rmSync(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop().catch(() => undefined)));
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** The file's ed2k hash by aMule's own link creator (`alcc`, amule-utils): MD4, which Node's OpenSSL 3 no longer offers. */
async function hashFile(workDir: string, content: Buffer): Promise<SharedFile> {
  const path = join(workDir, LAB_FILE.name);
  writeFileSync(path, content);
  const made = await run('alcc', [path], { timeoutMs: 30_000 });
  const match = /ed2k:\/\/\|file\|([^|]+)\|(\d+)\|([0-9a-fA-F]{32})\|/.exec(made.stdout);
  if (!match) throw new Error(`alcc printed no ed2k link: ${made.stdout.trim()}`);
  rmSync(path);
  return { name: match[1]!, size: Number(match[2]), hash: match[3]!.toLowerCase() };
}
