import { useState } from 'preact/hooks';
import { get, getText, query, saveFile, type IncidentView, type Page } from '../api.js';
import type { Route } from '../router.js';
import { Filters, listParams, NextPage, type FilterField } from '../ui/filters.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { IncidentTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

/** The filters of `p2pwall incidents list`, by the API's names. */
const FIELDS: readonly FilterField[] = [
  { name: 'state', label: 'State', hint: "the operators' workflow state", options: [['', 'all'], ['open', 'open'], ['acknowledged', 'acknowledged'], ['closed', 'closed']] },
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
];

/** The brain's header with the CSV's next cursor (api/routes/incidents-csv.ts). */
const NEXT_CURSOR_HEADER = 'p2pwall-next-cursor';
const CSV_PAGE = 1000;
/** Pages fetched at most for one file: the CLI (`incidents list --csv`) is the tool for more. */
const CSV_MAX_PAGES = 20;

/**
 * GET /v1/incidents.csv with the list's filters (every page, not the one shown), fetched with the
 * bearer header and saved from a Blob: the token never goes into a URL.
 */
function ExportCsv({ filters }: { filters: Record<string, string> }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const exportCsv = async (): Promise<void> => {
    setBusy(true);
    setStatus(undefined);
    try {
      let text = '';
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await getText(`/v1/incidents.csv${query({ ...filters, limit: CSV_PAGE, cursor })}`, NEXT_CURSOR_HEADER);
        // pages after the first leave their header row out, so they append
        text += pages === 0 ? page.text : page.text.slice(page.text.indexOf('\r\n') + 2);
        cursor = page.next ?? undefined;
        pages += 1;
      } while (cursor !== undefined && pages < CSV_MAX_PAGES);
      const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '');
      const name = `incidents${filters['state'] ? `-${filters['state']}` : ''}-${stamp}Z.csv`;
      saveFile(text, name, 'text/csv;charset=utf-8');
      setStatus({ ok: true, text: cursor === undefined ? `saved ${name}` : `saved ${name}: the first ${CSV_MAX_PAGES * CSV_PAGE} incidents (p2pwall incidents list --csv pages through the rest)` });
    } catch (error) {
      setStatus({ ok: false, text: `export refused: ${error instanceof Error ? error.message : String(error)}` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="export">
      {status ? <span class={status.ok ? 'muted' : 'error'} data-testid="export-status">{status.text}</span> : null}
      <button type="button" class="plain small" onClick={exportCsv} disabled={busy}>Export CSV</button>
    </span>
  );
}

export function Incidents({ route }: { route: Route }) {
  const params = listParams(route.params, FIELDS.map((f) => f.name));
  const path = `/v1/incidents${query({ ...params, limit: 100 })}`;
  const { data, error } = useApi(path, () => get<Page<IncidentView>>(path), params['cursor'] ? [] : ['incident']);
  // the export takes the filters from the first page, whichever page is shown
  const filters = Object.fromEntries(Object.entries(params).filter(([name]) => name !== 'cursor'));
  return (
    <div class="page">
      <h1>Incidents</h1>
      <Filters page="incidents" fields={FIELDS} params={route.params} />
      <Err message={error} />
      <Section title="Newest first" actions={<ExportCsv filters={filters} />}>{data ? <IncidentTable items={data.items} /> : error ? null : <Loading what="incidents" />}</Section>
      {data ? <NextPage page="incidents" params={params} cursor={data.nextCursor} /> : null}
    </div>
  );
}
