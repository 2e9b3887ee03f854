import type { FastifyInstance } from 'fastify';
import { noteRefusal, WORKFLOW_ACTIONS, type WorkflowAction } from '../../incidents/workflow.js';
import type { ApiContext } from '../context.js';
import { ApiError, badInput, notFound } from '../errors.js';
import { errorSchema, incidentSchema, v1Errors, workflowBody } from '../schemas.js';

/**
 * POST /v1/incidents/:id/acknowledge, /close and /reopen (admin): the operators' workflow
 * (incidents/workflow.ts). Each takes a note; the answer is the incident as it is now. A step the
 * state does not allow (closing a closed incident, ...) is a 409 that says why.
 */

interface StepBody {
  note: string;
  author?: string;
}

const security = [{ bearer: [] }];
const params = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] };

const SUMMARIES: Record<WorkflowAction, string> = {
  acknowledge: 'Acknowledge an open incident with a note (admin)',
  close: 'Close an incident with a note (admin); new evidence within its episode leaves it closed and sets evidenceSinceClosed',
  reopen: 'Reopen an acknowledged or closed incident with a note (admin)',
};

export function incidentWorkflowRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const action of WORKFLOW_ACTIONS) {
    app.post<{ Params: { id: string }; Body: StepBody }>(
      `/incidents/:id/${action}`,
      { config: { role: 'admin' }, schema: { tags: ['incidents'], summary: SUMMARIES[action], security, params, body: workflowBody, response: { 200: incidentSchema, 404: errorSchema, 409: errorSchema, ...v1Errors } } },
      async (request) => {
        const { note, author } = request.body;
        const refusal = noteRefusal(note);
        if (refusal !== undefined) throw badInput('body/note', refusal);
        const authorRefusal = author === undefined ? undefined : noteRefusal(author);
        if (authorRefusal !== undefined) throw badInput('body/author', authorRefusal);
        // Tokens have no names: the role says who may have taken the step, the author who says so.
        const result = await ctx.deps.incidents.step(request.params.id, { action, atMs: ctx.now(), role: 'admin', author: author ?? 'admin', note });
        if (!result) throw notFound(`no incident ${request.params.id}`);
        if ('refused' in result) throw new ApiError(409, result.refused);
        request.log.info({ id: request.params.id, action, author: author ?? 'admin' }, 'incident workflow step');
        return result.incident;
      },
    );
  }
}
