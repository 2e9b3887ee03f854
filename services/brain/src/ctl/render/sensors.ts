import type { SensorState, SensorView } from '../../api/views.js';
import { ageOnly, humanTime, table } from '../format.js';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** What needs a look stands out in capitals: a stale sensor went silent unannounced; a stopped one said it was stopping. */
const STATES: Record<SensorState, string> = { running: 'running', stopped: 'STOPPED', stale: 'STALE' };

/** Sensors as a table; the drop columns add up every queue of the sensor. */
export function sensorsTable(items: SensorView[], now: number, width = Infinity): string {
  if (items.length === 0) return 'no sensors have sent a heartbeat\n';
  return table(
    ['SENSOR', 'VERSION', 'MODE', 'LAST HEARTBEAT', 'QUEUE DROPS', 'USER DROPS', 'BLOCKLIST LAG', 'BACKLOG', 'STATE'],
    items.map((s) => [
      s.name,
      s.version || '-',
      s.mode,
      humanTime(s.lastHeartbeat, now),
      String(sum(s.queues.map((q) => q.queueDropped))),
      String(sum(s.queues.map((q) => q.userDropped))),
      String(s.blocklistLag),
      s.shedBatches > 0 ? `${s.backlogBatches} (shed ${s.shedBatches})` : String(s.backlogBatches),
      STATES[s.state],
    ]),
    { width, keep: ['SENSOR'], compact: { 'LAST HEARTBEAT': ageOnly }, drop: ['VERSION', 'USER DROPS', 'BACKLOG', 'MODE'] },
  );
}
