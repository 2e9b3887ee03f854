import { readFileSync } from 'node:fs';

export const NFNETLINK_QUEUE_PATH = '/proc/net/netfilter/nfnetlink_queue';

/** One line of /proc/net/netfilter/nfnetlink_queue: a queue a program is bound to. */
export interface QueueStats {
  queue: number;
  /** Netlink port id of the listening socket. */
  portId: number;
  /** Packets waiting for a verdict right now. */
  queueTotal: number;
  copyMode: number;
  copyRange: number;
  /** Packets dropped because the queue was full (queue_maxlen, 1024 by default). */
  queueDropped: number;
  /** Packets dropped because the netlink socket could not take them (receive buffer full). */
  userDropped: number;
  /** Id of the last packet queued: how many packets this queue has seen since it was bound. */
  idSequence: number;
}

/**
 * Parses the file's text. Lines that do not hold at least the eight numeric columns are skipped
 * (the ninth is a constant 1 that the kernel prints for compatibility).
 */
export function parseQueueStats(text: string): QueueStats[] {
  const stats: QueueStats[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const numbers = fields.slice(0, 8).map((field) => (/^\d+$/.test(field) ? Number(field) : Number.NaN));
    if (numbers.some((n) => Number.isNaN(n))) continue;
    const [queue, portId, queueTotal, copyMode, copyRange, queueDropped, userDropped, idSequence] = numbers as [number, number, number, number, number, number, number, number];
    stats.push({ queue, portId, queueTotal, copyMode, copyRange, queueDropped, userDropped, idSequence });
  }
  return stats;
}

/**
 * Reads the kernel's queue counters; [] when the file is absent (no queue bound in this network
 * namespace yet). Synchronous on purpose: a /proc read of a few lines never blocks on a disk, and
 * the sensor polls it while draining its queue at shutdown.
 */
export function readQueueStats(path = NFNETLINK_QUEUE_PATH): QueueStats[] {
  try {
    return parseQueueStats(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Loss on one queue since the previous reading. */
export interface QueueLoss {
  queue: number;
  queueDropped: number;
  userDropped: number;
}

export interface QueueLossTotals {
  queueDropped: number;
  userDropped: number;
}

/**
 * Turns successive readings into growth of the two loss counters, per queue, for warnings and
 * metrics. The kernel's counters start from zero when a queue is bound again (a new port id, or a
 * counter that went down): growth is then the whole new value.
 */
export class QueueStatsMonitor {
  private readonly last = new Map<number, QueueStats>();
  private readonly sums: QueueLossTotals = { queueDropped: 0, userDropped: 0 };

  /** Records a reading; returns the queues that lost packets since the previous one. */
  update(readings: readonly QueueStats[]): QueueLoss[] {
    const losses: QueueLoss[] = [];
    const seen = new Set<number>();
    for (const current of readings) {
      seen.add(current.queue);
      const previous = this.last.get(current.queue);
      const rebound = previous !== undefined && (previous.portId !== current.portId || current.queueDropped < previous.queueDropped || current.userDropped < previous.userDropped);
      const base = previous === undefined || rebound ? { queueDropped: 0, userDropped: 0 } : previous;
      // The first reading of a queue counts what it lost before we looked: loss is loss.
      const loss = { queue: current.queue, queueDropped: current.queueDropped - base.queueDropped, userDropped: current.userDropped - base.userDropped };
      this.last.set(current.queue, current);
      if (loss.queueDropped === 0 && loss.userDropped === 0) continue;
      this.sums.queueDropped += loss.queueDropped;
      this.sums.userDropped += loss.userDropped;
      losses.push(loss);
    }
    // A queue nobody listens on any more disappears from the file; forget it.
    for (const queue of this.last.keys()) if (!seen.has(queue)) this.last.delete(queue);
    return losses;
  }

  /** Packets lost on all queues since this monitor was created. */
  totals(): QueueLossTotals {
    return { ...this.sums };
  }
}
