import { createRequire } from 'node:module';

/** What the binding hands over per packet (a subset; the binding fills more). */
export interface QueuedPacketInfo {
  id: number;
  len: number;
  nfmark: number;
  indev_name?: string;
  outdev_name?: string;
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

export class QueueOpenError extends Error {}

/**
 * One NFQUEUE queue through the `nfqueue` binding. The binding reads on the main thread, copies
 * each packet into a Buffer and cannot be closed: the queue is released when the process exits.
 */
export class NfQueue {
  private static binding: Binding | null = null;

  /** Accept: the packet re-enters the hook carrying `mark` (so the rules can tell it was judged). */
  static readonly REPEAT = 4;
  static readonly DROP = 0;

  private constructor(readonly queue: number) {}

  /**
   * Binds the queue. `onPacket` must answer every packet through its `verdict` callback,
   * synchronously or later; an unanswered packet stays queued in the kernel.
   */
  static open(queue: number, socketBufferBytes: number, onPacket: (payload: Buffer, info: QueuedPacketInfo, verdict: (verdict: number, mark: number) => void) => void): NfQueue {
    const binding = NfQueue.load();
    try {
      binding.createQueueHandler(queue, socketBufferBytes, (packet) => {
        onPacket(packet.payload, packet.info, (verdict, mark) => packet.setVerdict(verdict, mark));
      });
    } catch (error) {
      throw new QueueOpenError(
        `cannot bind NFQUEUE ${queue}: ${(error as Error).message}. Is another process bound to it, and are you root (CAP_NET_ADMIN)?`,
      );
    }
    return new NfQueue(queue);
  }

  private static load(): Binding {
    if (NfQueue.binding) return NfQueue.binding;
    try {
      NfQueue.binding = createRequire(import.meta.url)('nfqueue') as Binding;
    } catch (error) {
      throw new QueueOpenError(
        `the nfqueue binding is not built (${(error as Error).message.split('\n')[0]}); run scripts/setup, which installs libnetfilter-queue-dev and runs npm ci`,
      );
    }
    if (NfQueue.binding.NF_REPEAT !== NfQueue.REPEAT || NfQueue.binding.NF_DROP !== NfQueue.DROP) throw new QueueOpenError('unexpected nfqueue binding constants');
    return NfQueue.binding;
  }
}
