import { createRequire } from 'node:module';

/** The compiled addon (native/nfq.c), as node-gyp builds it at install time. */
export interface NativeAddon {
  readonly DROP: number;
  readonly ACCEPT: number;
  readonly REPEAT: number;
  readonly UNANSWERED: number;
  readonly SLOT_ARRAYS: number;
  open(queue: number, options: NativeOptions, onBatch: (count: number) => void, handle: object): { arena: Buffer; slots: ArrayBuffer };
  close(this: object): void;
  setReading(this: object, reading: boolean): void;
  stats(this: object): Record<string, number>;
}

export interface NativeOptions {
  copyRange: number;
  maxLength: number;
  failOpen: 0 | 1;
  gso: 0 | 1;
  socketBufferBytes: number;
  maxBatch: number;
  defaultVerdict: number;
}

export class NfqAddonMissingError extends Error {}

let addon: NativeAddon | null = null;

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)('../build/Release/nfq.node') as NativeAddon;
  } catch (error) {
    throw new NfqAddonMissingError(
      `the @p2pwall/nfq addon is not built (${(error as Error).message.split('\n')[0]}); run scripts/setup, which installs libnetfilter-queue-dev and runs npm ci (node-gyp builds packages/nfq)`,
    );
  }
  return addon;
}
