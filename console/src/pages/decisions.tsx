import { get, query, type AllowView, type DecisionView, type Page, type SensorView } from '../api.js';
import type { Route } from '../router.js';
import { AllowForm, BlockForm, DeleteButton } from '../ui/admin.js';
import { AllowTable } from '../ui/allow-table.js';
import { Filters, listParams, NextPage } from '../ui/filters.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { useIsAdmin } from '../ui/role.js';
import { DecisionTable, SensorTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

/** The filters of `p2pwall decisions list`. */
const DECISION_FIELDS = [
  { name: 'scope', label: 'Scope', hint: 'endpoint, ip, network, host' },
  { name: 'origin', label: 'Origin', hint: 'correlation, manual…' },
  { name: 'site', label: 'Site', hint: 'what this site enforces' },
  { name: 'value', label: 'Value', hint: 'ip or ip:port' },
  { name: 'range', label: 'Range', hint: '203.0.113.0/24' },
  { name: 'rule', label: 'Rule', hint: 'fasttrack/udp-ping' },
  { name: 'sensor', label: 'Sensor', hint: 'site/gateway' },
  { name: 'since', label: 'Since', hint: '24h or ISO time' },
  { name: 'until', label: 'Until', hint: '1h or ISO time' },
] as const;

export function Decisions({ route }: { route: Route }) {
  const params = listParams(route.params, DECISION_FIELDS.map((f) => f.name));
  const path = `/v1/decisions${query({ ...params, limit: 100 })}`;
  const { data, error, reload } = useApi(path, () => get<Page<DecisionView>>(path), ['decision']);
  const admin = useIsAdmin();
  return (
    <div class="page">
      <h1>Decisions</h1>
      {admin ? <Section title="Block by hand"><BlockForm onDone={reload} /></Section> : null}
      <Filters page="decisions" fields={DECISION_FIELDS} params={route.params} />
      <Err message={error} />
      <Section title="Active blocks, newest first">{data ? <DecisionTable items={data.items} action={(d) => <DeleteButton kind="decision" id={d.id} onDone={reload} />} /> : error ? null : <Loading what="decisions" />}</Section>
      {data ? <NextPage page="decisions" params={params} cursor={data.nextCursor} /> : null}
    </div>
  );
}

export function Allowlist({ route }: { route: Route }) {
  const params = listParams(route.params, ['scope', 'site', 'value']);
  const path = `/v1/allowlist${query({ ...params, limit: 100 })}`;
  const { data, error, reload } = useApi(path, () => get<Page<AllowView>>(path), ['decision']);
  const admin = useIsAdmin();
  return (
    <div class="page">
      <h1>Allowlist</h1>
      <p class="lead">Addresses, endpoints and inside hosts never blocked. Adding an entry suspends the blocks it covers; deleting it brings them back.</p>
      {admin ? <Section title="Allow"><AllowForm onDone={reload} /></Section> : null}
      <Err message={error} />
      <Section title="Active entries, newest first">{data ? <AllowTable items={data.items} onChange={reload} /> : error ? null : <Loading what="the allowlist" />}</Section>
      {data ? <NextPage page="allowlist" params={params} cursor={data.nextCursor} /> : null}
    </div>
  );
}

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
