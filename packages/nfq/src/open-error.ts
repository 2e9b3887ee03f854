import { readFileSync } from 'node:fs';

/** Why a queue could not be opened, in words an operator can act on. */
export class NfqOpenError extends Error {
  constructor(
    message: string,
    /** taken: another process holds the queue; permission: not root; unsupported: a flag the kernel lacks. */
    readonly reason: 'taken' | 'permission' | 'unsupported' | 'other',
  ) {
    super(message);
  }
}

interface NativeError extends Error {
  code?: string;
}

/** The netlink port id holding `queue` in this network namespace, if the kernel lists one. */
function holderOf(queue: number, procText: string): number | null {
  for (const line of procText.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns.length >= 2 && Number(columns[0]) === queue) return Number(columns[1]);
  }
  return null;
}

function readProc(): string {
  try {
    return readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Turns the addon's errno error into a clear one. The kernel answers a bind with EPERM both when
 * another process holds the queue and when the caller lacks CAP_NET_ADMIN: the queue's presence
 * in /proc/net/netfilter/nfnetlink_queue tells them apart. EBUSY: this process bound it already.
 */
export function explainOpenError(error: unknown, queue: number, requestedFlags: readonly string[], procText: string = readProc()): NfqOpenError {
  const native = error as NativeError;
  const stage = native.message.startsWith('configure') ? 'configure' : 'bind';
  if (native.code === 'EBUSY') {
    return new NfqOpenError(`cannot bind NFQUEUE ${queue}: this process has it open already (close the other handle first)`, 'taken');
  }
  if (native.code === 'EPERM' && stage === 'bind') {
    const holder = holderOf(queue, procText);
    if (holder !== null) {
      return new NfqOpenError(
        `cannot bind NFQUEUE ${queue}: another process holds it (netlink port id ${holder} in /proc/net/netfilter/nfnetlink_queue); stop that process or use another queue number`,
        'taken',
      );
    }
    return new NfqOpenError(`cannot bind NFQUEUE ${queue}: permission denied; binding a queue needs root or CAP_NET_ADMIN`, 'permission');
  }
  if (native.code === 'EOPNOTSUPP') {
    return new NfqOpenError(`cannot configure NFQUEUE ${queue}: this kernel does not support the queue flags asked for (${requestedFlags.join(', ')})`, 'unsupported');
  }
  return new NfqOpenError(`cannot ${stage} NFQUEUE ${queue}: ${native.message}`, 'other');
}
