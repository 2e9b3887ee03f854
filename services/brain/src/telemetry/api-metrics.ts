import { LATENCY_BUCKETS_SECONDS } from '@p2pwall/common';
import type { Meter } from '@opentelemetry/api';

/** One answered API request: the route is its template (/v1/decisions/:id), never the raw URL. */
export interface ApiRequestSample {
  method: string;
  /** The route template; `unmatched` for requests no route matched (404 of the not-found handler). */
  route: string;
  statusCode: number;
  seconds: number;
}

export type ApiRequestObserver = (sample: ApiRequestSample) => void;

/** p2pwall_brain_api_request_seconds: how long the API took to answer, by method, route and status. */
export function apiRequestRecorder(meter: Meter): ApiRequestObserver {
  const histogram = meter.createHistogram('p2pwall_brain_api_request_seconds', {
    description: 'time to answer an HTTP API request, by method, route template and status code',
    unit: 's',
    advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_SECONDS] },
  });
  return (sample) => histogram.record(sample.seconds, { method: sample.method, route: sample.route, status_code: String(sample.statusCode) });
}
