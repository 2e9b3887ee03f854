/**
 * Histogram bounds for latencies in seconds (propagation, API requests): 1 ms to 10 s. The SDK's
 * default bounds (0 to 10 000) are meant for milliseconds and would put every second-valued
 * observation in the first two buckets. Pass as `advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS }`.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
