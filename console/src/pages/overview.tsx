import { get, type DecisionView, type IncidentView, type Page, type SensorView } from '../api.js';
import { hourly } from '../format.js';
import { href } from '../router.js';
import { CountChart } from '../ui/chart.js';
import { Err, Loading, Section } from '../ui/parts.js';
import { IncidentTable, SensorTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

interface Overview {
  sensors: SensorView[];
  /** Incidents still active (seen within the brain's incidents.quietSeconds), whatever their workflow state. */
  active: IncidentView[];
  /** Incidents and blocks of the last day (at most a page of 1000 each): what the charts count. */
  dayIncidents: IncidentView[];
  dayBlocks: DecisionView[];
}

async function loadOverview(): Promise<Overview> {
  const [sensors, day, blocks] = await Promise.all([
    get<Page<SensorView>>('/v1/sensors?limit=1000'),
    get<Page<IncidentView>>('/v1/incidents?since=24h&limit=1000'),
    get<Page<DecisionView>>('/v1/decisions?since=24h&limit=1000'),
  ]);
  return { sensors: sensors.items, active: day.items.filter((i) => i.open), dayIncidents: day.items, dayBlocks: blocks.items };
}

interface SiteHealth {
  site: string;
  sensors: number;
  running: number;
  maxLag: number;
  drops: number;
  active: number;
}

/** Each site's sensors summed up: how many run, the worst blocklist lag, queue drops, active incidents. */
function sites(sensors: readonly SensorView[], active: readonly IncidentView[]): SiteHealth[] {
  const bySite = new Map<string, SiteHealth>();
  const of = (site: string): SiteHealth => bySite.get(site) ?? bySite.set(site, { site, sensors: 0, running: 0, maxLag: 0, drops: 0, active: 0 }).get(site)!;
  for (const s of sensors) {
    const health = of(s.site);
    health.sensors += 1;
    if (s.state === 'running') health.running += 1;
    health.maxLag = Math.max(health.maxLag, s.blocklistLag);
    health.drops += s.queues.reduce((sum, q) => sum + q.queueDropped + q.userDropped, 0);
  }
  for (const i of active) of(i.site).active += 1;
  return [...bySite.values()].sort((a, b) => a.site.localeCompare(b.site));
}

function SiteTable({ items }: { items: readonly SiteHealth[] }) {
  return (
    <table class="grid" data-testid="site-table">
      <thead><tr><th>Site</th><th class="num">Sensors running</th><th class="num">Worst blocklist lag</th><th class="num">Queue drops</th><th class="num">Active incidents</th></tr></thead>
      <tbody>
        {items.map((s) => (
          <tr key={s.site}>
            <td><a href={href(['incidents'], { site: s.site })}>{s.site}</a></td>
            <td class={`num ${s.running < s.sensors ? 'warn' : ''}`}>{s.running} of {s.sensors}</td>
            <td class={`num ${s.maxLag > 0 ? 'warn' : ''}`}>{s.maxLag}</td>
            <td class={`num ${s.drops > 0 ? 'warn' : ''}`}>{s.drops}</td>
            <td class="num">{s.active}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Identified hosts per hour: each incident's host counted once, at its first evidence. */
export function Overview() {
  const { data, error } = useApi('overview', loadOverview, ['incident', 'decision']);
  const stale = data?.sensors.filter((s) => s.state !== 'running').length ?? 0;
  const [hours, blocks] = hourly(data?.dayBlocks.map((d) => d.created) ?? [], 24);
  const [, hosts] = hourly(data?.dayIncidents.map((i) => i.firstSeen) ?? [], 24);
  return (
    <div class="page">
      <h1>Overview</h1>
      <Err message={error} />
      {!data ? <Loading what="the overview" /> : (
        <>
          <div class="stats">
            <a class="stat" href={href(['sensors'])}><b>{data.sensors.length}</b> sensors{stale > 0 ? <span class="warn"> ({stale} not running)</span> : null}</a>
            <a class="stat" href={href(['incidents'])}><b data-testid="active-count">{data.active.length}</b> active incidents</a>
            <a class="stat" href={href(['decisions'])}><b>{data.dayBlocks.length}</b> blocks in 24 h</a>
            <span class="stat"><b>{new Set(data.dayIncidents.map((i) => `${i.site}/${i.host}`)).size}</b> hosts identified in 24 h</span>
          </div>
          <div class="two">
            <Section title="Blocks per hour (24 h)"><CountChart label="blocks" x={hours} y={blocks} color="#d64545" /></Section>
            <Section title="Identified hosts per hour (24 h)"><CountChart label="identified hosts" x={hours} y={hosts} color="#3d7bd9" /></Section>
          </div>
          <Section title="Sites"><SiteTable items={sites(data.sensors, data.active)} /></Section>
          <Section title="Sensors"><SensorTable items={data.sensors} /></Section>
          <Section title="Active incidents"><IncidentTable items={data.active} /></Section>
        </>
      )}
    </div>
  );
}
