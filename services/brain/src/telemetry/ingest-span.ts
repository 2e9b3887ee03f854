import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { extractContext } from '@p2pwall/common';
import type { JsMsg } from '@nats-io/jetstream';

/**
 * Runs the processing of one summary batch inside a span "summaries ingest", parented on the
 * sensor's "summaries publish" span named by the message's `traceparent` header (a message
 * without one starts a trace of its own). The span is the active context while `work` runs, so
 * the decision and blocklist spans the writer makes below it join the same trace.
 */
export function ingestSpan<T extends string>(tracer: Tracer, msg: Pick<JsMsg, 'subject' | 'seq' | 'redelivered' | 'headers'>, work: () => Promise<T>): Promise<T> {
  const parent = extractContext((name) => msg.headers?.get(name));
  const msgId = msg.headers?.get('Nats-Msg-Id') ?? '';
  const attributes = {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': msg.subject,
    'messaging.nats.stream.sequence': msg.seq,
    'p2pwall.message.redelivered': msg.redelivered,
    ...(msgId === '' ? {} : { 'messaging.message.id': msgId }),
  };
  return tracer.startActiveSpan('summaries ingest', { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
    try {
      const outcome = await work();
      span.setAttribute('p2pwall.ingest.outcome', outcome);
      return outcome;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
