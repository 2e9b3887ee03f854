import { get, type Page, type SensorView } from '../api.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { SensorTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

/** Sensors by name with their queues (`p2pwall sensors`). */
export function Sensors() {
  const { data, error } = useApi('sensors', () => get<Page<SensorView> & { blocklistVersion: number }>('/v1/sensors?limit=1000'), ['decision']);
  return (
    <div class="page">
      <h1>Sensors</h1>
      <Err message={error} />
      {data ? <p class="lead">Shared blocklist version <b>{data.blocklistVersion}</b>; a sensor's lag is how many changes it has yet to apply.</p> : null}
      <Section title="By name">{data ? <SensorTable items={data.items} /> : error ? null : <Loading what="sensors" />}</Section>
      {data ? (
        <Section title="Queues">
          <table class="grid">
            <thead><tr><th>Sensor</th><th class="num">Queue</th><th class="num">Packets</th><th class="num">Dropped by the kernel</th><th class="num">Dropped in user space</th><th class="num">Backlog batches</th><th class="num">Shed batches</th></tr></thead>
            <tbody>
              {data.items.flatMap((s) => s.queues.map((q) => (
                <tr key={`${s.name}-${q.queue}`}><td class="mono">{s.name}</td><td class="num">{q.queue}</td><td class="num">{q.total}</td><td class="num">{q.queueDropped}</td><td class="num">{q.userDropped}</td><td class="num">{s.backlogBatches}</td><td class="num">{s.shedBatches}</td></tr>
              )))}
            </tbody>
          </table>
        </Section>
      ) : null}
    </div>
  );
}
