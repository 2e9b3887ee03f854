import { enc, get, query, type HostView } from '../api.js';
import { AllowForm } from '../ui/admin.js';
import { AllowTable } from '../ui/allow-table.js';
import { Err, Loading, Section, Tag } from '../ui/parts.js';
import { DecisionTable, IncidentTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

/** One inside host: its incidents, its lock, the decisions and allow entries about it. */
export function Host({ ip, site }: { ip: string; site: string | null }) {
  const path = `/v1/hosts/${enc(ip)}${query({ site: site ?? undefined })}`;
  const { data: h, error, reload } = useApi(path, () => get<HostView>(path), ['decision', 'incident']);
  return (
    <div class="page">
      <h1>Host <span class="mono">{site ? `${site}/${ip}` : ip}</span> {h ? (h.locks.length > 0 ? <Tag kind="drop">locked</Tag> : <Tag kind="accept">not locked</Tag>) : null}</h1>
      <Err message={error} />
      {!h ? (error ? null : <Loading what="the host" />) : (
        <>
          <Section title="Incidents"><IncidentTable items={h.incidents} /></Section>
          <Section title="Locks and decisions about it"><DecisionTable items={h.decisions} /></Section>
          <Section title="Allow entries"><AllowTable items={h.allowed} onChange={reload} /><AllowForm scope="host" value={ip} site={site ?? h.incidents[0]?.site ?? ''} onDone={reload} /></Section>
        </>
      )}
    </div>
  );
}
