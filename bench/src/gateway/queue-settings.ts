/**
 * The kernel queue settings bench/gateway gives its consumers, so the C reference, the bare
 * addon and the sensor on the addon are compared on equal terms: the sensor's defaults for copy
 * range, queue length and socket buffer (services/sensor/src/config.ts, queue.*), the addon's
 * default batch (the sensor does not set it), all passed explicitly to each consumer rather than
 * trusted to match by default. The `nfqueue` binding cannot set them: whole packets, the
 * kernel's 1024, one packet a call.
 */

export type QueueBinding = 'addon' | 'nfqueue';

export const REFERENCE_QUEUE = {
  copyRange: 9216,
  maxLength: 16 * 1024,
  maxBatch: 256,
  socketBufferBytes: 64 * 1024 * 1024,
};

/**
 * The sensor's `queue` keys for a binding. `whenFull: drop` on the addon: with fail-open the
 * kernel accepts a full queue's packets and counts them nowhere (no queue_dropped, no id), so a
 * ladder could not see its first losses. The `nfqueue` binding cannot set the flag (nor the
 * queue length: 1024), so it gets only the binding.
 */
export function sensorQueueConfig(binding: QueueBinding): Record<string, unknown> {
  if (binding === 'nfqueue') return { binding };
  return { binding, whenFull: 'drop', copyRange: REFERENCE_QUEUE.copyRange, maxLength: REFERENCE_QUEUE.maxLength, socketBufferBytes: REFERENCE_QUEUE.socketBufferBytes };
}

/** The command-line flags the C reference and the bare addon consumer share for these settings (both never fail open, as above). */
export function referenceQueueArgs(queue: number): string[] {
  const q = REFERENCE_QUEUE;
  return ['--queue', String(queue), '--copy-range', String(q.copyRange), '--maxlen', String(q.maxLength), '--max-batch', String(q.maxBatch), '--buffer', String(q.socketBufferBytes)];
}
