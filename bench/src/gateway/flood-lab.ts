/**
 * The namespace lab the new-flow measurements run in (bench/gateway and bench/soak): one client,
 * one gateway, the internet, with the generator's datagrams dropped and counted where they
 * arrive, and the generator itself (one pinned CPython run per call, continuing the 5-tuple
 * sequence where the last run stopped).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, LabExistsError } from '@p2pwall/lab';
import { spawnPinned } from './consumer.js';
import { installSink } from './kernel.js';
import type { GeneratorReport } from './results.js';
import { PYTHON_FLOOD, pythonPath } from './scripts.js';

/** Destination ports of the generator's datagrams; the internet namespace drops (and counts) them. */
export const FLOOD_PORT_BASE = 20000;
export const FLOOD_PORT_COUNT = 40000;
export const FLOOD_SOCKETS = 8;

/** Lab.up for one site with one client; a lab left over by an earlier run of the same prefix is removed first. */
export async function floodLab(prefix: string, log: (line: string) => void): Promise<Lab> {
  let lab: Lab;
  try {
    lab = await Lab.up({ prefix, sites: ['a'], clientsPerSite: 1 });
  } catch (error) {
    if (!(error instanceof LabExistsError)) throw error;
    log(`a lab "${prefix}" is left over from an earlier run: removing it`);
    await Lab.down(prefix);
    lab = await Lab.up({ prefix, sites: ['a'], clientsPerSite: 1 });
  }
  const gateway = lab.site('a').gateway;
  const probe = await lab.exec(gateway, 'conntrack', ['-C'], { check: false });
  if (probe.code !== 0) throw new Error(`conntrack (the conntrack-tools program) is needed to flush the gateway's table between steps: ${probe.stderr.trim()}`);
  await installSink(lab, lab.inet, `${FLOOD_PORT_BASE}:${FLOOD_PORT_BASE + FLOOD_PORT_COUNT - 1}`);
  return lab;
}

/** The UDP new-flow generator in the lab's client namespace. */
export class FloodGenerator {
  private nextIndex = 0;
  private readonly python = pythonPath();
  private readonly script: string;
  private readonly client: string;
  private readonly targets: string;
  readonly targetCount: number;

  constructor(
    private readonly lab: Lab,
    workDir: string,
    private readonly cpu: number | undefined,
  ) {
    this.script = join(workDir, 'flood.py');
    writeFileSync(this.script, PYTHON_FLOOD);
    this.client = lab.site('a').clients[0]!.ns;
    this.targets = lab.plan.inet.ipv4.join(',');
    this.targetCount = lab.plan.inet.ipv4.length;
  }

  /** Sends for `seconds` at `rate` datagrams/s (null: as fast as it can); resolves with its report. */
  async run(rate: number | null, seconds: number): Promise<GeneratorReport> {
    const args = [this.script, String(rate ?? 0), String(seconds), String(this.nextIndex), String(FLOOD_SOCKETS), this.targets, String(FLOOD_PORT_BASE), String(FLOOD_PORT_COUNT)];
    const child = spawnPinned(this.lab, this.client, this.cpu, this.python, args, { role: 'bench-flood' });
    const exit = await child.wait((seconds + 15) * 1000);
    const report = exit.summary as GeneratorReport | undefined;
    if (!report || typeof report.sent !== 'number') throw new Error(`the generator gave no report (exit ${exit.code}): ${exit.stderr.trim().slice(-500)}`);
    this.nextIndex = report.nextIndex % (this.targetCount * FLOOD_PORT_COUNT);
    return report;
  }
}
