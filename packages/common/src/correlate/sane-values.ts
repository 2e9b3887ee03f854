/**
 * Bounds on the times and counters a sensor reports (pure). A sensor's clock may be wrong and a
 * sensor may lie: a time more than a day ahead of the brain's clock, or before 2000, is replaced
 * by the brain's clock (and counted); a flow's counter is at most MAX_FLOW_COUNTER, so sums of
 * them stay exact integers and fit every Redis counter.
 */

/** 2000-01-01T00:00:00Z: no sensor of this program reported anything earlier. */
export const EARLIEST_SENSOR_TIME_MS = Date.UTC(2000, 0, 1);
/** How far ahead of the brain's clock a sensor's time may be. */
export const MAX_SENSOR_CLOCK_AHEAD_MS = 86_400_000;
/** 2^40 (a tebibyte, a trillion packets) per flow. */
export const MAX_FLOW_COUNTER = 2 ** 40;

/** Whether `ms` is a time a sensor can have seen, by the brain's clock `nowMs`. */
export function isSaneSensorTime(ms: number, nowMs: number): boolean {
  return Number.isFinite(ms) && ms >= EARLIEST_SENSOR_TIME_MS && ms <= nowMs + MAX_SENSOR_CLOCK_AHEAD_MS;
}

/** A flow counter as reported, bounded to [0, MAX_FLOW_COUNTER] (a non-number: 0). */
export function boundedCounter(value: number | null | undefined): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return 0;
  return Math.min(Math.floor(value), MAX_FLOW_COUNTER);
}
