import { get, query, type AllowView, type Page } from '../api.js';
import type { Route } from '../router.js';
import { AllowForm } from '../ui/admin.js';
import { AllowTable } from '../ui/allow-table.js';
import { Filters, listParams, NextPage } from '../ui/filters.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { useIsAdmin } from '../ui/role.js';
import { useApi } from '../ui/use-api.js';

/** The allowlist (`p2pwall allow list|add|delete`), with the list's filters. */
const FIELDS = [
  { name: 'scope', label: 'Scope', hint: 'endpoint, ip, host' },
  { name: 'site', label: 'Site', hint: 'host entries of a site' },
  { name: 'value', label: 'Value', hint: 'ip or ip:port' },
] as const;

export function Allowlist({ route }: { route: Route }) {
  const params = listParams(route.params, FIELDS.map((f) => f.name));
  const path = `/v1/allowlist${query({ ...params, limit: 100 })}`;
  const { data, error, reload } = useApi(path, () => get<Page<AllowView>>(path), ['decision']);
  const admin = useIsAdmin();
  return (
    <div class="page">
      <h1>Allowlist</h1>
      <p class="lead">Addresses, endpoints and inside hosts never blocked. Adding an entry suspends the blocks it covers; deleting it brings them back.</p>
      {admin ? <Section title="Allow"><AllowForm onDone={reload} /></Section> : null}
      <Filters page="allowlist" fields={FIELDS} params={route.params} />
      <Err message={error} />
      <Section title="Active entries, newest first">{data ? <AllowTable items={data.items} onChange={reload} /> : error ? null : <Loading what="the allowlist" />}</Section>
      {data ? <NextPage page="allowlist" params={params} cursor={data.nextCursor} /> : null}
    </div>
  );
}
