/**
 * Counters bench/gateway reads around each step: the kernel queue's (per namespace), conntrack's
 * drop counters, a packet counter at the receiving end, and CPU time (machine and process).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Lab } from '@p2pwall/lab';

/** One queue's line of /proc/net/netfilter/nfnetlink_queue (see DESIGN.md, "Facts about the parts"). */
export interface QueueCounters {
  portId: number;
  /** Packets waiting for a verdict now. */
  queueTotal: number;
  /** Dropped: the queue was full (queue_maxlen, 1024 unless the program sets it). */
  queueDropped: number;
  /** Dropped: the netlink socket's receive buffer was full. */
  userDropped: number;
  /**
   * Id of the last packet handed to the queue. Measured here: a packet dropped for a full queue
   * takes no id (id_sequence + queue_dropped = packets that met the rule).
   */
  idSequence: number;
}

export function parseQueueCounters(text: string, queue: number): QueueCounters | undefined {
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/).map(Number);
    if (fields.length < 8 || fields.slice(0, 8).some((n) => !Number.isInteger(n))) continue;
    if (fields[0] !== queue) continue;
    return { portId: fields[1]!, queueTotal: fields[2]!, queueDropped: fields[5]!, userDropped: fields[6]!, idSequence: fields[7]! };
  }
  return undefined;
}

/** The queue's counters in a namespace; undefined when no program is bound to it. */
export async function readQueue(lab: Lab, ns: string, queue: number): Promise<QueueCounters | undefined> {
  const result = await lab.exec(ns, 'cat', ['/proc/net/netfilter/nfnetlink_queue'], { check: false, timeoutMs: 10_000 });
  return parseQueueCounters(result.stdout, queue);
}

/** Waits until the queue holds no packet (or timeoutMs); returns the last reading. */
export async function drainedQueue(lab: Lab, ns: string, queue: number, timeoutMs = 2000): Promise<QueueCounters | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counters = await readQueue(lab, ns, queue);
    if (!counters || counters.queueTotal === 0 || Date.now() > deadline) return counters;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** conntrack's own drops in a namespace (`conntrack -S`, summed over CPUs). */
export interface ConntrackDrops {
  drop: number;
  earlyDrop: number;
  insertFailed: number;
}

export async function readConntrackDrops(lab: Lab, ns: string): Promise<ConntrackDrops> {
  const result = await lab.exec(ns, 'conntrack', ['-S'], { check: false, timeoutMs: 10_000 });
  const sum = (key: string): number => {
    let total = 0;
    for (const match of result.stdout.matchAll(new RegExp(`(?:^|\\s)${key}=(\\d+)`, 'g'))) total += Number(match[1]);
    return total;
  };
  return { drop: sum('drop'), earlyDrop: sum('early_drop'), insertFailed: sum('insert_failed') };
}

export async function flushConntrack(lab: Lab, ns: string): Promise<void> {
  await lab.exec(ns, 'conntrack', ['-F'], { check: false, timeoutMs: 30_000 });
}

/** The comment that names the receiving end's counting rule in the internet namespace. */
export const SINK_COMMENT = 'p2pwall-bench-sink';

/** Drops (and counts) the generator's datagrams where they arrive, so no ICMP comes back. */
export async function installSink(lab: Lab, ns: string, ports: string): Promise<void> {
  await lab.exec(ns, 'iptables', ['-w', '-A', 'INPUT', '-p', 'udp', '--dport', ports, '-m', 'comment', '--comment', SINK_COMMENT, '-j', 'DROP']);
}

/** Datagrams the sink rule has counted. */
export async function readSink(lab: Lab, ns: string): Promise<number> {
  const result = await lab.exec(ns, 'iptables', ['-w', '-nvxL', 'INPUT'], { timeoutMs: 10_000 });
  const line = result.stdout.split('\n').find((l) => l.includes(SINK_COMMENT));
  if (!line) throw new Error(`the sink rule (${SINK_COMMENT}) is missing from INPUT in ${ns}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** Machine-wide CPU time from /proc/stat (all cores), in clock ticks. */
export interface MachineCpu {
  busy: number;
  total: number;
  softirq: number;
}

export function readMachineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, ...fields] = line.trim().split(/\s+/);
  const values = fields.map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total, softirq: values[6] ?? 0 };
}

/** user + system time of a process, in clock ticks; undefined when it is gone. */
export function processTicks(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

let ticksPerSecond: number | undefined;

export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}
