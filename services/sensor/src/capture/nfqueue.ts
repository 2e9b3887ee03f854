import { createRequire } from 'node:module';
import { DROP_PACKET, QueueOpenError, type BoundQueue, type PacketJudge } from './queue-binding.js';

/** What the binding hands over per packet (a subset; the binding fills more). */
interface QueuedPacketInfo {
  id: number;
  len: number;
  nfmark: number;
}

interface BindingPacket {
  info: QueuedPacketInfo;
  payload: Buffer;
  setVerdict(verdict: number, mark?: number, buffer?: Buffer | null): void;
}

interface Binding {
  NF_DROP: number;
  NF_ACCEPT: number;
  NF_REPEAT: number;
  createQueueHandler(queue: number, socketBufferBytes: number, callback: (packet: BindingPacket) => void): unknown;
}

const NF_DROP = 0;
const NF_REPEAT = 4;

let binding: Binding | null = null;

function load(): Binding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)('nfqueue') as Binding;
  } catch (error) {
    throw new QueueOpenError(
      `the nfqueue binding is not built (${(error as Error).message.split('\n')[0]}); run scripts/setup, which installs libnetfilter-queue-dev and runs npm ci`,
    );
  }
  if (binding.NF_REPEAT !== NF_REPEAT || binding.NF_DROP !== NF_DROP) throw new QueueOpenError('unexpected nfqueue binding constants');
  return binding;
}

/**
 * One NFQUEUE queue through the npm `nfqueue` binding (queue.binding: nfqueue). It reads on the
 * main thread, one packet and one verdict syscall at a time, copies each whole packet into a
 * Buffer, leaves the kernel's queue length (1,024) and flags alone, and cannot be closed: the
 * queue is released when the process exits.
 */
export function openNfqueueBinding(queue: number, socketBufferBytes: number, judge: PacketJudge): BoundQueue {
  const nfqueue = load();
  try {
    nfqueue.createQueueHandler(queue, socketBufferBytes, (packet) => {
      const payload = packet.payload;
      const answer = judge(payload, 0, payload.length, packet.info.len, packet.info.nfmark, Date.now());
      if (answer === DROP_PACKET) packet.setVerdict(NF_DROP, 0);
      else packet.setVerdict(NF_REPEAT, answer);
    });
  } catch (error) {
    throw new QueueOpenError(
      `cannot bind NFQUEUE ${queue}: ${(error as Error).message}. Is another process bound to it, and are you root (CAP_NET_ADMIN)?`,
    );
  }
  return { queue, binding: 'nfqueue', stats: () => null, close: () => false };
}
