import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time of the processes an ingest run involves, so a figure says whether the brain (Node) or
 * redis-server was the bound: the brain from /proc/PID/stat (Linux), redis-server from its own
 * `INFO cpu` (read with redis-cli, which ships with redis-server on Debian).
 */

/** Clock ticks per second of /proc/PID/stat on Linux (USER_HZ is 100 on every mainstream build). */
const USER_HZ = 100;

/** User + system CPU ms of a live process; undefined when /proc cannot tell (gone, not Linux). */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 14th field, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** A live process's peak resident set (VmHWM), MB. */
export function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

function redisInfo(url: string, section: string): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const text = execFileSync('redis-cli', ['-u', url, 'INFO', section], { encoding: 'utf8', timeout: 5000 });
    for (const line of text.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith('#')) out.set(line.slice(0, colon), line.slice(colon + 1));
    }
  } catch {
    // redis-cli missing or the server gone: the figures are optional
  }
  return out;
}

/** redis-server's own user + system CPU ms since it started. */
export function redisCpuMs(url: string): number | undefined {
  const info = redisInfo(url, 'cpu');
  const user = Number(info.get('used_cpu_user'));
  const sys = Number(info.get('used_cpu_sys'));
  return Number.isFinite(user) && Number.isFinite(sys) ? Math.round((user + sys) * 1000) : undefined;
}

export interface CommandStat {
  calls: number;
  usec: number;
}

/** `INFO commandstats`: calls and server-side µs per command (scripts counted under evalsha). */
export function redisCommandStats(url: string): Record<string, CommandStat> {
  const out: Record<string, CommandStat> = {};
  for (const [key, value] of redisInfo(url, 'commandstats')) {
    if (!key.startsWith('cmdstat_')) continue;
    const calls = /calls=(\d+)/.exec(value);
    const usec = /usec=(\d+)/.exec(value);
    out[key.slice('cmdstat_'.length)] = { calls: Number(calls?.[1] ?? 0), usec: Number(usec?.[1] ?? 0) };
  }
  return out;
}

/** Busy ms of every CPU of the machine together since boot (/proc/stat: all but idle and iowait). */
export function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.slice(0, 8).reduce((sum, n) => sum + n, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return ((total - idle) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}
