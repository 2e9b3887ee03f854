import { enc, get, type IncidentView } from '../api.js';
import { bytes, clock } from '../format.js';
import { DecisionLink } from '../ui/decision-link.js';
import { Empty, Err, HostLink, Loading, PeerLink, Section, Tag, When } from '../ui/parts.js';
import { useApi } from '../ui/use-api.js';
import { ActivityTag, StateTag, WorkflowForm, WorkflowSteps } from '../ui/workflow.js';
import type { ComponentChildren } from 'preact';

interface Moment {
  at: string;
  what: ComponentChildren;
  kind: string;
}

/** The incident's story in time order: first evidence, the identifying packet, each sample flow, the last evidence. */
function timeline(i: IncidentView): Moment[] {
  const moments: Moment[] = [{ at: i.firstSeen, kind: 'first', what: <>First evidence at {i.gateways.join(', ') || 'its site'}</> }];
  if (i.identifiedBy) {
    const id = i.identifiedBy;
    moments.push({
      at: id.seen,
      kind: 'identified',
      what: (
        <>
          <b>Identified</b> by <span class="mono">{id.rule}</span>{id.detail ? <> ({id.detail})</> : null} at {id.gateway}: <span class="mono">{id.flow}</span>
          {id.packet > 0 ? <span class="muted"> packet #{id.packet}</span> : null}
        </>
      ),
    });
  }
  for (const s of i.samples ?? []) {
    moments.push({
      at: s.seen,
      kind: s.verdict,
      what: (
        <>
          {s.verdict === 'drop' ? <Tag kind="drop">dropped</Tag> : <Tag kind="accept">accepted</Tag>} {s.protocol} flow to <PeerLink peer={s.peer} /> <span class="mono">{s.rules.join(', ')}</span>
        </>
      ),
    });
  }
  moments.push({ at: i.lastSeen, kind: 'last', what: <>Last evidence{i.open ? ' (still open)' : ''}</> });
  return moments.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

export function Incident({ id }: { id: string }) {
  const path = `/v1/incidents/${enc(id)}`;
  const { data: i, error, reload } = useApi(path, () => get<IncidentView>(path), ['incident']);
  if (!i) return <div class="page"><h1>Incident</h1><Err message={error} />{error ? null : <Loading what="the incident" />}</div>;
  return (
    <div class="page">
      <h1>
        <Tag kind="proto">{i.protocol}</Tag> host <HostLink ip={i.host} site={i.site} /> <span data-testid="incident-state"><StateTag state={i.state} /></span> <ActivityTag open={i.open} />
      </h1>
      <p class="muted mono">{i.id}</p>
      <Err message={error} />
      <div class="stats">
        <span class="stat"><b>{i.peers.count}</b> peers</span>
        <span class="stat"><b>{i.attemptsBlocked}</b> attempts blocked{i.provisional ? ' (so far)' : ''}</span>
        <span class="stat"><b>{bytes(i.bytes)}</b></span>
        <span class="stat"><b>{i.decisionCount}</b> decisions</span>
        <span class="stat">site <b>{i.site}</b> · {i.gateways.join(', ')}</span>
      </div>
      <Section title="Workflow">
        {i.evidenceSinceClosed ? <p class="warn" data-testid="since-closed">New evidence since it was closed (last seen {clock(i.lastSeen)}): it stays closed; reopen it to work on it again.</p> : null}
        <WorkflowSteps steps={i.workflow} />
        <WorkflowForm incident={i} onDone={reload} />
      </Section>
      {i.identifiedBy ? (
        <Section title="First identifying evidence">
          <dl class="facts" data-testid="identified-by">
            <dt>Rule</dt><dd class="mono">{i.identifiedBy.rule}</dd>
            <dt>Detail</dt><dd>{i.identifiedBy.detail || '—'}</dd>
            <dt>Flow</dt><dd class="mono">{i.identifiedBy.flow}</dd>
            <dt>Seen</dt><dd>{clock(i.identifiedBy.seen)} at {i.identifiedBy.gateway}</dd>
          </dl>
        </Section>
      ) : null}
      <div class="two">
        <Section title="Evidence timeline">
          <ol class="timeline" data-testid="timeline">
            {timeline(i).map((m, n) => (
              <li key={n} class={`moment-${m.kind}`}><time title={clock(m.at)}>{clock(m.at)}</time> {m.what}</li>
            ))}
          </ol>
        </Section>
        <div>
          <Section title={`Peers (${i.peers.count})`}>
            {i.peers.sample.length === 0 ? <Empty>None recorded.</Empty> : <ul class="chips" data-testid="peers">{i.peers.sample.map((p) => <li key={p}><PeerLink peer={p} /></li>)}</ul>}
          </Section>
          <Section title="Rules that fired">
            <ul class="chips">{i.evidence.map((e) => <li key={e.rule}><span class="mono">{e.rule}</span> × {e.count}</li>)}</ul>
          </Section>
          <Section title={`Decisions (${i.decisionCount})`}>
            {i.decisions.length === 0 ? <Empty>None.</Empty> : <ul class="plain-list">{i.decisions.map((d) => <li key={d}><DecisionLink id={d} /></li>)}</ul>}
          </Section>
        </div>
      </div>
      <Section title="Sample flows">
        {(i.samples ?? []).length === 0 ? <Empty>No sample flows.</Empty> : (
          <table class="grid">
            <thead><tr><th>Seen</th><th>Gateway</th><th>Protocol</th><th>Peer</th><th>App</th><th>Rules</th><th>Verdict</th><th class="num">Packets out/in</th><th class="num">Bytes out/in</th></tr></thead>
            <tbody>
              {(i.samples ?? []).map((s, n) => (
                <tr key={n}>
                  <td><When iso={s.seen} /></td><td>{s.gateway}</td><td>{s.protocol}</td><td class="mono"><PeerLink peer={s.peer} /></td><td>{s.app || '—'}</td>
                  <td class="mono wrap">{s.rules.join(', ')}</td><td>{s.verdict}</td><td class="num">{s.packetsOut}/{s.packetsIn}</td><td class="num">{bytes(s.bytesOut)}/{bytes(s.bytesIn)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
