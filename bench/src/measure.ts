/** Timing, heap and summary helpers shared by the benchmarks. */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

const exposedGc = (globalThis as { gc?: () => void }).gc;

/** Whether node runs with --expose-gc, so heap figures are measured after a full collection. */
export const canCollect = typeof exposedGc === 'function';

/** Heap in use after full collections (when --expose-gc is on; otherwise as it stands). */
export function settledHeap(): number {
  if (exposedGc) {
    exposedGc();
    exposedGc();
  }
  return getHeapStatistics().used_heap_size;
}

/** Heap in use right now, garbage included. */
export function heapNow(): number {
  return getHeapStatistics().used_heap_size;
}

/**
 * Garbage-collection pauses, from the runtime's own 'gc' performance entries. They arrive
 * asynchronously: `settle` before asking what fell into a window.
 */
export class GcRecorder {
  private readonly pauses: { start: number; end: number }[] = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.pauses.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** The clock the pauses are on (ms). */
  clock(): number {
    return performance.now();
  }

  async settle(): Promise<void> {
    await new Promise((done) => setTimeout(done, 20));
  }

  /** ms of pauses that began within [from, to]. */
  within(from: number, to: number): number {
    let total = 0;
    for (const pause of this.pauses) if (pause.start >= from && pause.start <= to) total += pause.end - pause.start;
    return total;
  }

  stop(): void {
    this.observer.disconnect();
  }
}

export function now(): bigint {
  return process.hrtime.bigint();
}

export function elapsedNs(since: bigint): number {
  return Number(process.hrtime.bigint() - since);
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max − min) / median, in percent. */
  spreadPercent: number;
  values: number[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const mid = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: mid, min, max, spreadPercent: mid === 0 ? 0 : ((max - min) / mid) * 100, values: [...values] };
}

export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** 1.23 M, 456 k: packets per second as people read them. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(0)} k`;
  return perSecond.toFixed(0);
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
