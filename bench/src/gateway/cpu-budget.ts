import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A share of one core for the queue consumers: a cgroup with a CPU quota (cgroup v2 `cpu.max`,
 * or v1 `cpu.cfs_quota_us`), every consumer moved into it once started.
 *
 * Why: on a two-core machine the generator and the kernel's forwarding up to the queue share a
 * core, and where they are slower than the fastest consumers (130k datagrams/s here against a
 * C consumer that keeps up with all of it) every fast consumer's zero-drop rate is only "at
 * least the generator's". With each consumer held to the same fraction of a core, the rate it
 * sustains is set by its own cost per packet (the verdict's re-injection included: it runs in
 * the consumer's system call), well below the generator's, and comparable side by side.
 */
export class CpuBudget {
  private constructor(
    readonly percent: number,
    private readonly dir: string,
  ) {}

  /** `percent` of one core (1-100) for the processes added; throws saying what is missing. */
  static create(name: string, percent: number): CpuBudget {
    // A short period: throttled for at most 10 ms minus the quota, which even the nfqueue binding's 1,024-packet queue rides out at the rates measured.
    const periodUs = 10_000;
    const quotaUs = Math.round((periodUs * percent) / 100);
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      const control = '/sys/fs/cgroup/cgroup.subtree_control';
      if (!readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu');
      const dir = join('/sys/fs/cgroup', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
      return new CpuBudget(percent, dir);
    }
    const root = '/sys/fs/cgroup/cpu';
    if (!existsSync(join(root, 'cpu.cfs_quota_us'))) throw new Error('--consumer-cpu: no cgroup CPU controller (neither cgroup v2 nor v1 /sys/fs/cgroup/cpu); use --consumer-cpu 100 for none');
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
    return new CpuBudget(percent, dir);
  }

  /** Moves a process, all its threads, into the budget. */
  add(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** Removes the cgroup (its processes must have exited); a failure is left for the next run to reuse. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // still populated or already gone: the same name is reused next time
    }
  }
}
