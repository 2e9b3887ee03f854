import type { p2pwall } from '@p2pwall/proto';
import type { UplinkItem } from './summaries.js';

export interface BatcherOptions {
  sensor: p2pwall.v1.ISensorId;
  /** Items (flows + events) per batch; a batch is emitted as soon as it holds this many. */
  maxFlows?: number;
  /** A batch is emitted (by poll) once its oldest item is this old. */
  maxDelayMs?: number;
  /**
   * A batch holding a client or peer event is emitted once its oldest event is this old:
   * detections must reach the brain, and every other site, fast; flow summaries may wait.
   */
  maxEventDelayMs?: number;
}

export const DEFAULT_BATCH_MAX_FLOWS = 500;
export const DEFAULT_BATCH_MAX_DELAY_MS = 250;
export const DEFAULT_BATCH_MAX_EVENT_DELAY_MS = 20;

/**
 * Accumulates summaries and events into SummaryBatches, bounded in size (maxFlows items) and
 * in time (the oldest item waits at most maxDelayMs, checked by poll). Pure: the clock is
 * passed in, no timers. Sequence numbers start at 1 and grow by one per emitted batch.
 */
export class Batcher {
  readonly maxFlows: number;
  readonly maxDelayMs: number;
  readonly maxEventDelayMs: number;
  private flows: p2pwall.v1.IFlowSummary[] = [];
  private events: p2pwall.v1.ISensorEvent[] = [];
  private oldestMs = 0;
  private oldestEventMs = 0;
  private sequence = 0;

  constructor(private readonly options: BatcherOptions) {
    this.maxFlows = options.maxFlows ?? DEFAULT_BATCH_MAX_FLOWS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_BATCH_MAX_DELAY_MS;
    this.maxEventDelayMs = Math.min(options.maxEventDelayMs ?? DEFAULT_BATCH_MAX_EVENT_DELAY_MS, this.maxDelayMs);
    if (!Number.isInteger(this.maxFlows) || this.maxFlows < 1) throw new RangeError(`maxFlows must be a positive integer, got ${this.maxFlows}`);
    if (!(this.maxDelayMs >= 0)) throw new RangeError(`maxDelayMs must be >= 0, got ${this.maxDelayMs}`);
  }

  /** Items waiting in the open batch. */
  get pending(): number {
    return this.flows.length + this.events.length;
  }

  /** The sequence of the last emitted batch (0: none yet). */
  get lastSequence(): number {
    return this.sequence;
  }

  /** When poll will next emit (ms on the caller's clock); null while empty. */
  get dueMs(): number | null {
    if (this.pending === 0) return null;
    const flowsDue = this.oldestMs + this.maxDelayMs;
    return this.events.length > 0 ? Math.min(flowsDue, this.oldestEventMs + this.maxEventDelayMs) : flowsDue;
  }

  /** Adds one item; returns a batch when this item filled it. */
  add(item: UplinkItem, now: number): p2pwall.v1.ISummaryBatch | null {
    if (this.pending === 0) this.oldestMs = now;
    if ('flow' in item) {
      this.flows.push(item.flow);
    } else {
      if (this.events.length === 0) this.oldestEventMs = now;
      this.events.push(item.event);
    }
    return this.pending >= this.maxFlows ? this.emit(now) : null;
  }

  /** The time bounds: a batch when the oldest item is maxDelayMs old, or the oldest event maxEventDelayMs. */
  poll(now: number): p2pwall.v1.ISummaryBatch | null {
    const due = this.dueMs;
    return due !== null && now >= due ? this.emit(now) : null;
  }

  /** Whatever is waiting, now (at shutdown). */
  flush(now: number): p2pwall.v1.ISummaryBatch | null {
    return this.pending > 0 ? this.emit(now) : null;
  }

  private emit(now: number): p2pwall.v1.ISummaryBatch {
    this.sequence++;
    const batch: p2pwall.v1.ISummaryBatch = { sensor: this.options.sensor, sequence: this.sequence, createdMs: now, flows: this.flows, events: this.events };
    this.flows = [];
    this.events = [];
    return batch;
  }
}
