import type { SensorView } from '../../api/views.js';
import { ageOnly, humanTime, table } from '../format.js';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Sensors as a table; the drop columns add up every queue of the sensor. */
export function sensorsTable(items: SensorView[], now: number, width = Infinity): string {
  if (items.length === 0) return 'no sensors have sent a heartbeat\n';
  return table(
    ['SENSOR', 'VERSION', 'MODE', 'LAST HEARTBEAT', 'QUEUE DROPS', 'USER DROPS', 'BLOCKLIST LAG', 'BACKLOG', 'STALE'],
    items.map((s) => [
      s.name,
      s.version || '-',
      s.mode,
      humanTime(s.lastHeartbeat, now),
      String(sum(s.queues.map((q) => q.queueDropped))),
      String(sum(s.queues.map((q) => q.userDropped))),
      String(s.blocklistLag),
      s.shedBatches > 0 ? `${s.backlogBatches} (shed ${s.shedBatches})` : String(s.backlogBatches),
      s.stale ? 'STALE' : 'no',
    ]),
    { width, keep: ['SENSOR'], compact: { 'LAST HEARTBEAT': ageOnly }, drop: ['VERSION', 'USER DROPS', 'BACKLOG', 'MODE'] },
  );
}
