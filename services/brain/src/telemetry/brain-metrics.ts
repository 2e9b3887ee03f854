import { LATENCY_BUCKETS_SECONDS } from '@p2pwall/common';
import { ValueType, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { BrainDecision } from '../decide/decision.js';
import type { IngestCounters, Outcome } from '../ingest/processor.js';
import { blocklistEntries, type DecisionTally } from './decision-tally.js';
import type { IncidentCount } from './incident-labels.js';
import type { IngestBacklog } from './ingest-backlog.js';
import { sensorLags, type SharedState } from './shared-state.js';

/**
 * The brain's metrics (README "Telemetry" lists them). Counts and gauges are observable
 * instruments read, when /metrics is scraped or OTLP exports, from counters the brain keeps
 * anyway: the processor's, the decision tally, the writer's memory of active decisions, and one
 * read of the shared state in Redis (version, heartbeats). Only the batch timing is recorded as
 * it happens (once per summary batch, never per flow).
 */
export interface BrainMetricSources {
  /** undefined before the brain started. */
  ingest: () => IngestCounters | undefined;
  /** Messages whose processing failed (nak'ed for redelivery). */
  failures: () => number;
  /** Messages dead-lettered at their last delivery (optional: absent, not reported). */
  deadLettered?: () => number;
  /** Incidents removed to stay within incidents.maxPerSite and maxTotal (optional: absent, not reported). */
  incidentsEvicted?: () => number;
  /** Times this replica found the incident history gone from Redis (optional: absent, not reported). */
  incidentHistoryLost?: () => number;
  decisions: DecisionTally;
  /** Active decisions this replica knows (written here or read by the last sweep). */
  active: () => Iterable<BrainDecision>;
  /** undefined when Redis cannot be read now: those series are not observed (they keep their last values). */
  shared: () => Promise<SharedState | undefined>;
  /** Incidents this replica opened, by site and protocol (optional: absent, not reported). */
  incidentsOpened?: () => IncidentCount[];
  /** Open incidents by site and protocol (every pair seen so far, 0 when none is open now); undefined: not read now, they keep their last values. */
  incidentsActive?: () => Promise<IncidentCount[] | undefined>;
  /** This replica's connections to NATS and Redis, as its readiness follows them (optional: absent, not reported). */
  connected?: () => { nats: boolean; redis: boolean };
  /** The shared consumer's backlog; undefined: not read now (NATS slow or gone), the series keep their last values (optional: absent, not reported). */
  ingestBacklog?: () => Promise<IngestBacklog | undefined>;
  now?: () => number;
}

/** An ingest outcome, or `failed` when processing threw (the message is redelivered). */
export type BatchOutcome = Outcome | 'failed';

export type BatchTimer = (seconds: number, outcome: BatchOutcome) => void;

const INT = { valueType: ValueType.INT } as const;

export function registerBrainMetrics(meter: Meter, sources: BrainMetricSources): BatchTimer {
  const counter = (name: string, description: string) => meter.createObservableCounter(name, { description, ...INT });
  const gauge = (name: string, description: string, valueType = ValueType.INT) => meter.createObservableGauge(name, { description, valueType });

  const messages = counter('p2pwall_brain_messages', 'JetStream messages handled, by outcome: processed, duplicate (batch already counted), beyond-window (a batch more than ingest.dedupWindowBatches below its sensor instance\'s newest: not counted again), malformed, impersonation (payload names another sensor than the subject), heartbeat, failed (redelivered), dead-lettered (failed at the last delivery: terminated)');
  const flows = counter('p2pwall_brain_flows_ingested', 'flow summaries of processed batches');
  const decisions = counter('p2pwall_brain_decisions', 'decisions this replica wrote to the shared blocklist, by origin, scope and action');
  const refused = counter('p2pwall_brain_decisions_refused', 'decisions never written whatever a sensor says, by reason: reserved or inside address, single-witness (address-wide block seen by one host at one site), over-budget (beyond a sensor\'s new decisions per minute)');
  const outOfRange = counter('p2pwall_brain_values_out_of_range', 'times from sensors out of the sane window (more than a day ahead of the brain, or before 2000: replaced by the brain clock) and flow counters over 2^40 (bounded); heartbeat times, modes and counters out of range (replaced before the heartbeat is stored)');
  const invalidStrings = counter('p2pwall_brain_invalid_strings', 'protocol, app, rule and via strings from sensors that were no protocol names or protocol rule ids (control characters, too long, a brain or operator namespace): dropped');
  const entries = gauge('p2pwall_brain_blocklist_entries', 'active entries of the shared blocklist as this replica knows them, by scope and action');
  const version = gauge('p2pwall_brain_blocklist_version', 'the shared blocklist version in Redis');
  const lag = gauge('p2pwall_brain_sensor_blocklist_lag', 'the shared blocklist version minus the version each sensor last reported applying (heartbeats)');
  const age = gauge('p2pwall_brain_sensor_heartbeat_age_seconds', 'seconds since each sensor\'s last heartbeat was sent', ValueType.DOUBLE);
  const evicted = counter('p2pwall_brain_incidents_evicted', 'incidents removed before their retention to stay within incidents.maxPerSite and incidents.maxTotal (the ones last seen longest ago)');
  const historyLost = counter('p2pwall_brain_incident_history_lost', 'times this replica found the incident history gone from Redis (its marker missing or replaced: Redis came back without its data); alert on any increase and keep Redis persistent (appendonly yes)');
  const opened = counter('p2pwall_brain_incidents_opened', 'incidents this replica opened (a new P2P episode of an inside host), by site and protocol');
  const active = gauge('p2pwall_brain_incidents_active', 'incidents open now (last seen within incidents.quietSeconds), by site and protocol, as Redis holds them');
  const connected = gauge('p2pwall_brain_connected', '1 while this replica is connected to the target (nats, redis), else 0');
  const backlog = gauge('p2pwall_brain_ingest_backlog', 'messages of the shared JetStream consumer by state: pending (in the stream, not yet delivered to any brain replica: the ingest lag), unacknowledged (delivered, not yet acknowledged)');
  const observables: Observable[] = [messages, evicted, historyLost, flows, decisions, refused, outOfRange, invalidStrings, entries, version, lag, age, opened, active, connected, backlog];

  meter.addBatchObservableCallback(async (result: BatchObservableResult) => {
    const ingest = sources.ingest();
    if (ingest) {
      result.observe(messages, ingest.batches, { outcome: 'processed' });
      result.observe(messages, ingest.duplicates, { outcome: 'duplicate' });
      result.observe(messages, ingest.beyondDedupWindow, { outcome: 'beyond-window' });
      result.observe(messages, ingest.malformed, { outcome: 'malformed' });
      result.observe(messages, ingest.impersonations, { outcome: 'impersonation' });
      result.observe(messages, ingest.heartbeats, { outcome: 'heartbeat' });
      result.observe(messages, sources.failures(), { outcome: 'failed' });
      if (sources.deadLettered) result.observe(messages, sources.deadLettered(), { outcome: 'dead-lettered' });
      if (sources.incidentsEvicted) result.observe(evicted, sources.incidentsEvicted());
      if (sources.incidentHistoryLost) result.observe(historyLost, sources.incidentHistoryLost());
      result.observe(flows, ingest.flows);
      result.observe(refused, ingest.refusedReserved, { reason: 'reserved' });
      result.observe(refused, ingest.refusedInside, { reason: 'inside' });
      result.observe(refused, ingest.refusedSingleWitness, { reason: 'single-witness' });
      result.observe(refused, ingest.overBudget, { reason: 'over-budget' });
      result.observe(outOfRange, ingest.outOfRange);
      result.observe(invalidStrings, ingest.invalidStrings);
    }
    for (const { labels, count } of sources.decisions.entries()) result.observe(decisions, count, { ...labels });
    for (const { labels, count } of blocklistEntries(sources.active())) result.observe(entries, count, { ...labels });
    for (const { labels, count } of sources.incidentsOpened?.() ?? []) result.observe(opened, count, { ...labels });
    const links = sources.connected?.();
    if (links) for (const [target, up] of Object.entries(links)) result.observe(connected, up ? 1 : 0, { target });
    const [shared, open, waiting] = await Promise.all([sources.shared(), sources.incidentsActive?.(), sources.ingestBacklog?.()]);
    for (const { labels, count } of open ?? []) result.observe(active, count, { ...labels });
    if (waiting) {
      result.observe(backlog, waiting.pending, { state: 'pending' });
      result.observe(backlog, waiting.unacknowledged, { state: 'unacknowledged' });
    }
    if (shared) {
      result.observe(version, shared.version);
      for (const sensor of sensorLags(shared, sources.now?.() ?? Date.now())) {
        result.observe(lag, sensor.lag, { sensor: sensor.sensor });
        result.observe(age, sensor.ageSeconds, { sensor: sensor.sensor });
      }
    }
  }, observables);

  const batchSeconds = meter.createHistogram('p2pwall_brain_ingest_batch_seconds', {
    description: 'time to process one summary batch (decode, merge in Redis, decide, write), by outcome',
    unit: 's',
    advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_SECONDS] },
  });
  return (seconds, outcome) => batchSeconds.record(seconds, { outcome });
}
