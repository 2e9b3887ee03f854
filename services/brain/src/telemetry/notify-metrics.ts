import { ValueType, type Meter } from '@opentelemetry/api';
import type { NotificationSink } from '../notify/sink.js';

/**
 * The notification sinks' counts (README "Notifications"): read from the sinks' own counters
 * when /metrics is scraped, so a notification costs no metric work.
 */
export function registerNotificationMetrics(meter: Meter, sinks: readonly NotificationSink[]): void {
  if (sinks.length === 0) return;
  const events = meter.createObservableCounter('p2pwall_brain_notifications', {
    description: 'notification events per sink, kind and outcome: sent, failed (an attempt failed: retried), dropped-full (pushed out of a full queue), expired (not delivered within queue.maxAgeSeconds), rejected (refused by the receiver: a 4xx), shutdown, rate-limited, deduplicated',
    valueType: ValueType.INT,
  });
  const queued = meter.createObservableGauge('p2pwall_brain_notification_queue', { description: 'notification events waiting for delivery, per sink', valueType: ValueType.INT });
  meter.addBatchObservableCallback(
    (result) => {
      for (const sink of sinks) {
        for (const [key, count] of sink.counts) {
          const [kind, outcome] = key.split('|');
          result.observe(events, count, { sink: sink.name, kind, outcome });
        }
        result.observe(queued, sink.queued, { sink: sink.name });
      }
    },
    [events, queued],
  );
}
