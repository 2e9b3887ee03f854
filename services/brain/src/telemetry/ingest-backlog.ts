import type { Consumer } from '@nats-io/jetstream';
import { within } from './bounded-read.js';

/** The shared consumer's backlog: what the brains have not yet taken, and what they hold unacknowledged. */
export interface IngestBacklog {
  /** Messages in the stream not yet delivered to any brain replica (num_pending). */
  pending: number;
  /** Messages delivered and not yet acknowledged (num_ack_pending): in flight, or waiting to be redelivered. */
  unacknowledged: number;
}

/**
 * One consumer info request for a scrape (the durable consumer all replicas share, so every replica
 * reports the same backlog). undefined when NATS does not answer within timeoutMs: a scrape never
 * waits for a reconnect.
 */
export function readIngestBacklog(consumer: Pick<Consumer, 'info'>, timeoutMs: number): Promise<IngestBacklog | undefined> {
  return within(timeoutMs, async () => {
    const info = await consumer.info(false);
    return { pending: info.num_pending, unacknowledged: info.num_ack_pending };
  });
}
