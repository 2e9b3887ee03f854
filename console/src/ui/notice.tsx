import { useEffect, useState } from 'preact/hooks';

/**
 * What the last admin change did, shown under the top bar: a deleted row is gone from its table
 * by the time the answer comes, so its outcome (what was restored) cannot live in the row.
 */

export interface Outcome {
  ok: boolean;
  lines: string[];
}

const listeners = new Set<(outcome: Outcome | undefined) => void>();

export function notify(outcome: Outcome | undefined): void {
  for (const listener of listeners) listener(outcome);
}

export function OutcomeBox({ outcome, onClose }: { outcome: Outcome | undefined; onClose?: () => void }) {
  if (!outcome) return null;
  return (
    <div class={outcome.ok ? 'notice' : 'error'} role={outcome.ok ? 'status' : 'alert'} data-testid="outcome">
      {outcome.lines.map((line, n) => <p key={n}>{line}</p>)}
      {onClose ? <button type="button" class="plain small" onClick={onClose}>Dismiss</button> : null}
    </div>
  );
}

export function Notice() {
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  useEffect(() => {
    listeners.add(setOutcome);
    // another page: the notice was about the last one
    const moved = (): void => setOutcome(undefined);
    window.addEventListener('hashchange', moved);
    return () => {
      listeners.delete(setOutcome);
      window.removeEventListener('hashchange', moved);
    };
  }, []);
  return <div class="page-notice" data-testid="notice"><OutcomeBox outcome={outcome} onClose={() => setOutcome(undefined)} /></div>;
}
