import type { Redis } from 'ioredis';
import { applyStep, parseWorkflow, type Workflow, type WorkflowStep } from './workflow.js';

/**
 * Writes a workflow step into the incident's hash (`wf:state`, `wf:log`). The step is worked out
 * in TypeScript (workflow.ts) from what was read, then written by a compare-and-set script that
 * writes only when the log is still what was read and the incident still exists: two operators
 * (or two brain replicas) closing the same incident at once never lose a step, and a step never
 * brings back an incident that expired or was evicted meanwhile.
 */

const STEP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local log = redis.call('HGET', KEYS[1], 'wf:log')
if not log then log = '' end
if log ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'wf:state', ARGV[2], 'wf:log', ARGV[3])
return 1`;

interface StepCommand {
  p2pwallIncidentStep(key: string, expectedLog: string, state: string, log: string): Promise<number>;
}

/** Tries this many times when another step got in between. */
const ATTEMPTS = 5;

export type StepResult = { workflow: Workflow } | { refused: string } | { missing: true };

/** Takes `step` on the incident stored at `key`. */
export async function recordStep(redis: Redis, key: string, step: WorkflowStep): Promise<StepResult> {
  if (!('p2pwallIncidentStep' in redis)) redis.defineCommand('p2pwallIncidentStep', { numberOfKeys: 1, lua: STEP_SCRIPT });
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const [state, log] = await redis.hmget(key, 'wf:state', 'wf:log');
    const next = applyStep(parseWorkflow(state, log), step);
    if ('refused' in next) return next;
    const written = await (redis as unknown as StepCommand).p2pwallIncidentStep(key, log ?? '', next.workflow.state, JSON.stringify(next.workflow.steps));
    if (written === -1) return { missing: true };
    if (written === 1) return next;
  }
  return { refused: 'the incident changed under this request several times: try again' };
}
