/**
 * The kernel queue settings bench/gateway gives its consumers, so the C reference, the bare
 * addon and the sensor on the addon are compared on equal terms: the same copy range (the
 * addon's default), queue length, batch size (the addon's default) and socket buffer (the
 * sensor's default), all passed explicitly rather than trusted to match by default.
 */

export type QueueBinding = 'addon' | 'nfqueue';

/** maxLength: the kernel's 1024 lets any stall of 1024 / rate lose packets; the nfqueue binding cannot change it. */
export const REFERENCE_QUEUE = {
  copyRange: 4096,
  maxLength: 8192,
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
