import { describe, expect, it } from 'vitest';
import { csvCell, csvDocument } from '../../src/api/csv.js';
import { applyStep, closedAtMs, MAX_NOTE_LENGTH, MAX_WORKFLOW_STEPS, NO_WORKFLOW, noteRefusal, parseWorkflow, storedState, type Workflow, type WorkflowAction } from '../../src/incidents/workflow.js';
import { parseCsv } from './csv-parse.js';

/** The incident workflow's transitions and notes, and the CSV cells, without Redis. */

const step = (action: WorkflowAction, atMs = 1000, note = 'n') => ({ action, atMs, role: 'admin', author: 'ops', note });

function take(workflow: Workflow, action: WorkflowAction, atMs?: number): Workflow {
  const next = applyStep(workflow, step(action, atMs));
  if ('refused' in next) throw new Error(next.refused);
  return next.workflow;
}

describe('incident workflow (pure)', () => {
  it('goes open → acknowledged → closed → open, and refuses the steps the state does not allow', () => {
    const acked = take(NO_WORKFLOW, 'acknowledge');
    expect(acked.state).toBe('acknowledged');
    const closed = take(acked, 'close', 2000);
    expect(closed).toMatchObject({ state: 'closed', steps: [{ action: 'acknowledge' }, { action: 'close', atMs: 2000 }] });
    expect(closedAtMs(closed)).toBe(2000);
    expect(take(NO_WORKFLOW, 'close').state).toBe('closed');
    expect(take(closed, 'reopen').state).toBe('open');
    expect(closedAtMs(take(closed, 'reopen'))).toBeUndefined();
    expect(applyStep(acked, step('acknowledge'))).toEqual({ refused: expect.stringContaining('acknowledged already') });
    expect(applyStep(closed, step('acknowledge'))).toEqual({ refused: expect.stringContaining('closed already') });
    expect(applyStep(closed, step('close'))).toEqual({ refused: 'the incident is closed already' });
    expect(applyStep(NO_WORKFLOW, step('reopen'))).toEqual({ refused: 'the incident is open already' });
  });

  it('keeps the newest steps only', () => {
    let w: Workflow = NO_WORKFLOW;
    for (let i = 0; i < MAX_WORKFLOW_STEPS + 5; i++) w = take(take(w, 'close', i * 2), 'reopen', i * 2 + 1);
    expect(w.steps).toHaveLength(MAX_WORKFLOW_STEPS);
    expect(w.steps.at(-1)!.atMs).toBe((MAX_WORKFLOW_STEPS + 4) * 2 + 1);
  });

  it('refuses empty, overlong and multi-line notes', () => {
    expect(noteRefusal('user told to uninstall Kazaa')).toBeUndefined();
    expect(noteRefusal('   ')).toMatch(/must say something/);
    expect(noteRefusal('x'.repeat(MAX_NOTE_LENGTH))).toBeUndefined();
    expect(noteRefusal('x'.repeat(MAX_NOTE_LENGTH + 1))).toMatch(/at most 1000/);
    expect(noteRefusal('a\nb')).toMatch(/one line/);
    expect(noteRefusal('a\u001b[2Jb')).toMatch(/control/);
    expect(noteRefusal('a\u202eb')).toMatch(/control/);
  });

  it('reads damaged stored fields as no workflow, and drops damaged steps', () => {
    expect(parseWorkflow(null, null)).toEqual(NO_WORKFLOW);
    expect(parseWorkflow('weird', '[]')).toEqual(NO_WORKFLOW);
    expect(parseWorkflow('closed', '{not json')).toEqual(NO_WORKFLOW);
    expect(parseWorkflow('closed', '{}')).toEqual(NO_WORKFLOW);
    expect(parseWorkflow('closed', JSON.stringify([step('close'), { action: 'explode' }, null]))).toEqual({ state: 'closed', steps: [step('close')] });
    // the listing's filter reads the state field the same way
    expect([storedState(null), storedState('weird'), storedState('closed'), storedState('acknowledged')]).toEqual(['open', 'open', 'closed', 'acknowledged']);
  });
});

describe('CSV cells', () => {
  it('quotes as RFC 4180 says and defuses spreadsheet formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(true)).toBe('true');
    expect(csvCell(null)).toBe('');
    for (const formula of ['=1+1', '+1', '-1', '@SUM(A1)', '=HYPERLINK("http://x","y")']) expect(csvCell(formula).replace(/^"/, '')).toMatch(/^'/);
    expect(csvCell('=cmd|" /C calc"!A0')).toBe('"\'=cmd|"" /C calc""!A0"');
    // control characters become visible escapes: a record stays one line
    expect(csvCell('a\r\nb\u001b')).toBe('a\\x0d\\x0ab\\x1b');
  });

  it('writes a document a strict reader takes back cell for cell', () => {
    const rows = [['a,b', 'q"uote', '=2*3', '-x', 'ok'], ['', 'x y', '@at', "it's", 'ünïcode']];
    const text = csvDocument(['c1', 'c2', 'c3', 'c4', 'c5'], rows);
    expect(text.split('\r\n')).toHaveLength(4);
    expect(parseCsv(text)).toEqual([['c1', 'c2', 'c3', 'c4', 'c5'], ['a,b', 'q"uote', "'=2*3", "'-x", 'ok'], ['', 'x y', "'@at", "it's", 'ünïcode']]);
  });
});
