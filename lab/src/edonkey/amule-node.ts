/**
 * One real aMule (`amuled` from Debian's amule-daemon) in a lab namespace, driven through its
 * External Connections with `amulecmd` (amule-utils): its configuration folder written from the
 * plan, the process started through the Lab (so `lab.down()` kills it if `stop()` did not), its
 * Kad status, links added, what it has downloaded.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../netns/lab.js';
import { hasCommand } from '../netns/run.js';
import { sleep } from '../waiting.js';
import { amuleConf, EC_PASSWORD, preferencesKad, type AmuleNodePlan, type ObfuscationMode } from './amule-plan.js';

/** What keeps real aMule from running here ('' when nothing), in words that say what to do. */
export function amuleUnavailableReason(): string {
  if (!hasCommand('amuled')) return 'amuled is not installed (scripts/setup installs amule-daemon)';
  if (!hasCommand('amulecmd') || !hasCommand('alcc')) return 'amulecmd or alcc is not installed (scripts/setup installs amule-utils)';
  if (!hasCommand('tcpdump')) return 'tcpdump is not installed (scripts/setup installs it)';
  return '';
}

export interface AmuleNodeOptions {
  /** The node's configuration folder (created; in the lab's state folder, so `down` removes it). */
  dir: string;
  mode: ObfuscationMode;
  /** nodes.dat: whom it knows at start. */
  nodesDat: Buffer;
  /** Files it shares: written into its Incoming folder (shared by aMule) before it starts. */
  share?: { name: string; content: Buffer }[];
}

/** aMule's Kad status as amulecmd prints it: "Connected (ok)", "Connected (firewalled)", "Connecting", "Not connected". */
export type KadStatus = string;

export class AmuleNode {
  private constructor(
    readonly lab: Lab,
    readonly ns: string,
    readonly plan: AmuleNodePlan,
    readonly dir: string,
    readonly process: LabProcess,
  ) {}

  /** Writes the node's folder and starts amuled; resolves once its External Connections answer. */
  static async start(lab: Lab, ns: string, plan: AmuleNodePlan, options: AmuleNodeOptions): Promise<AmuleNode> {
    const dir = options.dir;
    for (const sub of ['', 'Incoming', 'Temp']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'amule.conf'), amuleConf(plan, dir, options.mode));
    writeFileSync(join(dir, 'preferencesKad.dat'), preferencesKad(plan.kadId));
    writeFileSync(join(dir, 'nodes.dat'), options.nodesDat);
    for (const file of options.share ?? []) writeFileSync(join(dir, 'Incoming', file.name), file.content);
    const process = lab.spawn(ns, 'amuled', ['--config-dir', dir, '--log-stdout'], { role: `amuled-${plan.name}` });
    const node = new AmuleNode(lab, ns, plan, dir, process);
    try {
      await node.awaitCommand(15_000);
    } catch (error) {
      await process.stop();
      throw error;
    }
    return node;
  }

  /**
   * Runs one amulecmd command against this node and returns what it printed after connecting.
   * A busy amuled now and then closes an EC connection before answering ("Empty reply"): the
   * command is tried up to `tries` times.
   */
  async command(command: string, timeoutMs = 10_000, tries = 3): Promise<string> {
    const { ip, ecPort } = this.plan;
    let output = '';
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt > 0) await sleep(300);
      const result = await this.lab.exec(this.ns, 'amulecmd', ['-h', ip, '-p', String(ecPort), '-P', EC_PASSWORD, '-c', command], { timeoutMs, check: false });
      if (result.stdout.includes('Succeeded! Connection established')) return result.stdout;
      output = result.stdout + result.stderr;
    }
    throw new Error(`amulecmd ${command} to ${this.plan.name} (${ip}): ${output.trim().slice(-300)}`);
  }

  /** The Kad line of `status`. */
  async kadStatus(): Promise<KadStatus> {
    const status = await this.command('status');
    return /Kad: (.*)/.exec(status)?.[1]?.trim() ?? 'unknown';
  }

  /** Polls `status` until Kad says Connected; returns how long it took, or null after timeoutMs. */
  async awaitKad(timeoutMs: number, everyMs = 250): Promise<number | null> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if (!this.process.running) throw new Error(`amuled ${this.plan.name} ended: ${(await this.process.exited).stdout.trim().slice(-500)}`);
      if ((await this.kadStatus()).startsWith('Connected')) return Date.now() - started;
      await sleep(everyMs);
    }
    return null;
  }

  /** Whether the node shares a file of this name (it hashes its Incoming folder after start). */
  async shares(name: string): Promise<boolean> {
    return (await this.command('show shared')).includes(name);
  }

  async addLink(link: string): Promise<void> {
    const out = await this.command(`add ${link}`);
    if (!out.includes('Operation was successful')) throw new Error(`aMule ${this.plan.name} refused the link ${link}: ${out.trim().slice(-300)}`);
  }

  /** The completed file's size in Incoming, or null while it is not there. */
  completed(name: string): number | null {
    const path = join(this.dir, 'Incoming', name);
    return existsSync(path) ? statSync(path).size : null;
  }

  /** Bytes held in unfinished downloads (the .part files' sizes: the highest offset written). */
  partBytes(): number {
    const temp = join(this.dir, 'Temp');
    if (!existsSync(temp)) return 0;
    return readdirSync(temp)
      .filter((name) => name.endsWith('.part'))
      .reduce((sum, name) => sum + statSync(join(temp, name)).size, 0);
  }

  private async awaitCommand(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.process.running) throw new Error(`amuled ${this.plan.name} in ${this.ns} ended at start: ${(await this.process.exited).stdout.trim().slice(-800)}`);
      try {
        await this.command('status', 3000, 1);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  async stop(): Promise<void> {
    await this.process.stop(5000);
  }
}
