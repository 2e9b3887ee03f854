import { ValueType, type Attributes, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { QueueBindingStats } from '../capture/queue-binding.js';
import type { Engine } from '../engine.js';
import type { KernelSetsStats, SetFill } from '../enforce/kernel-sets.js';
import type { QueueStats } from '../enforce/queue-stats.js';
import type { UplinkStats } from '../uplink/uplink.js';
import type { EventTally } from './event-tally.js';

/**
 * The sensor's metrics (README "Telemetry" lists them). Every one is an observable instrument:
 * its value is read from counters the sensor keeps anyway (the engine's, the event tally, the
 * uplink's, the kernel's /proc file) when /metrics is scraped or OTLP exports, in one batch
 * callback. The packet path never touches an OpenTelemetry instrument.
 *
 * The queue, site and gateway are resource attributes of the process, and so a label on every
 * series: one process serves one queue, so per-queue series need no label of their own.
 */
export interface SensorMetricSources {
  engine: Pick<Engine, 'counters' | 'detections' | 'flows' | 'peers' | 'clients' | 'moduleBuffers'>;
  tally: EventTally;
  /** This process's queue as the kernel counts it; undefined while it is not bound (or unreadable). */
  kernelQueue: () => QueueStats | undefined;
  /** What the queue binding counts itself; null while unbound or for a binding that counts nothing (nfqueue). */
  queueBinding?: () => QueueBindingStats | null;
  /** null: a standalone sensor (no uplink section). */
  uplink: () => UplinkStats | null;
  /** The kernel sets' command counters and their fill as last read; absent where nothing writes sets. */
  kernelSets?: () => { stats: KernelSetsStats; fill: readonly SetFill[] };
}

const INT = { valueType: ValueType.INT } as const;

export function registerSensorMetrics(meter: Meter, sources: SensorMetricSources): void {
  const counter = (name: string, description: string) => meter.createObservableCounter(name, { description, ...INT });
  const gauge = (name: string, description: string) => meter.createObservableGauge(name, { description, ...INT });

  const packets = counter('p2pwall_sensor_queue_packets', 'packets this process received from its NFQUEUE queue');
  const verdicts = counter('p2pwall_sensor_verdicts', 'verdicts given: accept, drop, or would_drop (judged drop but let through: monitor mode, or UDP with dropUdp false), by reason');
  const kernelLength = gauge('p2pwall_sensor_kernel_queue_length', 'packets waiting in the kernel queue for a verdict (queue_total)');
  const kernelDropped = counter('p2pwall_sensor_kernel_queue_dropped', 'packets the kernel dropped because the queue was full (queue_dropped)');
  const kernelUserDropped = counter('p2pwall_sensor_kernel_queue_user_dropped', 'packets the kernel dropped because the socket buffer was full (user_dropped)');
  const bindingBatches = counter('p2pwall_sensor_queue_batches', 'batches the queue binding handed over (one JavaScript call each; addon binding)');
  const bindingLargestBatch = gauge('p2pwall_sensor_queue_largest_batch', 'most packets in one batch so far (addon binding)');
  const bindingLosses = counter('p2pwall_sensor_queue_binding_losses', 'trouble the addon binding counted: enobufs (reads that found the socket buffer overrun: the kernel lost packets, see kernel_queue_user_dropped), receive_error, verdict_send_error (packets whose verdict could not be sent), verdict_error (error answers of the kernel), unanswered (packets given the default verdict, accept)');
  const bindingTruncated = counter('p2pwall_sensor_queue_truncated', 'packets longer than queue.copyRange: judged on their first copyRange bytes (addon binding)');
  const detections = counter('p2pwall_sensor_detections', 'evidence matched, by protocol and rule');
  const clients = counter('p2pwall_sensor_clients_identified', 'inside hosts identified as P2P clients');
  const peers = counter('p2pwall_sensor_peers_learned', 'outside peers learned, by protocol and how (via)');
  const evidenceRefused = counter('p2pwall_sensor_evidence_refused', 'evidence the trust rules refused: unsolicited (from outside, on a flow outside opened), unanswered (a reply to nothing of that protocol), supporting (not towards a learned peer), undeclared-family (about a family its module does not declare)');
  const peersRefused = counter('p2pwall_sensor_peers_refused', 'peers not learned: reserved, inside, protected, allowlisted or low-port addresses, or over the flow or host cap');
  const flows = gauge('p2pwall_sensor_flows', 'flows in the flow table');
  const flowsStarted = counter('p2pwall_sensor_flows_started', 'flows seen');
  const flowsEvicted = counter('p2pwall_sensor_flows_evicted', 'flows that left the table: idle (timeout), capacity (table full), shutdown');
  const moduleBuffers = gauge('p2pwall_sensor_module_buffer_bytes', 'bytes the protocol modules\' per-flow buffers hold (limits.moduleBufferBytes bounds them)');
  const moduleBuffersRefused = counter('p2pwall_sensor_module_buffers_refused', 'module buffers not kept or not grown because limits.moduleBufferBytes was spent');
  const setEntries = gauge('p2pwall_sensor_kernel_set_entries', 'entries in each kernel set (ipset), as last read');
  const setMaxEntries = gauge('p2pwall_sensor_kernel_set_max_entries', 'maxelem of each kernel set: past it the kernel refuses new entries');
  const setCommands = counter('p2pwall_sensor_kernel_set_commands', 'ipset commands by result: applied, failed (invalid, or refused by ipset, e.g. a full set), shed (too many waiting), skipped (IPv6 off)');
  const peerTable = gauge('p2pwall_sensor_peers', 'peers blocked by this process (learned, from the storefile and shared)');
  const clientTable = gauge('p2pwall_sensor_clients', 'entries of the client table (identified or locked hosts)');
  const published = counter('p2pwall_sensor_summaries_published', 'summary batches acknowledged by JetStream');
  const buffered = gauge('p2pwall_sensor_summaries_buffered', 'summary batches waiting to be published');
  const shed = counter('p2pwall_sensor_summaries_shed', 'summary batches (backlog_full, unencodable) or engine events (unmappable) lost');
  const connected = gauge('p2pwall_sensor_uplink_connected', '1 while connected to the target (nats, redis), else 0');
  const entries = gauge('p2pwall_sensor_blocklist_entries', 'shared blocklist entries applied, by scope');
  const version = gauge('p2pwall_sensor_blocklist_version', 'shared blocklist version applied');
  const lag = gauge('p2pwall_sensor_blocklist_version_lag', 'shared version last seen in Redis minus the version applied');

  const observables: Observable[] = [packets, verdicts, kernelLength, kernelDropped, kernelUserDropped, bindingBatches, bindingLargestBatch, bindingLosses, bindingTruncated, detections, clients, peers, evidenceRefused, peersRefused, flows, flowsStarted, flowsEvicted, moduleBuffers, moduleBuffersRefused, setEntries, setMaxEntries, setCommands, peerTable, clientTable, published, buffered, shed, connected, entries, version, lag];

  meter.addBatchObservableCallback((result: BatchObservableResult) => {
    const { engine, tally } = sources;
    const c = engine.counters;
    result.observe(packets, c.packets);
    const verdict = (value: number, attributes: Attributes) => result.observe(verdicts, value, attributes);
    verdict(c.acceptedClean, { verdict: 'accept', reason: 'clean' });
    verdict(c.acceptedInternal, { verdict: 'accept', reason: 'internal' });
    // The live sensor judges only IP packets: every malformed packet and later fragment was accepted.
    verdict(c.malformed, { verdict: 'accept', reason: 'malformed' });
    verdict(c.laterFragments, { verdict: 'accept', reason: 'fragment' });
    verdict(c.droppedSignature, { verdict: 'drop', reason: 'signature' });
    verdict(c.droppedLearnedPeer, { verdict: 'drop', reason: 'learned-peer' });
    verdict(c.droppedTimeLock, { verdict: 'drop', reason: 'time-lock' });
    verdict(c.wouldDropSignature, { verdict: 'would_drop', reason: 'signature' });
    verdict(c.wouldDropLearnedPeer, { verdict: 'would_drop', reason: 'learned-peer' });
    verdict(c.wouldDropTimeLock, { verdict: 'would_drop', reason: 'time-lock' });

    const kernel = sources.kernelQueue();
    if (kernel) {
      result.observe(kernelLength, kernel.queueTotal);
      result.observe(kernelDropped, kernel.queueDropped);
      result.observe(kernelUserDropped, kernel.userDropped);
    }
    const binding = sources.queueBinding?.();
    if (binding) {
      result.observe(bindingBatches, binding.batches);
      result.observe(bindingLargestBatch, binding.largestBatch);
      const { enobufs, receiveErrors, verdictSendErrors, verdictErrors, unanswered } = binding;
      const losses = { enobufs, receive_error: receiveErrors, verdict_send_error: verdictSendErrors, verdict_error: verdictErrors, unanswered };
      for (const [reason, count] of Object.entries(losses)) result.observe(bindingLosses, count, { reason });
      result.observe(bindingTruncated, binding.truncated);
    }

    engine.detections.forEach((protocol, rule, count) => result.observe(detections, count, { protocol, rule }));
    for (const [protocol, count] of tally.clientsIdentified) result.observe(clients, count, { protocol });
    for (const [protocol, byVia] of tally.peersLearned) for (const [via, count] of byVia) result.observe(peers, count, { protocol, via });
    result.observe(evidenceRefused, c.evidenceRefusedUnsolicited, { reason: 'unsolicited' });
    result.observe(evidenceRefused, c.evidenceRefusedUnanswered, { reason: 'unanswered' });
    result.observe(evidenceRefused, c.evidenceRefusedSupporting, { reason: 'supporting' });
    result.observe(evidenceRefused, c.evidenceRefusedFamily, { reason: 'undeclared-family' });
    const refusedPeer = (value: number, reason: string) => result.observe(peersRefused, value, { reason });
    refusedPeer(c.peersRefusedReserved, 'reserved');
    refusedPeer(c.peersRefusedInside, 'inside');
    refusedPeer(c.peersRefusedProtected, 'protected');
    refusedPeer(c.peersRefusedAllowlisted, 'allowlisted');
    refusedPeer(c.peersRefusedLowPort, 'low-port');
    refusedPeer(c.peersCappedFlow, 'flow-cap');
    refusedPeer(c.peersCappedHost, 'host-cap');
    result.observe(flows, engine.flows.size);
    result.observe(flowsStarted, c.flows);
    for (const [reason, count] of tally.flowsEnded) result.observe(flowsEvicted, count, { reason });
    result.observe(moduleBuffers, engine.moduleBuffers.held);
    result.observe(moduleBuffersRefused, c.moduleBuffersRefused);
    const kernelSets = sources.kernelSets?.();
    if (kernelSets) {
      for (const set of kernelSets.fill) {
        result.observe(setEntries, set.entries, { set: set.name });
        result.observe(setMaxEntries, set.maxEntries, { set: set.name });
      }
      const { applied, failed, shed, skipped } = kernelSets.stats;
      for (const [outcome, count] of Object.entries({ applied, failed, shed, skipped })) result.observe(setCommands, count, { result: outcome });
    }
    result.observe(peerTable, engine.peers.size);
    result.observe(clientTable, engine.clients.size);

    const uplink = sources.uplink();
    const nats = uplink?.nats;
    if (uplink && nats) {
      result.observe(published, nats.published);
      result.observe(buffered, nats.backlog);
      result.observe(shed, nats.shed, { reason: 'backlog_full' });
      result.observe(shed, nats.encodeErrors, { reason: 'unencodable' });
      result.observe(shed, uplink.unmappable, { reason: 'unmappable' });
      result.observe(connected, nats.connected ? 1 : 0, { target: 'nats' });
    }
    const blocklist = uplink?.blocklist;
    if (blocklist) {
      result.observe(connected, blocklist.connected ? 1 : 0, { target: 'redis' });
      for (const [scope, count] of Object.entries(blocklist.byScope)) result.observe(entries, count, { scope });
      result.observe(version, blocklist.version);
      // Negative after Redis lost its blocklist and counts again from 1: we are not behind then.
      result.observe(lag, Math.max(0, blocklist.latestSeenVersion - blocklist.version));
    }
  }, observables);
}
