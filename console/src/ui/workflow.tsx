import { useState } from 'preact/hooks';
import { call, enc, type IncidentState, type IncidentView, type WorkflowAction, type WorkflowStepView } from '../api.js';
import { clock } from '../format.js';
import { OutcomeBox, type Outcome } from './notice.js';
import { Empty, Tag, When } from './parts.js';
import { useIsAdmin } from './role.js';

/**
 * The operators' workflow of an incident, as `p2pwall incidents ack|close|reopen` takes it: open →
 * acknowledged → closed, reopen back to open, each step with a note. The API says what a state
 * does not allow (409); the buttons offer only what it allows.
 */

/** Longest note the brain takes (incidents/workflow.ts MAX_NOTE_LENGTH). */
const MAX_NOTE = 1000;

const ALLOWED: Record<IncidentState, WorkflowAction[]> = {
  open: ['acknowledge', 'close'],
  acknowledged: ['close', 'reopen'],
  closed: ['reopen'],
};

const LABEL: Record<WorkflowAction, string> = { acknowledge: 'Acknowledge', close: 'Close', reopen: 'Reopen' };
const DONE: Record<WorkflowAction, string> = { acknowledge: 'acknowledged', close: 'closed', reopen: 'reopened' };

export const StateTag = ({ state }: { state: IncidentState }) => <Tag kind={`state-${state}`}>{state}</Tag>;

/** Whether evidence still comes (the episode's), beside the operators' state: `active` or `quiet`, as `incidents show` says. */
export const ActivityTag = ({ open }: { open: boolean }) => (open ? <Tag kind="active">active</Tag> : <Tag kind="quiet">quiet</Tag>);

export function WorkflowSteps({ steps }: { steps: readonly WorkflowStepView[] }) {
  if (steps.length === 0) return <Empty>No step yet: nobody has acknowledged or closed it.</Empty>;
  return (
    <table class="grid" data-testid="workflow-steps">
      <thead><tr><th>When</th><th>Step</th><th>By</th><th>Note</th></tr></thead>
      <tbody>
        {steps.map((s, n) => (
          <tr key={n} data-step={s.action}>
            <td><time title={clock(s.at)} dateTime={s.at}>{clock(s.at)}</time> <span class="muted">(<When iso={s.at} />)</span></td>
            <td>{s.action}</td>
            <td>{s.author} <span class="muted">({s.role})</span></td>
            <td class="wrap">{s.note}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A note and the steps the state allows (admin tokens only); the brain's refusal shown as it words it. */
export function WorkflowForm({ incident, onDone }: { incident: IncidentView; onDone: () => void }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  if (!useIsAdmin()) return null;
  const step = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    const action = (event.submitter as HTMLButtonElement | null)?.value as WorkflowAction | undefined;
    if (!action || busy) return;
    setBusy(true);
    try {
      const after = await call<IncidentView>('POST', `/v1/incidents/${enc(incident.id)}/${action}`, { note: note.trim(), author: 'console' });
      setOutcome({ ok: true, lines: [`${DONE[action]}: the incident is ${after.state}`] });
      setNote('');
      onDone();
    } catch (error) {
      setOutcome({ ok: false, lines: [`refused: ${error instanceof Error ? error.message : String(error)}`] });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="action-form workflow-form" onSubmit={step} data-testid="workflow-form">
      <label class="grow">
        Note
        <input name="note" value={note} onInput={(e) => setNote((e.target as HTMLInputElement).value)} placeholder="one line: what was done, who was told (shown with the incident)" maxLength={MAX_NOTE} required />
      </label>
      {ALLOWED[incident.state].map((action) => (
        <button key={action} type="submit" name="action" value={action} class={action === 'reopen' ? 'plain' : ''} disabled={busy}>{LABEL[action]}</button>
      ))}
      <OutcomeBox outcome={outcome} />
    </form>
  );
}
