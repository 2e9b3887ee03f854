/**
 * A lab's state directory, `/run/p2pwall-lab/<prefix>/` by default (P2PWALL_LAB_STATE moves the
 * root): `lab.json` (the plan), `procs/<pid>.json` (one file per process the lab started, written
 * before it can do anything and removed when it ends) and `logs/` (emulator logs). `down` reads
 * it back after a crash; processes are matched by pid *and* start time, so a reused pid is never
 * killed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from './topology.js';

export const DEFAULT_STATE_ROOT = '/run/p2pwall-lab';

export function stateRoot(): string {
  return process.env.P2PWALL_LAB_STATE ?? DEFAULT_STATE_ROOT;
}

export function stateDir(prefix: string, root = stateRoot()): string {
  return join(root, prefix);
}

export interface ProcessRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: with the pid, it names one process for good. */
  startTime: string;
  ns: string;
  cmd: string;
  args: string[];
  /** The emulator role, when it is one. */
  role?: string;
  /** Where its output or JSON-lines log goes. */
  log?: string;
  startedAt: number;
  detached: boolean;
}

/** The start time of a live process, or undefined when there is none with that pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Is this the same, still running (not zombie) process? */
export function isAlive(record: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  if (processStartTime(record.pid) !== record.startTime) return false;
  try {
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export class LabState {
  constructor(readonly dir: string) {}

  get procsDir(): string {
    return join(this.dir, 'procs');
  }

  get logsDir(): string {
    return join(this.dir, 'logs');
  }

  create(plan: LabPlan): void {
    mkdirSync(this.procsDir, { recursive: true });
    mkdirSync(this.logsDir, { recursive: true });
    writeFileSync(join(this.dir, 'lab.json'), `${JSON.stringify({ plan, createdAt: Date.now(), by: process.pid }, null, 2)}\n`);
  }

  plan(): LabPlan | undefined {
    try {
      return (JSON.parse(readFileSync(join(this.dir, 'lab.json'), 'utf8')) as { plan: LabPlan }).plan;
    } catch {
      return undefined;
    }
  }

  addProcess(record: ProcessRecord): void {
    mkdirSync(this.procsDir, { recursive: true });
    writeFileSync(join(this.procsDir, `${record.pid}.json`), `${JSON.stringify(record)}\n`);
  }

  removeProcess(pid: number): void {
    try {
      unlinkSync(join(this.procsDir, `${pid}.json`));
    } catch {
      // already gone
    }
  }

  processes(): ProcessRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.procsDir);
    } catch {
      return [];
    }
    const records: ProcessRecord[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        records.push(JSON.parse(readFileSync(join(this.procsDir, name), 'utf8')) as ProcessRecord);
      } catch {
        // a torn record: its process is still found through `ip netns pids`
      }
    }
    return records.sort((a, b) => a.startedAt - b.startedAt);
  }

  exists(): boolean {
    try {
      readdirSync(this.dir);
      return true;
    } catch {
      return false;
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
