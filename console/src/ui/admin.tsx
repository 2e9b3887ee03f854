import { useState } from 'preact/hooks';
import { call, enc, type AllowView, type DecisionView } from '../api.js';
import { notify, OutcomeBox, type Outcome } from './notice.js';
import { useIsAdmin } from './role.js';

/**
 * The admin's changes, as the CLI makes them (`p2pwall allow add|delete`, `p2pwall decisions
 * add|delete`): the same API calls, so the same refusals (shown as the brain words them), and
 * the same aftermath told: warnings, blocks suspended or restored.
 */

async function attempt(run: () => Promise<string[]>): Promise<Outcome> {
  try {
    return { ok: true, lines: await run() };
  } catch (error) {
    return { ok: false, lines: [`refused: ${error instanceof Error ? error.message : String(error)}`] };
  }
}

type Field = 'scope' | 'value' | 'site' | 'reason' | 'expires' | 'transport';

function useForm(initial: Record<Field, string>) {
  const [values, setValues] = useState(initial);
  const bind = (field: Field) => ({ name: field, value: values[field], onInput: (e: Event) => setValues({ ...values, [field]: (e.target as HTMLInputElement).value }) });
  return { values, bind };
}

const body = (values: Record<Field, string>, extra: Record<string, unknown> = {}): Record<string, unknown> => {
  const out: Record<string, unknown> = { scope: values.scope, value: values.value.trim(), reason: values.reason.trim(), author: 'console', ...extra };
  if (values.site.trim() !== '') out['site'] = values.site.trim();
  if (values.expires.trim() !== '') out['expires'] = values.expires.trim();
  return out;
};

/** Allow a host (with its site), an address or an endpoint: it lifts the blocks it covers at once. */
export function AllowForm({ scope = 'endpoint', value = '', site = '', onDone }: { scope?: string; value?: string; site?: string; onDone: () => void }) {
  const { values, bind } = useForm({ scope, value, site, reason: '', expires: '', transport: '' });
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  if (!useIsAdmin()) return null;
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setOutcome(
      await attempt(async () => {
        const entry = await call<AllowView & { warnings?: string[]; suspended?: string[]; throughNetworks?: string[] }>('POST', '/v1/allowlist', body(values));
        const suspended = entry.suspended ?? [];
        const networks = entry.throughNetworks ?? [];
        return [
          `allowed: ${entry.id}`,
          suspended.length > 0 ? `suspends ${suspended.join(', ')} (back when this entry is deleted or expires)` : 'suspends no block',
          ...(networks.length > 0 ? [`lets it through ${networks.join(', ')} (the rest of each network stays blocked)`] : []),
          ...(entry.warnings ?? []).map((w) => `warning: ${w}`),
        ];
      }),
    );
    onDone();
  };
  return (
    <form class="action-form" onSubmit={submit} data-testid="allow-form">
      <label>Scope<select {...bind('scope')}><option value="endpoint">endpoint (ip:port)</option><option value="ip">ip (outside address)</option><option value="host">host (inside, at a site)</option></select></label>
      <label>Value<input {...bind('value')} placeholder="ip or ip:port" required /></label>
      <label>Site<input {...bind('site')} placeholder="host only" /></label>
      <label class="grow">Reason<input {...bind('reason')} placeholder="why (shown to whoever asks later)" required /></label>
      <label>Expires<input {...bind('expires')} placeholder="never, 24h, 7d" /></label>
      <button type="submit">Allow</button>
      <OutcomeBox outcome={outcome} />
    </form>
  );
}

/** A manual block of an outside endpoint, address or network, or a lock of an inside host at one site. */
export function BlockForm({ onDone }: { onDone: () => void }) {
  const { values, bind } = useForm({ scope: 'endpoint', value: '', site: '', reason: '', expires: '', transport: 'both' });
  const [force, setForce] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  if (!useIsAdmin()) return null;
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setOutcome(
      await attempt(async () => {
        const extra: Record<string, unknown> = values.scope === 'host' ? {} : { transport: values.transport };
        if (force) extra['force'] = true;
        const decision = await call<DecisionView & { warnings?: string[] }>('POST', '/v1/decisions', body(values, extra));
        return [`added: ${decision.id} (expires ${decision.expires ?? 'never'})`, ...(decision.warnings ?? []).map((w) => `warning: ${w}`)];
      }),
    );
    onDone();
  };
  return (
    <form class="action-form" onSubmit={submit} data-testid="block-form">
      <label>Scope<select {...bind('scope')}><option value="endpoint">endpoint (ip:port)</option><option value="ip">ip (outside address)</option><option value="network">network (net/len)</option><option value="host">host (inside, at a site)</option></select></label>
      <label>Value<input {...bind('value')} placeholder="ip, ip:port or net/len" required /></label>
      <label>Site<input {...bind('site')} placeholder="host: required" /></label>
      <label>Transport<select {...bind('transport')}><option value="both">both</option><option value="tcp">tcp</option><option value="udp">udp</option></select></label>
      <label class="grow">Reason<input {...bind('reason')} placeholder="why (shown to whoever asks later)" required /></label>
      <label>Expires<input {...bind('expires')} placeholder="30d default, never" /></label>
      <label class="check"><input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} />force (inside address as a peer)</label>
      <button type="submit" class="danger">Block</button>
      <OutcomeBox outcome={outcome} />
    </form>
  );
}

/** Delete an allow entry (its suspended blocks come back) or a decision (unblock), after the person confirms. */
export function DeleteButton({ kind, id, onDone }: { kind: 'allow' | 'decision'; id: string; onDone: () => void }) {
  if (!useIsAdmin()) return null;
  const question = kind === 'allow' ? `Delete allow entry ${id}? The blocks it suspended come back, and the brain may block again what it finds.` : `Delete ${id} (unblock)? Sensors drop it from their sets.`;
  const remove = async (): Promise<void> => {
    if (!window.confirm(question)) return;
    notify(
      await attempt(async () => {
        if (kind === 'allow') {
          const answer = await call<{ removed?: AllowView; restored?: string[] }>('DELETE', `/v1/allowlist/${enc(id)}`);
          const restored = answer.restored ?? [];
          return [`removed ${answer.removed?.id ?? id}`, ...(restored.length > 0 ? [`restored ${restored.join(', ')}`] : [])];
        }
        const answer = await call<{ removed?: DecisionView }>('DELETE', `/v1/decisions/${enc(id)}`);
        return [`removed ${answer.removed?.id ?? id}`];
      }),
    );
    onDone();
  };
  return <button type="button" class="danger small" onClick={remove} data-delete={id}>Delete</button>;
}
