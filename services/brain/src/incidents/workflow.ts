/**
 * The operators' workflow of an incident (pure): open → acknowledged → closed, each step with a
 * note, who and when; reopen takes a closed or acknowledged incident back to open. The steps are
 * kept with the incident (store.ts: hash fields `wf:state` and `wf:log`), newest last, bounded.
 *
 * New evidence does not change the state: an incident closed while its episode goes on stays
 * closed, its counts and last seen keep growing, and its view says `evidenceSinceClosed`. A host
 * that comes back after the quiet time opens a new incident (state open), so nothing new hides
 * behind a close; an operator who wants the old one back reopens it.
 */

export const INCIDENT_STATES = ['open', 'acknowledged', 'closed'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const WORKFLOW_ACTIONS = ['acknowledge', 'close', 'reopen'] as const;
export type WorkflowAction = (typeof WORKFLOW_ACTIONS)[number];

/** Longest note, in characters. */
export const MAX_NOTE_LENGTH = 1000;
/** Steps kept per incident (the oldest go): bounds what one incident's hash holds. */
export const MAX_WORKFLOW_STEPS = 20;

export interface WorkflowStep {
  action: WorkflowAction;
  atMs: number;
  /** The role of the token that made the step (tokens have no names). */
  role: string;
  /** Who the caller says made it (the CLI sends the user name), as decisions' author. */
  author: string;
  note: string;
}

export interface Workflow {
  state: IncidentState;
  steps: WorkflowStep[];
}

export const NO_WORKFLOW: Workflow = { state: 'open', steps: [] };

const AFTER: Record<WorkflowAction, IncidentState> = { acknowledge: 'acknowledged', close: 'closed', reopen: 'open' };

/** Whether `action` may follow `state`; why not, for a 409, when it may not. */
export function transitionRefusal(state: IncidentState, action: WorkflowAction): string | undefined {
  if (action === 'acknowledge' && state !== 'open') return `the incident is ${state} already: only an open incident can be acknowledged`;
  if (action === 'close' && state === 'closed') return 'the incident is closed already';
  if (action === 'reopen' && state === 'open') return 'the incident is open already';
  return undefined;
}

/** Characters a note may not hold: controls (a note is one line of text) and bidirectional overrides. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Why a note is refused (for a 400), or undefined when it is fine. */
export function noteRefusal(note: string): string | undefined {
  if (note.trim() === '') return 'must say something: it is shown to whoever looks at the incident later';
  if (note.length > MAX_NOTE_LENGTH) return `must be at most ${MAX_NOTE_LENGTH} characters`;
  if (UNSAFE.test(note)) return 'must be one line without control characters';
  return undefined;
}

/** The workflow after `step`, or why the step cannot be taken. */
export function applyStep(current: Workflow, step: WorkflowStep): { workflow: Workflow } | { refused: string } {
  const refused = transitionRefusal(current.state, step.action);
  if (refused !== undefined) return { refused };
  return { workflow: { state: AFTER[step.action], steps: [...current.steps, step].slice(-MAX_WORKFLOW_STEPS) } };
}

const isState = (value: unknown): value is IncidentState => (INCIDENT_STATES as readonly unknown[]).includes(value);
const isAction = (value: unknown): value is WorkflowAction => (WORKFLOW_ACTIONS as readonly unknown[]).includes(value);

function isStep(value: unknown): value is WorkflowStep {
  const s = value as Partial<WorkflowStep> | null;
  return typeof s === 'object' && s !== null && isAction(s.action) && typeof s.atMs === 'number' && Number.isFinite(s.atMs) && typeof s.role === 'string' && typeof s.author === 'string' && typeof s.note === 'string';
}

/** The stored state field as the listing filters by it: anything but a known state is open, as parseWorkflow reads it. */
export const storedState = (state: string | null | undefined): IncidentState => (isState(state) ? state : 'open');

/** The stored fields back as a workflow; anything unreadable counts as no workflow (an open incident). */
export function parseWorkflow(state: string | null | undefined, log: string | null | undefined): Workflow {
  if (!isState(state) || !log) return NO_WORKFLOW;
  try {
    const steps = JSON.parse(log) as unknown;
    if (!Array.isArray(steps)) return NO_WORKFLOW;
    return { state, steps: steps.filter(isStep).slice(-MAX_WORKFLOW_STEPS) };
  } catch {
    return NO_WORKFLOW;
  }
}

/** When it was closed, if it is: the time of the last close step. */
export function closedAtMs(workflow: Workflow): number | undefined {
  if (workflow.state !== 'closed') return undefined;
  return workflow.steps.findLast((step) => step.action === 'close')?.atMs;
}
