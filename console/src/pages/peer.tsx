import { enc, get, type PeerView } from '../api.js';
import { AllowForm } from '../ui/admin.js';
import { AllowTable } from '../ui/allow-table.js';
import { Empty, Err, Loading, Section, SiteHost, Tag } from '../ui/parts.js';
import { DecisionTable, IncidentTable } from '../ui/tables.js';
import { useApi } from '../ui/use-api.js';

/** "Why is this blocked": the blocks that cover an outside address or endpoint, their evidence, the allow entries, who contacted it. */
export function Peer({ peer }: { peer: string }) {
  const path = `/v1/peers/${enc(peer)}`;
  const { data: p, error, reload } = useApi(path, () => get<PeerView>(path), ['decision', 'incident']);
  const scope = peer.includes(']:') || /^[^:]+:\d+$/.test(peer) ? 'endpoint' : 'ip';
  return (
    <div class="page">
      <h1>Peer <span class="mono">{peer}</span> {p ? (p.blocked ? <Tag kind="drop" >blocked</Tag> : <Tag kind="accept">not blocked</Tag>) : null}</h1>
      <Err message={error} />
      {!p ? (error ? null : <Loading what="the peer" />) : (
        <>
          <p class="lead" data-testid="peer-verdict">
            {p.blocked ? `Blocked by ${p.decisions.filter((d) => !d.simulated).length} decision(s) below.` : p.allowed.length > 0 ? 'Allowed: an allow entry lets it through.' : p.decisions.length > 0 ? 'Decisions exist but none is enforced for what was asked.' : 'No decision covers it.'}
            {p.blockedPorts.length > 0 ? ` Ports blocked on their own: ${p.blockedPorts.join(', ')}.` : ''}
          </p>
          <Section title="Why: block decisions and their evidence"><DecisionTable items={p.decisions} /></Section>
          <Section title="Allow entries"><AllowTable items={p.allowed} onChange={reload} /><AllowForm scope={scope} value={peer} onDone={reload} /></Section>
          <div class="two">
            <Section title="Inside hosts that contacted it">{p.hosts.length === 0 ? <Empty>None known.</Empty> : <ul class="chips">{p.hosts.map((h) => <li key={h}><SiteHost text={h} /></li>)}</ul>}</Section>
            <Section title="Sites">{p.sites.length === 0 ? <Empty>None.</Empty> : <ul class="chips">{p.sites.map((s) => <li key={s}>{s}</li>)}</ul>}</Section>
          </div>
          <Section title="Incidents with this peer"><IncidentTable items={p.incidents} /></Section>
        </>
      )}
    </div>
  );
}
