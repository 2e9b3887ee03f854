import type { NfqStats } from '@p2pwall/nfq';

/**
 * What the live sensor needs from an NFQUEUE binding, whichever it is: open a queue, judge each
 * packet, close. Both bindings (the project's batched addon and the npm `nfqueue` binding) put
 * this shape over their own API, so the sensor only asks for "a queue".
 */

/** What a PacketJudge returns for a packet to be dropped; any other value is the mark to accept it with. */
export const DROP_PACKET = -1;

/**
 * Judges one packet: its bytes are `buf[offset .. offset + length)` (valid only during the call;
 * possibly cut by the copy range), `wireLength` is its length in the kernel, `mark` its
 * netfilter mark and `now` when it was read (ms; one reading per batch). Returns DROP_PACKET, or
 * the mark (0 .. 2^32-1) with which the packet re-enters the hook (NF_REPEAT): the rules tell a
 * judged packet by its mark.
 */
export type PacketJudge = (buf: Buffer, offset: number, length: number, wireLength: number, mark: number, now: number) => number;

export type QueueBindingName = 'addon' | 'nfqueue';

export interface QueueOptions {
  socketBufferBytes: number;
  /** Kernel queue length (packets). */
  maxLength: number;
  /** What the kernel does with packets while the queue is full. */
  whenFull: 'accept' | 'drop';
  /** Bytes of each packet copied to userspace. */
  copyRange: number;
  /** Queue GSO packets unsegmented. */
  gso: boolean;
}

/**
 * Losses and work the binding itself counts (the kernel's own are in
 * /proc/net/netfilter/nfnetlink_queue): the addon's counters, which say what each one means.
 */
export type QueueBindingStats = NfqStats;

export interface BoundQueue {
  readonly queue: number;
  readonly binding: QueueBindingName;
  /** null: the binding counts nothing itself (nfqueue). */
  stats(): QueueBindingStats | null;
  /** Releases the queue; false when the binding cannot (nfqueue: the queue is freed at exit). */
  close(): boolean;
}

export class QueueOpenError extends Error {}
