import { openNfqAddon } from './nfq-addon.js';
import { openNfqueueBinding } from './nfqueue.js';
import type { BoundQueue, PacketJudge, QueueBindingName, QueueOptions } from './queue-binding.js';

/** Opens `queue` through the chosen binding (queue.binding). */
export function openQueue(binding: QueueBindingName, queue: number, options: QueueOptions, judge: PacketJudge): BoundQueue {
  return binding === 'addon' ? openNfqAddon(queue, options, judge) : openNfqueueBinding(queue, options.socketBufferBytes, judge);
}

/** The queue options the nfqueue binding cannot apply (it leaves the kernel's defaults), for a warning at start. */
export function optionsNfqueueIgnores(options: QueueOptions): string[] {
  return [`maxLength: ${options.maxLength} (stays 1024)`, `whenFull: ${options.whenFull} (stays drop)`, `copyRange: ${options.copyRange} (whole packets are copied)`, `gso: ${options.gso} (stays false)`];
}
