/**
 * The kernel queue settings bench/gateway gives its consumers, so the C reference and the addon
 * are compared on equal terms: the same copy range, queue length and batch size (the addon's
 * defaults, which the sensor uses too), the same socket buffer as the sensor's default.
 */

export type QueueBinding = 'addon' | 'nfqueue';

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
  return binding === 'addon' ? { binding, whenFull: 'drop' } : { binding };
}

/** The C reference's command line for the same settings (no fail-open, as above). */
export function cConsumerArgs(logFile: string, queue: number): string[] {
  const q = REFERENCE_QUEUE;
  return ['--log', logFile, '--queue', String(queue), '--copy-range', String(q.copyRange), '--maxlen', String(q.maxLength), '--max-batch', String(q.maxBatch), '--buffer', String(q.socketBufferBytes)];
}
