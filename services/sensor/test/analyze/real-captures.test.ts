import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { locateIp, LINK_MALFORMED, LINK_NOT_IP } from '../../src/capture/link.js';
import { openCapture } from '../../src/capture/open.js';
import { replay } from '../../src/analyze/replay.js';
import { decodeIp, DecodeStatus, IPPROTO_TCP, PacketView } from '../../src/decode/packet.js';
import { Engine } from '../../src/engine.js';
import type { EngineEvent, FlowEvent } from '../../src/events.js';
import { SHARED_PCAPS, SKIP_SHARED, sharedCaptures } from './support.js';

/**
 * Real traffic from nDPI's test suite, scored against its ground truth (ground_truth.json):
 * every BitTorrent flow caught (dropped, or labelled bittorrent), the LSD announcement
 * identified, at least 90% of the payload-labelled Gnutella flows caught, the eDonkey flow
 * caught, nothing flagged in
 * ordinary traffic, and no capture taken for a family it does not hold.
 */

interface TruthFlow {
  proto: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  p2p: string | null;
  p2p_label_basis: string | null;
}

interface TruthCapture {
  pcap: string;
  group: string;
  flows: TruthFlow[];
}

const ORDINARY = ['http.pcapng', '443-curl.pcap', 'dns.pcap', 'quic.pcap', 'ssh.pcap', 'NTPv4.pcap', 'ftp.pcap'];

function truth(): Map<string, TruthCapture> {
  const entries = JSON.parse(readFileSync(join(SHARED_PCAPS, 'ground_truth.json'), 'utf8')) as TruthCapture[];
  return new Map(entries.map((entry) => [entry.pcap, entry]));
}

interface Run {
  engine: Engine;
  events: EngineEvent[];
  flows: FlowEvent[];
}

function analyze(name: string): Run {
  const events: EngineEvent[] = [];
  const engine = new Engine({}, (event) => events.push(event));
  const source = openCapture(join(SHARED_PCAPS, name));
  replay(source, engine);
  source.close();
  return { engine, events, flows: events.filter((event): event is FlowEvent => event.event === 'flow') };
}

function endpointKey(proto: string, a: string, aPort: number, b: string, bPort: number): string {
  return `${proto} ${a}:${aPort} ${b}:${bPort}`;
}

/** Flow events by their two ends, in both orders (one 5-tuple may give several events). */
function flowsByEnds(flows: readonly FlowEvent[]): Map<string, FlowEvent[]> {
  const byEnds = new Map<string, FlowEvent[]>();
  for (const flow of flows) {
    for (const key of [endpointKey(flow.proto, flow.src, flow.sport, flow.dst, flow.dport), endpointKey(flow.proto, flow.dst, flow.dport, flow.src, flow.sport)]) {
      const list = byEnds.get(key) ?? [];
      list.push(flow);
      byEnds.set(key, list);
    }
  }
  return byEnds;
}

function caught(flow: FlowEvent, app: string): boolean {
  return flow.verdict === 'drop' || flow.wouldDrop || flow.app === app;
}

/**
 * Ground-truth flows of one family in a capture (by default BitTorrent; `only` narrows them, e.g.
 * to those nDPI labelled by payload), and how many of them the engine caught: dropped, or
 * labelled with the family's module.
 */
function score(run: Run, capture: TruthCapture, family = 'BitTorrent', app = 'bittorrent', only: (flow: TruthFlow) => boolean = () => true): { total: number; caught: number; missed: string[] } {
  const byEnds = flowsByEnds(run.flows);
  const expected = capture.flows.filter((flow) => flow.p2p === family && only(flow));
  const missed: string[] = [];
  for (const flow of expected) {
    const key = endpointKey(flow.proto, flow.src, flow.sport, flow.dst, flow.dport);
    if (!(byEnds.get(key) ?? []).some((event) => caught(event, app))) missed.push(key);
  }
  return { total: expected.length, caught: expected.length - missed.length, missed };
}

function clientsOf(run: Run, protocol: string): EngineEvent[] {
  return run.events.filter((event) => event.event === 'client' && event.protocol === protocol);
}

const table: string[] = [];

function row(capture: string, expected: string, result: string, run: Run): void {
  const c = run.engine.counters;
  table.push(`${capture.padEnd(16)} ${expected.padEnd(30)} ${result.padEnd(26)} clients ${c.clients}, peers ${c.peers}, dropped ${c.dropped} pkts`);
}

describe.skipIf(SKIP_SHARED !== '')(`real captures in ../shared/pcaps ${SKIP_SHARED}`, () => {
  afterAll(() => {
    if (table.length > 0) console.log(`\nper-capture accuracy\n${'capture'.padEnd(16)} ${'expected'.padEnd(30)} ${'result'.padEnd(26)} engine\n${table.join('\n')}\n`);
  });

  it.each(sharedCaptures())('%s: parsed to the end, every packet judged', (name) => {
    const { engine, flows } = analyze(name);
    const c = engine.counters;
    expect(c.packets).toBeGreaterThan(0);
    const flowPackets = flows.reduce((sum, e) => sum + e.packetsOut + e.packetsIn, 0);
    expect(flowPackets + c.notIp + c.malformed + c.laterFragments).toBe(c.packets);
    expect(c.malformed / c.packets).toBeLessThan(0.01);
  });

  it('bittorrent.pcap: at least 23 of its 24 BitTorrent flows caught', () => {
    const run = analyze('bittorrent.pcap');
    const result = score(run, truth().get('bittorrent.pcap')!);
    row('bittorrent.pcap', `${result.total} BitTorrent flows caught`, `${result.caught} of ${result.total} caught`, run);
    expect(result.total).toBe(24);
    expect(result.missed).toEqual([]);
    expect(result.caught).toBeGreaterThanOrEqual(23);
  });

  it('bt_search.pcap: the LSD announcement identifies its sender', () => {
    const run = analyze('bt_search.pcap');
    const clients = run.events.filter((event) => event.event === 'client');
    const identified = clients.some((event) => event.event === 'client' && event.host === '192.168.0.102' && event.evidence.some((record) => record.rule === 'bittorrent/lsd'));
    const result = score(run, truth().get('bt_search.pcap')!);
    row('bt_search.pcap', 'LSD sender identified', identified ? `identified, ${result.caught} of ${result.total} flows` : 'missed', run);
    expect(identified).toBe(true);
    expect(result.caught).toBe(result.total);
    // The multicast group is never learned as a peer.
    expect(run.events.filter((event) => event.event === 'peer')).toEqual([]);
  });

  it.each(ORDINARY)('%s: ordinary traffic, nothing flagged', (name) => {
    const run = analyze(name);
    const flagged = run.flows.filter((flow) => flow.app !== null || flow.verdict === 'drop' || flow.wouldDrop);
    row(name, 'nothing flagged', flagged.length === 0 ? 'nothing flagged' : `${flagged.length} flows flagged`, run);
    expect(run.events.filter((e) => e.event === 'client' || e.event === 'peer')).toEqual([]);
    expect(flagged).toEqual([]);
  });

  it('edonkey.pcap: its eDonkey flow caught, nothing else flagged', () => {
    const run = analyze('edonkey.pcap');
    const capture = truth().get('edonkey.pcap')!;
    const result = score(run, capture, 'eDonkey', 'edonkey');
    row('edonkey.pcap', `${result.total} eDonkey flow caught`, `${result.caught} of ${result.total} caught`, run);
    expect(result.total).toBe(1);
    expect(result.missed).toEqual([]);
    const [flow] = run.flows;
    // Both ends are outside the default inside networks: the flow is labelled, nothing is learned or dropped.
    expect(flow!.rules).toContain('edonkey/hello');
    expect(run.flows.filter((f) => f.app !== null && f.app !== 'edonkey')).toEqual([]);
  });

  it('gnutella.pcap: at least 90% of its payload-labelled Gnutella flows caught, none taken for BitTorrent', () => {
    const run = analyze('gnutella.pcap');
    const capture = truth().get('gnutella.pcap')!;
    const result = score(run, capture, 'Gnutella', 'gnutella', (flow) => flow.p2p_label_basis === 'payload');
    const all = score(run, capture, 'Gnutella', 'gnutella');
    const learned = run.events.filter((event) => event.event === 'peer').length;
    row('gnutella.pcap', `${result.total} payload-labelled caught`, `${result.caught} of ${result.total} caught`, run);
    table.push(`${''.padEnd(16)} ${'(every Gnutella-labelled flow)'.padEnd(30)} ${`${all.caught} of ${all.total}, ${learned} peers`.padEnd(26)}`);
    expect(result.total).toBe(327);
    expect(result.caught / result.total).toBeGreaterThanOrEqual(0.9);
    expect(run.flows.filter((flow) => flow.app === 'bittorrent')).toEqual([]);
    expect(clientsOf(run, 'bittorrent')).toEqual([]);
    // The capture's only client is 10.0.2.15; nothing inside (its NAT gateway, 10.0.2.2) is learned.
    expect(clientsOf(run, 'gnutella').map((event) => event.event === 'client' && event.host)).toEqual(['10.0.2.15']);
    expect(run.events.filter((event) => event.event === 'peer' && (event.ip.startsWith('10.') || event.ip === '93.47.226.53'))).toEqual([]);
  });

  it.each(['bittorrent.pcap', 'bt_search.pcap'])('%s: not taken for Gnutella', (name) => {
    const run = analyze(name);
    const taken = run.flows.filter((flow) => flow.app === 'gnutella' || flow.rules.some((rule) => rule.startsWith('gnutella/')));
    row(name, 'no Gnutella', taken.length === 0 ? 'no Gnutella' : `${taken.length} flows taken`, run);
    expect(clientsOf(run, 'gnutella')).toEqual([]);
    expect(taken).toEqual([]);
  });

  it.each(['bittorrent.pcap', 'bt_search.pcap', 'gnutella.pcap'])('%s: not taken for eDonkey', (name) => {
    const run = analyze(name);
    const taken = run.flows.filter((flow) => flow.app === 'edonkey' || flow.rules.some((rule) => rule.startsWith('edonkey/')));
    row(name, 'no eDonkey', taken.length === 0 ? 'no eDonkey' : `${taken.length} flows taken`, run);
    expect(clientsOf(run, 'edonkey')).toEqual([]);
    expect(taken).toEqual([]);
  });

  it('bittorrent.pcap seen from mid-stream: without any handshake, flows are caught by learned peers', () => {
    // The capture as a sensor would see it had it started after every handshake: every TCP
    // segment that carries one (`0x13 BitTorrent protocol`) is left out.
    const frames = framesOf('bittorrent.pcap').filter((frame) => !carriesHandshake(frame));
    const events: EngineEvent[] = [];
    const engine = new Engine({}, (event) => events.push(event));
    for (const frame of frames) {
      const offset = locateIp(frame.linkType, frame.data);
      if (offset !== LINK_NOT_IP && offset !== LINK_MALFORMED) engine.judgeIp(frame.data, offset, frame.data.length, frame.ts);
    }
    engine.flush(frames.at(-1)!.ts);
    const run: Run = { engine, events, flows: events.filter((event): event is FlowEvent => event.event === 'flow') };
    const capture = truth().get('bittorrent.pcap')!;
    // Flows whose every packet was a handshake are gone from the capture: score the rest.
    const present = new Set(flowsByEnds(run.flows).keys());
    const remaining = { ...capture, flows: capture.flows.filter((flow) => present.has(endpointKey(flow.proto, flow.src, flow.sport, flow.dst, flow.dport))) };
    const result = score(run, remaining);
    const byPeer = run.flows.filter((flow) => flow.reason === 'learned-peer').length;
    row('bittorrent.pcap', 'mid-stream (no handshakes)', `${result.caught} of ${result.total} caught`, run);
    table.push(`${''.padEnd(16)} ${''.padEnd(30)} ${`(${byPeer} by learned peer)`.padEnd(26)}`);
    expect(result.total).toBeGreaterThan(0);
    expect(byPeer).toBeGreaterThan(0);
    expect(result.caught / result.total).toBeGreaterThanOrEqual(0.75);
  });
});

interface Frame {
  data: Uint8Array;
  linkType: number;
  ts: number;
}

function framesOf(name: string): Frame[] {
  const source = openCapture(join(SHARED_PCAPS, name));
  const frames: Frame[] = [];
  for (let packet = source.next(); packet !== null; packet = source.next()) frames.push({ data: Uint8Array.from(packet.data), linkType: packet.linkType, ts: packet.ts });
  source.close();
  return frames;
}

const view = new PacketView();
const PROTOCOL = Buffer.from('\x13BitTorrent protocol', 'latin1');

function carriesHandshake(frame: Frame): boolean {
  const offset = locateIp(frame.linkType, frame.data);
  if (offset < 0 || decodeIp(view, frame.data, offset, frame.data.length) !== DecodeStatus.ok || view.protocol !== IPPROTO_TCP) return false;
  return Buffer.from(frame.data.subarray(view.payloadOffset, view.payloadOffset + view.payloadLength)).includes(PROTOCOL);
}
