import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQueueStats, QueueStatsMonitor, readQueueStats, type QueueStats } from '../../src/enforce/queue-stats.js';

// As the kernel prints them: the first line measured here (a libnetfilter_queue listener that had
// seen one packet); port ids are unsigned, so an autobound (negative) one prints as above 2^31.
const SAMPLE = ['    0  18727     0 2 65531     0     0        1  1', '    1 4290843840     3 2 65531    12     7   123456  1', '    2   3301  1024 2  65535  4711  1337 99999999  1', ''].join('\n');

const stats = (queue: number, portId: number, queueDropped: number, userDropped: number): QueueStats => ({
  queue, portId, queueTotal: 0, copyMode: 2, copyRange: 65531, queueDropped, userDropped, idSequence: 1,
});

describe('nfnetlink_queue counters', () => {
  it('parses the columns of each line', () => {
    const parsed = parseQueueStats(SAMPLE);
    expect(parsed).toEqual([
      { queue: 0, portId: 18727, queueTotal: 0, copyMode: 2, copyRange: 65531, queueDropped: 0, userDropped: 0, idSequence: 1 },
      { queue: 1, portId: 4_290_843_840, queueTotal: 3, copyMode: 2, copyRange: 65531, queueDropped: 12, userDropped: 7, idSequence: 123_456 },
      { queue: 2, portId: 3301, queueTotal: 1024, copyMode: 2, copyRange: 65535, queueDropped: 4711, userDropped: 1337, idSequence: 99_999_999 },
    ]);
  });

  it('skips lines that are not eight numbers', () => {
    expect(parseQueueStats('garbage\n 1 2 3\n    5  77  0 2 65531 0 0 3\n')).toEqual([
      { queue: 5, portId: 77, queueTotal: 0, copyMode: 2, copyRange: 65531, queueDropped: 0, userDropped: 0, idSequence: 3 },
    ]);
  });

  it('reads the file, and an absent file as no queue bound', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pwall-queue-'));
    try {
      expect(readQueueStats(join(dir, 'nfnetlink_queue'))).toEqual([]);
      writeFileSync(join(dir, 'nfnetlink_queue'), SAMPLE);
      expect(readQueueStats(join(dir, 'nfnetlink_queue')).map((s) => s.queue)).toEqual([0, 1, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports growth of the loss counters per queue and keeps totals', () => {
    const monitor = new QueueStatsMonitor();
    expect(monitor.update([stats(0, 100, 0, 0), stats(1, 101, 5, 0)])).toEqual([{ queue: 1, queueDropped: 5, userDropped: 0 }]);
    expect(monitor.update([stats(0, 100, 0, 0), stats(1, 101, 5, 0)])).toEqual([]);
    expect(monitor.update([stats(0, 100, 3, 40), stats(1, 101, 6, 0)])).toEqual([
      { queue: 0, queueDropped: 3, userDropped: 40 },
      { queue: 1, queueDropped: 1, userDropped: 0 },
    ]);
    expect(monitor.totals()).toEqual({ queueDropped: 9, userDropped: 40 });
  });

  it('counts from zero again when a queue is bound anew (new listener, counters reset)', () => {
    const monitor = new QueueStatsMonitor();
    monitor.update([stats(0, 100, 50, 50)]);
    // Same listener, counters went down: the queue instance was recreated.
    expect(monitor.update([stats(0, 100, 2, 0)])).toEqual([{ queue: 0, queueDropped: 2, userDropped: 0 }]);
    // Another listener (port id) with higher counters: all of them are new.
    expect(monitor.update([stats(0, 200, 60, 0)])).toEqual([{ queue: 0, queueDropped: 60, userDropped: 0 }]);
    // The queue vanished and came back.
    monitor.update([]);
    expect(monitor.update([stats(0, 200, 60, 0)])).toEqual([{ queue: 0, queueDropped: 60, userDropped: 0 }]);
    expect(monitor.totals()).toEqual({ queueDropped: 172, userDropped: 50 });
  });
});
