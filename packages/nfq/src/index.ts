import { loadAddon, type NativeAddon } from './native.js';
import { explainOpenError } from './open-error.js';

export { NfqOpenError } from './open-error.js';
export { NfqAddonMissingError } from './native.js';

export interface NfqOptions {
  /** Bytes of each packet copied to userspace (1..65531); the rest stays in the kernel. Default 4096. */
  copyRange?: number;
  /** The kernel queue's length in packets (NFQA_CFG_QUEUE_MAXLEN); the kernel's default is 1024. */
  maxLength?: number;
  /** What the kernel does with a packet when the queue is full: accept it unjudged (NFQA_CFG_F_FAIL_OPEN) or drop it (the kernel's default). */
  whenFull?: 'accept' | 'drop';
  /** Queue GSO packets whole instead of segmenting them first (NFQA_CFG_F_GSO). Default false. */
  gso?: boolean;
  /** Receive buffer of the netlink socket (SO_RCVBUFFORCE, else SO_RCVBUF capped by rmem_max). 0 keeps the system default. */
  socketBufferBytes?: number;
  /** Most packets handed over in one call (1..65536). Default 256. */
  maxBatch?: number;
  /** The verdict for a packet the callback left unanswered (or when it threw). Default accept. */
  defaultVerdict?: 'accept' | 'drop';
}

export interface NfqStats {
  /** Packets read from the socket. */
  packets: number;
  /** Calls of onBatch. */
  batches: number;
  largestBatch: number;
  /** Reads that found the socket buffer had overrun: the kernel lost packets (counted by it as user_dropped). */
  enobufs: number;
  /** Other failed reads or unparsable messages. */
  receiveErrors: number;
  /** Packets whose verdict could not be sent (they stay queued until close, when the kernel drops them). */
  verdictSendErrors: number;
  /** Error answers of the kernel to verdicts (e.g. an unknown id); lastVerdictErrno says which. */
  verdictErrors: number;
  lastVerdictErrno: number;
  /** Packets the callback left without a valid verdict: they got the default verdict. */
  unanswered: number;
  /** Packets longer than copyRange: only their first copyRange bytes were seen. */
  truncated: number;
  /** onBatch threw (the exception is then rethrown as an uncaught exception). */
  callbackErrors: number;
}

/**
 * Called once per batch with `count` packets. Packet i's bytes are
 * `queue.arena[queue.offsets[i] .. queue.offsets[i] + queue.lengths[i]]` (valid only during the
 * call); answer it by writing `queue.verdicts[i]` (NfqQueue.DROP, ACCEPT or REPEAT) and
 * `queue.verdictMarks[i]` (the packet's mark after the verdict; preset to its current mark).
 */
export type BatchHandler = (count: number, queue: NfqQueue) => void;

const DEFAULTS = { copyRange: 4096, maxLength: 0, whenFull: 'drop', gso: false, socketBufferBytes: 0, maxBatch: 256, defaultVerdict: 'accept' } as const;

function checkedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`@p2pwall/nfq: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

/**
 * One NFQUEUE queue, read in batches: one JavaScript call per drain of the socket, packet bytes
 * as offsets into one reused arena, every verdict sent in one message right after the call.
 * The typed arrays below are created once and reused for every batch.
 */
export class NfqQueue {
  static readonly DROP = 0;
  static readonly ACCEPT = 1;
  /** Accept, but the packet re-enters the hook (with the verdict's mark) instead of leaving it. */
  static readonly REPEAT = 4;

  readonly arena: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** The packet's length in the kernel; larger than lengths[i] when copyRange cut it. */
  readonly originalLengths: Uint32Array;
  readonly marks: Uint32Array;
  readonly ids: Uint32Array;
  /** The link-layer protocol (ethertype: 0x0800 IPv4, 0x86dd IPv6). */
  readonly hwProtocols: Uint32Array;
  readonly verdicts: Uint32Array;
  readonly verdictMarks: Uint32Array;
  private closed = false;

  private constructor(
    readonly queue: number,
    private readonly addon: NativeAddon,
    private readonly handle: object,
    arena: Buffer,
    slots: ArrayBuffer,
    maxBatch: number,
  ) {
    this.arena = arena;
    const view = (index: number) => new Uint32Array(slots, index * maxBatch * 4, maxBatch);
    [this.offsets, this.lengths, this.originalLengths, this.marks, this.ids, this.hwProtocols, this.verdicts, this.verdictMarks] = [0, 1, 2, 3, 4, 5, 6, 7].map(view) as [
      Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
    ];
    if (addon.SLOT_ARRAYS !== 8) throw new Error(`@p2pwall/nfq: the addon has ${addon.SLOT_ARRAYS} shared arrays, this wrapper expects 8: rebuild it (npm ci)`);
  }

  /** Binds `queue` (needs root or CAP_NET_ADMIN) and starts reading; throws NfqOpenError saying why not. */
  static open(queue: number, options: NfqOptions, onBatch: BatchHandler): NfqQueue {
    const addon = loadAddon();
    const chosen = { ...DEFAULTS, ...options };
    checkedInteger('queue', queue, 0, 65535);
    const maxBatch = checkedInteger('maxBatch', chosen.maxBatch, 1, 65536);
    const native = {
      copyRange: checkedInteger('copyRange', chosen.copyRange, 1, 65531),
      maxLength: chosen.maxLength === 0 ? 0 : checkedInteger('maxLength', chosen.maxLength, 1, 0xffffffff),
      failOpen: chosen.whenFull === 'accept' ? 1 : 0,
      gso: chosen.gso ? 1 : 0,
      socketBufferBytes: checkedInteger('socketBufferBytes', chosen.socketBufferBytes, 0, 0x7fffffff),
      maxBatch,
      defaultVerdict: chosen.defaultVerdict === 'drop' ? NfqQueue.DROP : NfqQueue.ACCEPT,
    } as const;
    if (addon.DROP !== NfqQueue.DROP || addon.ACCEPT !== NfqQueue.ACCEPT || addon.REPEAT !== NfqQueue.REPEAT) throw new Error('@p2pwall/nfq: unexpected verdict constants in the addon');
    const handle = {};
    let opened: NfqQueue | null = null;
    let shared: { arena: Buffer; slots: ArrayBuffer };
    try {
      shared = addon.open(queue, native, (count) => onBatch(count, opened!), handle);
    } catch (error) {
      const flags = [...(native.failOpen ? ["whenFull: 'accept' (NFQA_CFG_F_FAIL_OPEN)"] : []), ...(native.gso ? ['gso: true (NFQA_CFG_F_GSO)'] : [])];
      throw explainOpenError(error, queue, flags);
    }
    opened = new NfqQueue(queue, addon, handle, shared.arena, shared.slots, maxBatch);
    return opened;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Stops reading (the kernel keeps queueing, up to maxLength, then applies whenFull). */
  pause(): void {
    this.addon.setReading.call(this.handle, false);
  }

  resume(): void {
    this.addon.setReading.call(this.handle, true);
  }

  /**
   * Stops reading, unbinds and closes the socket: the queue is free for another process. Called
   * inside onBatch, it takes effect once the batch is answered. Packets the socket still holds
   * (read by nobody yet) get the default verdict and count as unanswered: drain first (wait for
   * queue_total 0) to judge them all.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close.call(this.handle);
  }

  stats(): NfqStats {
    return this.addon.stats.call(this.handle) as unknown as NfqStats;
  }
}
