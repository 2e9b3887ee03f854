import { NfqQueue } from '@p2pwall/nfq';
import { DROP_PACKET, QueueOpenError, type BoundQueue, type PacketJudge, type QueueOptions } from './queue-binding.js';

/**
 * One NFQUEUE queue through the project's addon (@p2pwall/nfq, queue.binding: addon): a batch
 * per drain of the socket, each packet judged from the shared arena without a copy or an
 * allocation, all verdicts sent at once after the batch.
 */
export function openNfqAddon(queue: number, options: QueueOptions, judge: PacketJudge): BoundQueue {
  let nfq: NfqQueue;
  try {
    nfq = NfqQueue.open(queue, options, (count, q) => {
      const { arena, offsets, lengths, originalLengths, marks, verdicts, verdictMarks } = q;
      const now = Date.now();
      for (let i = 0; i < count; i++) {
        const answer = judge(arena, offsets[i]!, lengths[i]!, originalLengths[i]!, marks[i]!, now);
        if (answer === DROP_PACKET) {
          verdicts[i] = NfqQueue.DROP;
        } else {
          verdicts[i] = NfqQueue.REPEAT;
          verdictMarks[i] = answer;
        }
      }
    });
  } catch (error) {
    throw new QueueOpenError((error as Error).message);
  }
  return {
    queue,
    binding: 'addon',
    stats: () => nfq.stats(),
    close: () => {
      nfq.close();
      return true;
    },
  };
}

