import { get, query, type IncidentView, type Page } from '../api.js';
import type { Route } from '../router.js';
import { Filters, listParams, NextPage } from '../ui/filters.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { IncidentTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

/** The filters of `p2pwall incidents list`, by the API's names. */
const FIELDS = [
  { name: 'since', label: 'Since', hint: '24h, 7d or ISO time' },
  { name: 'until', label: 'Until', hint: '1h or ISO time' },
  { name: 'site', label: 'Site', hint: 'site-a' },
  { name: 'gateway', label: 'Gateway', hint: 'gw1' },
  { name: 'sensor', label: 'Sensor', hint: 'site/gateway' },
  { name: 'host', label: 'Host', hint: 'inside address' },
  { name: 'range', label: 'Range', hint: '192.168.1.0/24' },
  { name: 'protocol', label: 'Protocol', hint: 'fasttrack, bittorrent…' },
  { name: 'rule', label: 'Rule', hint: 'fasttrack/udp-ping' },
  { name: 'peer', label: 'Peer', hint: 'ip or ip:port' },
] as const;

export function Incidents({ route }: { route: Route }) {
  const params = listParams(route.params, FIELDS.map((f) => f.name));
  const path = `/v1/incidents${query({ ...params, limit: 100 })}`;
  const { data, error } = useApi(path, () => get<Page<IncidentView>>(path), params['cursor'] ? [] : ['incident']);
  return (
    <div class="page">
      <h1>Incidents</h1>
      <Filters page="incidents" fields={FIELDS} params={route.params} />
      <Err message={error} />
      <Section title="Newest first">{data ? <IncidentTable items={data.items} /> : error ? null : <Loading what="incidents" />}</Section>
      {data ? <NextPage page="incidents" params={params} cursor={data.nextCursor} /> : null}
    </div>
  );
}
