import { hashRequest, tcp, TcpConversation } from '@p2pwall/lab';
import { startTelemetry, type Telemetry } from '@p2pwall/common';
import { afterEach, describe, expect, it } from 'vitest';
import { HEAD_OVERHEAD_BYTES, HEAD_START_CAPACITY } from '../../src/detect/http-headers.js';
import type { QueueBindingStats } from '../../src/capture/queue-binding.js';
import type { KernelSetsStats, SetFill } from '../../src/enforce/kernel-sets.js';
import { parseQueueStats } from '../../src/enforce/queue-stats.js';
import { Verdict } from '../../src/engine.js';
import { EventTally } from '../../src/telemetry/event-tally.js';
import { registerSensorMetrics } from '../../src/telemetry/sensor-metrics.js';
import type { BlocklistStats } from '../../src/uplink/blocklist.js';
import type { PublisherStats } from '../../src/uplink/publisher.js';
import type { UplinkStats } from '../../src/uplink/uplink.js';
import { CLIENT, Gateway, OTHER_HOST, PEER, T0, ping, syn } from '../support/gateway.js';
import { matching, parseMetrics, valueOf, type Sample } from '@p2pwall/lab';

const open: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((telemetry) => telemetry.close()));
});

const INSTANCE = { site: 'a', gateway: 'gw1', queue: '3' };

/** A gateway engine with the sensor's metrics on a telemetry server, as the live sensor wires them. */
async function instrumented(
  config: ConstructorParameters<typeof Gateway>[0] = {},
  sources: { kernel?: string; uplink?: UplinkStats | null; kernelSets?: () => { stats: KernelSetsStats; fill: SetFill[] }; queueBinding?: () => QueueBindingStats | null } = {},
) {
  const telemetry = await startTelemetry({
    serviceName: 'p2pwall-sensor',
    serviceVersion: '0.1.0',
    attributes: INSTANCE,
    config: { listen: { host: '127.0.0.1', port: 0 }, otlp: { endpoint: null, headers: {}, intervalSeconds: 15 } },
  });
  open.push(telemetry);
  const tally = new EventTally();
  const gw = new Gateway(config);
  const engine = gw.engine;
  // The Gateway's own sink records events; the tally sees them as the live sensor's sink would.
  const send = (packet: Uint8Array, ms = 0): Verdict => {
    const before = gw.events.length;
    const verdict = gw.send(packet, ms);
    for (const event of gw.events.slice(before)) tally.observe(event);
    return verdict;
  };
  const flush = (ms: number) => {
    const before = gw.events.length;
    engine.flush(T0 + ms);
    for (const event of gw.events.slice(before)) tally.observe(event);
  };
  registerSensorMetrics(telemetry.meter, {
    engine,
    tally,
    kernelQueue: () => (sources.kernel === undefined ? undefined : parseQueueStats(sources.kernel).find((q) => q.queue === 3)),
    uplink: () => sources.uplink ?? null,
    kernelSets: sources.kernelSets,
    queueBinding: sources.queueBinding,
  });
  const scrape = async (): Promise<Sample[]> => {
    const response = await fetch(`http://127.0.0.1:${telemetry.port}/metrics`);
    expect(response.status).toBe(200);
    return parseMetrics(await response.text());
  };
  return { engine, send, flush, scrape };
}

const publisherStats = (overrides: Partial<PublisherStats> = {}): PublisherStats => ({
  published: 0, duplicates: 0, backlog: 0, shed: 0, encodeErrors: 0, publishErrors: 0, connectErrors: 0, reconnects: 0, heartbeats: 0, heartbeatsSkipped: 0, connected: true, ...overrides,
});

const blocklistStats = (overrides: Partial<BlocklistStats> = {}): BlocklistStats => ({
  version: 0, latestSeenVersion: 0, loadedFrom: 'redis', byScope: { endpoint: 0, ip: 0, host: 0, other: 0 }, entries: 0, upserts: 0, removes: 0, changes: 0, snapshots: 1, resyncs: 0,
  malformed: 0, expiredSkipped: 0, callbackErrors: 0, redisErrors: 0, connected: true, awaitingEpoch: false, fileLoads: 0, fileSaves: 0, ...overrides,
});

describe('sensor metrics', () => {
  it('reports packets, verdicts by reason, detections, clients, peers and flows from the engine, labelled with the instance', async () => {
    const { send, flush, scrape } = await instrumented();
    expect(send(ping())).toBe(Verdict.drop); // evidence: drop, signature
    expect(send(syn(OTHER_HOST, PEER.ip, PEER.port), 10)).toBe(Verdict.drop); // learned-peer
    expect(send(syn(CLIENT, '198.51.100.77', 6346), 20)).toBe(Verdict.drop); // time-lock
    expect(send(syn(CLIENT, '198.51.100.77', 80), 30)).toBe(Verdict.accept); // clean
    expect(send(syn(CLIENT, OTHER_HOST, 22), 40)).toBe(Verdict.accept); // internal
    expect(send(Uint8Array.of(0x45, 0, 0), 50)).toBe(Verdict.accept); // malformed
    let samples = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => valueOf(samples, name, labels);

    expect(v('p2pwall_sensor_queue_packets_total', INSTANCE)).toBe(6);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'drop', reason: 'signature' })).toBe(1);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'drop', reason: 'learned-peer' })).toBe(1);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'drop', reason: 'time-lock' })).toBe(1);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'accept', reason: 'clean' })).toBe(1);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'accept', reason: 'internal' })).toBe(1);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'accept', reason: 'malformed' })).toBe(1);
    // Every packet has exactly one verdict series.
    expect(matching(samples, 'p2pwall_sensor_verdicts_total').reduce((sum, s) => sum + s.value, 0)).toBe(6);
    expect(v('p2pwall_sensor_detections_total', { protocol: 'fasttrack', rule: 'fasttrack/udp-ping' })).toBe(1);
    expect(v('p2pwall_sensor_clients_identified_total', { protocol: 'fasttrack' })).toBe(1);
    expect(v('p2pwall_sensor_peers_learned_total', { protocol: 'fasttrack', via: 'fasttrack/udp-ping' })).toBe(1);
    expect(v('p2pwall_sensor_evidence_refused_total', { reason: 'unsolicited' })).toBe(0);
    expect(v('p2pwall_sensor_peers_refused_total', { reason: 'reserved' })).toBe(0);
    expect(v('p2pwall_sensor_flows', INSTANCE)).toBe(5);
    expect(v('p2pwall_sensor_flows_started_total')).toBe(5);
    expect(v('p2pwall_sensor_peers')).toBe(1);
    expect(v('p2pwall_sensor_clients')).toBe(1);
    // Nothing from a queue not (yet) bound, and no uplink series for a standalone sensor.
    expect(matching(samples, 'p2pwall_sensor_kernel_queue_length')).toEqual([]);
    expect(matching(samples, 'p2pwall_sensor_queue_binding_losses_total')).toEqual([]);
    expect(samples.filter((s) => s.name.startsWith('p2pwall_sensor_summaries') || s.name.startsWith('p2pwall_sensor_uplink') || s.name.startsWith('p2pwall_sensor_blocklist'))).toEqual([]);
    // A queue label once, from the resource: the series have no label of their own that would clash.
    expect(matching(samples, 'p2pwall_sensor_queue_packets_total')[0]!.labels).toEqual(INSTANCE);

    // Values are read when scraped: later packets and flow ends show in the next scrape.
    flush(1000);
    samples = await scrape();
    expect(v('p2pwall_sensor_flows')).toBe(0);
    expect(v('p2pwall_sensor_flows_evicted_total', { reason: 'shutdown' })).toBe(5);
  });

  it('reports each kernel set\'s fill against its maxelem, and the ipset commands by result', async () => {
    const stats: KernelSetsStats = { pending: 0, applied: 1001, failed: 4000, skipped: 2, shed: 7, children: 2, retries: 1, errorLinesSuppressed: 0 };
    const fill: SetFill[] = [{ name: 'p2pwall-peer-ip4', entries: 1000, maxEntries: 1000 }, { name: 'p2pwall-peer-ep4', entries: 1, maxEntries: 2_097_152 }];
    const { scrape } = await instrumented({}, { kernelSets: () => ({ stats, fill }) });
    const samples = await scrape();
    expect(valueOf(samples, 'p2pwall_sensor_kernel_set_entries', { ...INSTANCE, set: 'p2pwall-peer-ip4' })).toBe(1000);
    expect(valueOf(samples, 'p2pwall_sensor_kernel_set_max_entries', { set: 'p2pwall-peer-ip4' })).toBe(1000);
    expect(valueOf(samples, 'p2pwall_sensor_kernel_set_max_entries', { set: 'p2pwall-peer-ep4' })).toBe(2_097_152);
    expect(valueOf(samples, 'p2pwall_sensor_kernel_set_commands_total', { result: 'failed' })).toBe(4000);
    expect(valueOf(samples, 'p2pwall_sensor_kernel_set_commands_total', { result: 'shed' })).toBe(7);
  });

  it('reports the bytes module buffers hold and the buffers the budget refused', async () => {
    // Room for one head of the smallest size, not for a second.
    const { send, flush, scrape } = await instrumented({ moduleBufferBytes: HEAD_START_CAPACITY + HEAD_OVERHEAD_BYTES });
    send(tcp({ src: CLIENT, dst: '198.51.100.7', sport: 40001, dport: 8080, payload: 'G' }));
    send(tcp({ src: CLIENT, dst: '198.51.100.7', sport: 40002, dport: 8080, payload: 'G' }));
    let samples = await scrape();
    expect(valueOf(samples, 'p2pwall_sensor_module_buffer_bytes', INSTANCE)).toBe(HEAD_START_CAPACITY + HEAD_OVERHEAD_BYTES);
    expect(valueOf(samples, 'p2pwall_sensor_module_buffers_refused_total', {})).toBe(1);
    flush(1000);
    samples = await scrape();
    expect(valueOf(samples, 'p2pwall_sensor_module_buffer_bytes', {})).toBe(0);
  });

  it('counts every rule that matched, and would_drop verdicts in monitor mode', async () => {
    const { send, scrape, engine } = await instrumented({ monitor: true });
    send(ping());
    // A clear-text hash request to another outside host: http-hash-request evidence.
    const download = new TcpConversation(OTHER_HOST, 42000, '203.0.113.200', 2121);
    for (const packet of [download.syn(), download.synAck(), download.ack(), ...download.send(true, hashRequest())]) send(packet, 10);
    send(syn(OTHER_HOST, PEER.ip, PEER.port), 30);
    const samples = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => valueOf(samples, name, labels);
    expect(v('p2pwall_sensor_detections_total', { protocol: 'fasttrack', rule: 'fasttrack/udp-ping' })).toBe(1);
    expect(v('p2pwall_sensor_detections_total', { protocol: 'fasttrack', rule: 'fasttrack/http-hash-request' })).toBe(1);
    expect(v('p2pwall_sensor_clients_identified_total', { protocol: 'fasttrack' })).toBe(2);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'would_drop', reason: 'signature' })).toBe(2);
    expect(v('p2pwall_sensor_verdicts_total', { verdict: 'would_drop', reason: 'learned-peer' })).toBe(1);
    const sum = (labels: Record<string, string>) => matching(samples, 'p2pwall_sensor_verdicts_total', labels).reduce((total, s) => total + s.value, 0);
    expect(sum({ verdict: 'drop' })).toBe(0);
    expect(sum({ verdict: 'would_drop' })).toBe(engine.counters.wouldDrop);
    expect(sum({})).toBe(engine.counters.packets);
  });

  it('reports this queue\'s kernel counters and the uplink: summaries, connectivity, blocklist size, version and lag', async () => {
    const kernel = ['    0  11111     0 2 65531     0     0       42  1', '    3  22222     4 2 65531     5     7     9000  1'].join('\n');
    const uplink: UplinkStats = {
      nats: publisherStats({ published: 12, backlog: 3, shed: 2, encodeErrors: 1, connected: false }),
      blocklist: blocklistStats({ version: 7, latestSeenVersion: 10, byScope: { endpoint: 4, ip: 2, host: 1, other: 0 } }),
      unmappable: 0,
    };
    const { scrape } = await instrumented({}, { kernel, uplink });
    const samples = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => valueOf(samples, name, labels);
    expect(v('p2pwall_sensor_kernel_queue_length', INSTANCE)).toBe(4);
    expect(v('p2pwall_sensor_kernel_queue_dropped_total')).toBe(5);
    expect(v('p2pwall_sensor_kernel_queue_user_dropped_total')).toBe(7);
    expect(v('p2pwall_sensor_summaries_published_total')).toBe(12);
    expect(v('p2pwall_sensor_summaries_buffered')).toBe(3);
    expect(v('p2pwall_sensor_summaries_shed_total', { reason: 'backlog_full' })).toBe(2);
    expect(v('p2pwall_sensor_summaries_shed_total', { reason: 'unencodable' })).toBe(1);
    expect(v('p2pwall_sensor_summaries_shed_total', { reason: 'unmappable' })).toBe(0);
    expect(v('p2pwall_sensor_uplink_connected', { target: 'nats' })).toBe(0);
    expect(v('p2pwall_sensor_uplink_connected', { target: 'redis' })).toBe(1);
    expect(v('p2pwall_sensor_blocklist_entries', { scope: 'endpoint' })).toBe(4);
    expect(v('p2pwall_sensor_blocklist_entries', { scope: 'host' })).toBe(1);
    expect(v('p2pwall_sensor_blocklist_version')).toBe(7);
    expect(v('p2pwall_sensor_blocklist_version_lag')).toBe(3);
  });

  it('reports what the addon binding counts: batches, the largest, its losses by reason, and cut packets', async () => {
    const binding: QueueBindingStats = { packets: 900, batches: 40, largestBatch: 128, enobufs: 2, receiveErrors: 0, verdictSendErrors: 3, verdictErrors: 1, lastVerdictErrno: 2, unanswered: 5, truncated: 6, callbackErrors: 0 };
    const { scrape } = await instrumented({}, { queueBinding: () => binding });
    const samples = await scrape();
    const v = (name: string, labels: Record<string, string> = {}) => valueOf(samples, name, labels);
    expect(v('p2pwall_sensor_queue_batches_total')).toBe(40);
    expect(v('p2pwall_sensor_queue_largest_batch')).toBe(128);
    expect(v('p2pwall_sensor_queue_binding_losses_total', { reason: 'enobufs' })).toBe(2);
    expect(v('p2pwall_sensor_queue_binding_losses_total', { reason: 'receive_error' })).toBe(0);
    expect(v('p2pwall_sensor_queue_binding_losses_total', { reason: 'verdict_send_error' })).toBe(3);
    expect(v('p2pwall_sensor_queue_binding_losses_total', { reason: 'verdict_error' })).toBe(1);
    expect(v('p2pwall_sensor_queue_binding_losses_total', { reason: 'unanswered' })).toBe(5);
    expect(v('p2pwall_sensor_queue_truncated_total')).toBe(6);
  });

  it('a lag never goes below zero (Redis lost its blocklist and counts again from 1)', async () => {
    const uplink: UplinkStats = { nats: null, blocklist: blocklistStats({ version: 40, latestSeenVersion: 2 }), unmappable: 0 };
    const { scrape } = await instrumented({}, { uplink });
    const samples = await scrape();
    expect(valueOf(samples, 'p2pwall_sensor_blocklist_version_lag')).toBe(0);
    expect(matching(samples, 'p2pwall_sensor_uplink_connected').map((s) => s.labels['target'])).toEqual(['redis']);
    expect(matching(samples, 'p2pwall_sensor_summaries_published_total')).toEqual([]);
  });
});
