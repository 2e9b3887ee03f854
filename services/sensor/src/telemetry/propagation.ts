import { LATENCY_BUCKETS_SECONDS, originLabel } from '@p2pwall/common';
import type { Meter } from '@opentelemetry/api';
import type { p2pwall } from '@p2pwall/proto';

/** One observation of p2pwall_propagation_seconds. */
export interface PropagationSample {
  origin: string;
  seconds: number;
}

/**
 * How long a shared decision took to take effect here: from its evidence (the detecting sensor's
 * clock, decision.evidence.lastSeenMs; a manual decision without evidence: its creation) to
 * `appliedMs` (this sensor's clock), so clock skew between gateways shows up in it; a negative
 * difference (this clock behind) is counted as 0. Decisions whose time is before `startedMs` are
 * not measured: they were made while this process was not running, and would measure its downtime.
 */
export function propagationSample(decision: p2pwall.v1.IDecision, appliedMs: number, startedMs: number): PropagationSample | null {
  const lastSeen = decision.evidence?.lastSeenMs ?? 0;
  const madeMs = lastSeen > 0 ? lastSeen : (decision.createdMs ?? 0);
  if (!(madeMs > 0) || madeMs < startedMs) return null;
  return { origin: originLabel(decision.origin), seconds: Math.max(0, appliedMs - madeMs) / 1000 };
}

/** The histogram; record a decision newly applied by this sensor (a rare event, never per packet). */
export function propagationRecorder(meter: Meter, startedMs: number): (decision: p2pwall.v1.IDecision, appliedMs: number) => void {
  const histogram = meter.createHistogram('p2pwall_propagation_seconds', {
    description: 'time from a shared decision\'s evidence (the detecting sensor\'s clock) to its taking effect at this sensor, by origin',
    unit: 's',
    advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_SECONDS] },
  });
  return (decision, appliedMs) => {
    const sample = propagationSample(decision, appliedMs, startedMs);
    if (sample) histogram.record(sample.seconds, { origin: sample.origin });
  };
}
