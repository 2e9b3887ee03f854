import type { EveEvent } from '@p2pwall/common/eve';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, writeScenario } from '@p2pwall/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { SENSOR_CLI, SHARED_PCAPS, SKIP_SHARED } from './support.js';

/**
 * `analyze --format eve` (the built binary): every line a Suricata EVE event with the fields and
 * types EVE readers take, and flow_id linking a client's alert, the peers it learned on that
 * flow and the flow events, on the lab's Kazaa capture and on a real BitTorrent capture.
 */

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-eve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kazaa = join(dir, 'kazaa.pcap');
writeScenario(kazaa, SCENARIOS['kazaa-demo']!());

/** analyze's lines, as the one EVE mapping types them (@p2pwall/common/eve); every p2pwall object names its event. */
type Eve = EveEvent & { p2pwall: { event: string } };

/** Suricata's own timestamp form: 2026-01-01T00:00:00.123456+0000. */
const SURICATA_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d{4}$/;

function analyzeEve(...args: string[]): Eve[] {
  const run = spawnSync(process.execPath, [SENSOR_CLI, 'analyze', '--format', 'eve', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const lines = run.stdout.split('\n');
  expect(lines.pop()).toBe('');
  return lines.map((line) => JSON.parse(line) as Eve);
}

/** What an EVE reader (EveBox, Filebeat's suricata module) relies on, checked on every event. */
function checkTypes(e: Eve): void {
  expect(e.timestamp).toMatch(SURICATA_TIME);
  // the timestamp is a real instant (Date parses the offset once written with a colon)
  expect(Number.isNaN(Date.parse(e.timestamp.replace(/(\d\d)(\d\d)$/, '$1:$2')))).toBe(false);
  expect(Number.isSafeInteger(e.flow_id)).toBe(true);
  expect(e.flow_id).toBeGreaterThan(0);
  expect(e.flow_id).toBeLessThan(2 ** 51);
  expect(['alert', 'flow']).toContain(e.event_type);
  expect(typeof e.src_ip).toBe('string');
  expect(typeof e.dest_ip).toBe('string');
  expect(Number.isInteger(e.src_port) && e.src_port >= 0 && e.src_port <= 65535).toBe(true);
  expect(Number.isInteger(e.dest_port) && e.dest_port >= 0 && e.dest_port <= 65535).toBe(true);
  expect(e.proto).toMatch(/^(TCP|UDP|IP)$/);
  expect(typeof e.p2pwall).toBe('object');
  if (e.event_type === 'alert') {
    expect(e.alert).toMatchObject({ gid: 1, rev: 1, category: 'Potential Corporate Privacy Violation' });
    expect(['allowed', 'blocked']).toContain(e.alert!.action);
    expect(e.alert!.signature).toMatch(/^P2PWALL [a-z0-9-]+\/[a-z0-9._-]+ /);
    expect(Number.isInteger(e.alert!.signature_id)).toBe(true);
    expect([2, 3]).toContain(e.alert!.severity);
    expect(['client', 'peer']).toContain(e.p2pwall.event);
  } else {
    const f = e.flow!;
    for (const n of [f.pkts_toserver, f.pkts_toclient, f.bytes_toserver, f.bytes_toclient, f.age]) expect(Number.isInteger(n) && n >= 0).toBe(true);
    expect(f.start).toMatch(SURICATA_TIME);
    expect(f.end).toMatch(SURICATA_TIME);
    expect(f.start <= f.end).toBe(true);
    expect(['timeout', 'forced', 'shutdown']).toContain(f.reason);
    expect(typeof f.alerted).toBe('boolean');
    expect(e.p2pwall.event).toBe('flow');
  }
}

describe('analyze --format eve', () => {
  it('the lab Kazaa capture: typed EVE events; flow_id links the client alert, the peer learned on its flow and that flow', () => {
    const events = analyzeEve(kazaa);
    events.forEach(checkTypes);
    const clients = events.filter((e) => e.p2pwall.event === 'client');
    const peers = events.filter((e) => e.p2pwall.event === 'peer');
    const flows = events.filter((e) => e.event_type === 'flow');
    // the same numbers as the jsonl summary of this capture (cli.test.ts): 3 clients, 207 peers
    expect(clients).toHaveLength(3);
    expect(peers).toHaveLength(207);
    expect(flows.length).toBeGreaterThan(200);

    const first = clients.find((c) => c.p2pwall['host'] === '192.168.1.5')!;
    expect(first).toMatchObject({ event_type: 'alert', src_ip: '192.168.1.5', proto: 'UDP', app_proto: 'fasttrack', alert: { action: 'blocked', severity: 2 } });
    expect(first.alert!.signature).toMatch(/^P2PWALL fasttrack\/udp-ping fasttrack client identified/);
    expect(first.p2pwall).toMatchObject({ rule: 'fasttrack/udp-ping', protocol: 'fasttrack', packet: expect.any(Number) });
    // its identifying flow, as the flow event reports it when it ends
    const flow = flows.find((f) => f.src_ip === first.src_ip && f.src_port === first.src_port && f.dest_ip === first.dest_ip && f.dest_port === first.dest_port && f.proto === first.proto)!;
    expect(flow).toBeDefined();
    expect(flow.flow_id).toBe(first.flow_id);
    expect(flow.app_proto).toBe('fasttrack');
    expect(flow.p2pwall).toMatchObject({ verdict: 'drop', rules: expect.arrayContaining(['fasttrack/udp-ping']) });
    expect(flow.flow!.alerted).toBe(true);
    // the peer learned on it: the outside end of that flow, from that host
    const peer = peers.find((p) => p.dest_ip === first.dest_ip && p.dest_port === first.dest_port && p.src_ip === '192.168.1.5')!;
    expect(peer).toBeDefined();
    expect(peer.flow_id).toBe(first.flow_id);
    expect(peer.alert).toMatchObject({ severity: 3, action: 'blocked' });
    // ids differ across conversations: one per host and outside endpoint
    const ids = new Map<number, string>();
    for (const f of flows) {
      const inside = f.src_ip.startsWith('192.168.') ? [f.src_ip, f.dest_ip, f.dest_port] : [f.dest_ip, f.src_ip, f.src_port];
      const key = inside.join('|');
      if (ids.has(f.flow_id)) expect(ids.get(f.flow_id)).toBe(key);
      ids.set(f.flow_id, key);
    }
    expect(ids.size).toBeGreaterThan(200);
    // counters follow the direction: the UDP pings went out from src and were never answered
    expect(flow.flow!.pkts_toserver).toBeGreaterThan(0);
  });

  it('--monitor: the same alerts, "allowed"', () => {
    const events = analyzeEve('--monitor', kazaa);
    const alerts = events.filter((e) => e.event_type === 'alert');
    expect(alerts.length).toBe(210);
    expect(new Set(alerts.map((e) => e.alert!.action))).toEqual(new Set(['allowed']));
  });

  it.skipIf(SKIP_SHARED !== '')(`a real BitTorrent capture (../shared/pcaps/bittorrent.pcap) ${SKIP_SHARED}`, () => {
    const events = analyzeEve(join(SHARED_PCAPS, 'bittorrent.pcap'));
    events.forEach(checkTypes);
    const clients = events.filter((e) => e.p2pwall.event === 'client');
    expect(clients.length).toBeGreaterThan(0);
    const flowIds = new Set(events.filter((e) => e.event_type === 'flow').map((e) => e.flow_id));
    // every client alert names a flow whose flow event carries the same id
    for (const client of clients) expect(flowIds.has(client.flow_id), JSON.stringify(client.p2pwall['flow'])).toBe(true);
    expect(events.filter((e) => e.event_type === 'flow' && e.app_proto === 'bittorrent').length).toBeGreaterThan(0);
    // one flow event per flow of the capture's ground truth, with its transport
    const truth = (JSON.parse(readFileSync(join(SHARED_PCAPS, 'ground_truth.json'), 'utf8')) as { pcap: string; flows: { proto: string }[] }[]).find((c) => c.pcap === 'bittorrent.pcap')!;
    const flows = events.filter((e) => e.event_type === 'flow');
    expect(flows).toHaveLength(truth.flows.length);
    expect(flows.map((e) => e.proto).sort()).toEqual(truth.flows.map((f) => f.proto.toUpperCase()).sort());
  });
});
