import type { DecisionView, IncidentView, SensorView } from '../api.js';
import { bytes } from '../format.js';
import { DecisionTarget, Empty, IncidentLink, HostLink, Tag, When } from './parts.js';
import { ActivityTag, StateTag } from './workflow.js';
import type { ComponentChildren } from 'preact';

/** The lists several pages show: incidents, decisions, sensors. */

export function IncidentTable({ items }: { items: readonly IncidentView[] }) {
  if (items.length === 0) return <Empty>No incidents.</Empty>;
  return (
    <table class="grid" data-testid="incident-table">
      <thead>
        <tr><th>Host</th><th>Protocol</th><th>State</th><th>Activity</th><th>First seen</th><th>Last seen</th><th class="num">Peers</th><th class="num">Blocked</th><th class="num">Bytes</th><th>Identified by</th><th /></tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.id} data-incident={i.id}>
            <td><HostLink ip={i.host} site={i.site} /></td>
            <td><Tag kind="proto">{i.protocol}</Tag></td>
            <td data-state={i.state}><StateTag state={i.state} />{i.evidenceSinceClosed ? <span class="warn" title="new evidence since it was closed"> +new</span> : null}</td>
            <td><ActivityTag open={i.open} /></td>
            <td><When iso={i.firstSeen} /></td>
            <td><When iso={i.lastSeen} /></td>
            <td class="num">{i.peers.count}</td>
            <td class="num">{i.attemptsBlocked}</td>
            <td class="num">{bytes(i.bytes)}</td>
            <td class="mono">{i.identifiedBy?.rule ?? '—'}</td>
            <td><IncidentLink id={i.id}>details</IncidentLink></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DecisionTable({ items, action }: { items: readonly DecisionView[]; action?: (d: DecisionView) => ComponentChildren }) {
  if (items.length === 0) return <Empty>No decisions.</Empty>;
  return (
    <table class="grid" data-testid="decision-table">
      <thead>
        <tr><th>Target</th><th>Scope</th><th>Site</th><th>Origin</th><th>Reason</th><th>Evidence</th><th>Created</th><th>Expires</th>{action ? <th /> : null}</tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id} data-decision={d.id}>
            <td class="mono"><DecisionTarget id={d.id} value={d.value} scope={d.scope} site={d.site} />{d.transport !== 'both' ? ` (${d.transport})` : ''}{d.simulated ? <Tag kind="sim">simulated</Tag> : null}</td>
            <td>{d.scope}</td>
            <td>{d.site === '' ? 'every site' : d.site}</td>
            <td>{d.origin}</td>
            <td class="wrap">{d.reason}</td>
            <td class="mono wrap">{d.evidence.rules.join(', ') || '—'}{d.evidence.count > 0 ? ` (${d.evidence.count})` : ''}</td>
            <td><When iso={d.created} /></td>
            <td>{d.expires === null ? 'never' : <When iso={d.expires} />}</td>
            {action ? <td>{action(d)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SensorTable({ items, action }: { items: readonly SensorView[]; action?: (s: SensorView) => ComponentChildren }) {
  if (items.length === 0) return <Empty>No sensor has reported yet.</Empty>;
  return (
    <table class="grid" data-testid="sensor-table">
      <thead>
        <tr><th>Sensor</th><th>State</th><th>Mode</th><th>Version</th><th>Last heartbeat</th><th class="num">Blocklist lag</th><th class="num">Queue drops</th><th class="num">Packets</th><th class="num">Flows</th><th class="num">Clients</th>{action ? <th /> : null}</tr>
      </thead>
      <tbody>
        {items.map((s) => {
          const drops = s.queues.reduce((sum, q) => sum + q.queueDropped + q.userDropped, 0);
          return (
            <tr key={s.name} data-sensor={s.name}>
              <td class="mono">{s.name}</td>
              <td><Tag kind={s.state}>{s.state}</Tag></td>
              <td>{s.mode}</td>
              <td>{s.version}</td>
              <td><When iso={s.lastHeartbeat} /></td>
              <td class={`num ${s.blocklistLag > 0 ? 'warn' : ''}`}>{s.blocklistLag}</td>
              <td class={`num ${drops > 0 ? 'warn' : ''}`}>{drops}</td>
              <td class="num">{s.packets}</td>
              <td class="num">{s.flows}</td>
              <td class="num">{s.clients}</td>
              {action ? <td>{action(s)}</td> : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
