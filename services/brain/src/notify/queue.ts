/**
 * A sink's bounded delivery queue: events go out one at a time, in order; a failed delivery is
 * retried with a doubling wait (firstRetryMs, 2×, 4× ... at most maxRetryMs) for as long as the
 * event is younger than maxAgeMs, so a receiver that is down for a while gets everything once
 * it is back. Nothing is lost silently: every outcome is reported (the sink counts it), an event
 * pushed out of a full queue (the oldest waiting goes) included.
 */

/** A delivery the receiver refused for good (an HTTP 4xx other than 408 and 429): not retried. */
export class PermanentFailure extends Error {}

export type QueueOutcome = 'sent' | 'failed' | 'dropped-full' | 'expired' | 'rejected' | 'shutdown';

export interface QueueOptions {
  maxEvents: number;
  firstRetryMs: number;
  maxRetryMs: number;
  maxAgeMs: number;
}

/** The wait after the n-th failure in a row (n ≥ 1). */
export function retryDelayMs(failures: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

interface Entry<T> {
  item: T;
  enqueuedMs: number;
}

export class DeliveryQueue<T> {
  private readonly entries: Entry<T>[] = [];
  /** Failures in a row of the event at the head. */
  private failures = 0;
  private pumping: Promise<void> | undefined;
  /** The head is being delivered (a full queue never drops it mid-flight). */
  private inFlight = false;
  private wait: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private stopped = false;

  constructor(
    private readonly deliver: (item: T) => Promise<void>,
    private readonly options: QueueOptions,
    private readonly onOutcome: (item: T, outcome: QueueOutcome, error?: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  push(item: T): void {
    if (this.stopped) {
      this.onOutcome(item, 'shutdown');
      return;
    }
    if (this.entries.length >= this.options.maxEvents) {
      const at = this.inFlight ? 1 : 0;
      const oldest = this.entries.splice(at, 1)[0];
      if (!oldest) {
        // a queue of one whose only event is in flight: the new one cannot wait
        this.onOutcome(item, 'dropped-full');
        return;
      }
      // the head waiting for a retry went: the next one starts without its failures
      if (at === 0) this.failures = 0;
      this.onOutcome(oldest.item, 'dropped-full');
    }
    this.entries.push({ item, enqueuedMs: this.now() });
    this.kick();
  }

  /** Starts delivering unless already at it; when a run ends with events left (pushed as it ended), another starts. */
  private kick(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.entries.length > 0) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (this.entries.length > 0 && !this.stopped) {
      const head = this.entries[0]!;
      if (this.now() - head.enqueuedMs > this.options.maxAgeMs) {
        this.shift('expired');
        continue;
      }
      this.inFlight = true;
      try {
        await this.deliver(head.item);
        this.shift('sent');
      } catch (error) {
        if (error instanceof PermanentFailure) {
          this.shift('rejected', error);
          continue;
        }
        this.failures += 1;
        this.onOutcome(head.item, 'failed', error);
        this.inFlight = false;
        await this.sleep(retryDelayMs(this.failures, this.options.firstRetryMs, this.options.maxRetryMs));
      } finally {
        this.inFlight = false;
      }
    }
  }

  private shift(outcome: QueueOutcome, error?: unknown): void {
    const entry = this.entries.shift();
    this.failures = 0;
    if (entry) this.onOutcome(entry.item, outcome, error);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wait = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wait = { timer, wake };
    });
  }

  /**
   * Stops: what is queued gets until `graceMs` to go out (retries included), then the rest is
   * reported as shutdown. Resolves when nothing is in flight any more.
   */
  async close(graceMs: number): Promise<void> {
    const deadline = this.now() + graceMs;
    // a retry wait ends early: one last attempt happens within the grace time
    this.wait?.wake();
    while (this.pumping && this.entries.length > 0 && this.now() < deadline) await Promise.race([this.pumping, new Promise((resolve) => setTimeout(resolve, 20))]);
    this.stopped = true;
    this.wait?.wake();
    await this.pumping;
    for (const entry of this.entries.splice(0)) this.onOutcome(entry.item, 'shutdown');
  }
}
