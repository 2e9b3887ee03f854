import type { CidrSet } from '@p2pwall/common';
import { DEFAULT_RULES, OfflineCorrelation, observeBatch, type CorrelationFinding } from '@p2pwall/common/correlate';
import type { p2pwall } from '@p2pwall/proto';
import type { EngineEvent } from '../events.js';
import { Batcher } from '../uplink/batcher.js';
import { SummaryError, uplinkItem } from '../uplink/summaries.js';

/** The sensor id the capture's batches carry: hosts read `capture/<ip>` in the brain's terms. */
export const CAPTURE_SENSOR: p2pwall.v1.ISensorId = { site: 'capture', gateway: 'analyze', queue: 0, instance: 'offline' };

/**
 * `analyze --correlate`: the engine's events as the live sensor sends them (flow summaries and
 * client and peer events, batched as its uplink batches them, on the capture's clock), read by
 * the brain's own code (observeBatch) and run through its payload-free rules with its default
 * thresholds (OfflineCorrelation).
 */
export class CaptureCorrelation {
  private readonly batcher = new Batcher({ sensor: CAPTURE_SENSOR });
  private readonly correlation = new OfflineCorrelation(DEFAULT_RULES);
  /** Events whose addresses the uplink could not put on the wire (as the live sensor skips them). */
  unsendable = 0;
  private lastTs = 0;

  constructor(private readonly inside: CidrSet) {}

  readonly sink = (event: EngineEvent): void => {
    this.lastTs = Math.max(this.lastTs, event.ts);
    const due = this.batcher.poll(event.ts);
    if (due) this.take(due);
    let item;
    try {
      item = uplinkItem(event, this.inside);
    } catch (error) {
      if (!(error instanceof SummaryError)) throw error;
      this.unsendable += 1;
      return;
    }
    const full = item && this.batcher.add(item, event.ts);
    if (full) this.take(full);
  };

  /** After the last event (what waits in the open batch is correlated too): every rule that fired, with its largest count. */
  finish(): CorrelationFinding[] {
    const rest = this.batcher.flush(this.lastTs);
    if (rest) this.take(rest);
    return this.correlation.findings();
  }

  private take(batch: p2pwall.v1.ISummaryBatch): void {
    const now = Number(batch.createdMs);
    this.correlation.observe(observeBatch(batch, now), now);
  }
}
