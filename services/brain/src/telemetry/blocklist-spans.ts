import { originLabel } from '@p2pwall/common';
import { SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { p2pwall } from '@p2pwall/proto';
import type { BrainDecision } from '../decide/decision.js';
import { actionLabel, scopeLabel } from './labels.js';

/**
 * The writer's spans: "decision" around writing one decision (only decisions that go to Redis:
 * an upsert the writer's memory shows to change nothing makes no span), and "blocklist update"
 * around each Redis change script call below it. Both take the active context as parent, so
 * under an ingest span they join the sensor's trace; sweeps and API calls start traces of their own.
 */

function failed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Runs `write` inside an active span "decision"; its result ('written', 'skipped', 'kept') becomes an attribute. */
export function decisionSpan<T extends string>(tracer: Tracer, decision: BrainDecision, write: () => Promise<T>): Promise<T> {
  const attributes = {
    'p2pwall.decision.id': decision.id,
    'p2pwall.decision.origin': originLabel(decision.origin),
    'p2pwall.decision.scope': scopeLabel(decision.scope),
    'p2pwall.decision.action': actionLabel(decision.action),
  };
  return tracer.startActiveSpan('decision', { attributes }, async (span) => {
    try {
      const result = await write();
      span.setAttribute('p2pwall.decision.result', result);
      return result;
    } catch (error) {
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** What the change script answered: the new version, or why it wrote nothing. */
function changeResult(version: number): string {
  if (version === -1) return 'conflict';
  if (version === -2) return 'epoch_missing';
  return 'written';
}

/** Runs one change script call (`call` answers the new version, -1 or -2) inside a span "blocklist update". */
export async function blocklistUpdateSpan(tracer: Tracer, id: string, kind: p2pwall.v1.ChangeKind, call: () => Promise<number>): Promise<number> {
  const span = tracer.startSpan('blocklist update', {
    attributes: { 'p2pwall.decision.id': id, 'p2pwall.change.kind': kind === p2pwall.v1.ChangeKind.CHANGE_KIND_REMOVE ? 'remove' : 'upsert' },
  });
  try {
    const version = await call();
    span.setAttribute('p2pwall.change.result', changeResult(version));
    if (version > 0) span.setAttribute('p2pwall.blocklist.version', version);
    return version;
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}
