import { get, query, type DecisionView, type Page } from '../api.js';
import type { Route } from '../router.js';
import { BlockForm, DeleteButton } from '../ui/admin.js';
import { Filters, listParams, NextPage } from '../ui/filters.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { useIsAdmin } from '../ui/role.js';
import { DecisionTable } from '../ui/tables.js';
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
