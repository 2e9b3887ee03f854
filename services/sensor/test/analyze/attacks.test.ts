/**
 * DESIGN principle 6 on crafted captures: untrusted input cannot choose what is blocked. Each
 * `attack-*` scenario of the lab (lab/src/synthetic/attacks.ts) goes through the engine exactly
 * as `p2pwall-sensor analyze` runs it with its defaults: written as a pcap, read back by the
 * capture reader, replayed, and collected by the analysis collector into its summary.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTACK_SCENARIOS, NEVER_PEERS, SCENARIOS, SYNTHETIC_EPOCH, kazaaStartup, mixed, tcpOnlyClient, writeScenario, type Scenario } from '@p2pwall/lab';
import { endpointText } from '@p2pwall/common';
import { afterAll, describe, expect, it } from 'vitest';
import { replay } from '../../src/analyze/replay.js';
import { AnalysisCollector, type AnalysisSummary } from '../../src/analyze/summary.js';
import { openCapture } from '../../src/capture/open.js';
import { CidrSet, DEFAULT_INSIDE_NETWORKS } from '../../src/decode/cidr.js';
import { DEFAULT_OPEN_PORTS } from '../../src/engine-config.js';
import { Engine } from '../../src/engine.js';
import type { EngineEvent, FlowEvent } from '../../src/events.js';
import { SENSOR_CLI } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-attacks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(scenario: Scenario): string {
  const path = join(dir, `${scenario.name}.pcap`);
  writeScenario(path, scenario);
  return path;
}

/** `analyze` with its default options: the engine it builds, the collector it feeds, the summary it prints. */
function analyse(scenario: Scenario): { events: EngineEvent[]; summary: AnalysisSummary } {
  const path = capture(scenario);
  const events: EngineEvent[] = [];
  const collector = new AnalysisCollector();
  const engine = new Engine(
    {
      inside: new CidrSet(DEFAULT_INSIDE_NETWORKS),
      timeLockMs: 120 * 1000,
      dropUdp: true,
      monitor: false,
      openPorts: [...DEFAULT_OPEN_PORTS],
      maxFlows: 262_144,
    },
    (event) => {
      collector.sink(event);
      events.push(event);
    },
  );
  const source = openCapture(path);
  try {
    replay(source, engine);
  } finally {
    source.close();
  }
  expect(engine.counters.packets).toBe(scenario.frames.length);
  expect(engine.counters.malformed).toBe(0);
  return { events, summary: collector.summary(engine, [path]) };
}

/** Identified hosts, each with the rule that identified it (so a failure says why). */
const clientsOf = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'client' ? [`${e.host} (${e.evidence.map((r) => r.rule).join(', ')})`] : []));
const clientHosts = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'client' ? [e.host] : []));
/** Learned peers as `ip:port` (`ip:*` for a whole address), with how each was learned. */
const peersOf = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'peer' || e.event === 'peer-refresh' ? [`${endpointText(e.ip, e.port === 0 ? '*' : e.port)} (${e.via})`] : []));
const peerEndpoints = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'peer' || e.event === 'peer-refresh' ? [endpointText(e.ip, e.port === 0 ? '*' : e.port)] : []));
const locksOf = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'lock' ? [e.host] : []));
const flowsOf = (events: EngineEvent[]) => events.filter((e): e is FlowEvent => e.event === 'flow');
const flowText = (f: FlowEvent) => `${f.proto} ${endpointText(f.src, f.sport)} > ${endpointText(f.dst, f.dport)} (${f.verdict}${f.wouldDrop ? ', would drop' : ''}, ${f.reason})`;
/** Flows judged "drop", dropped or only reported as such. */
const droppedFlows = (events: EngineEvent[]) => flowsOf(events).filter((f) => f.verdict === 'drop' || f.wouldDrop).map(flowText);

const pureAttacks = Object.values(ATTACK_SCENARIOS)
  .map((build) => build())
  .filter((s) => s.expected.clients.length === 0);
const namedPeerAttacks = Object.values(ATTACK_SCENARIOS)
  .map((build) => build())
  .filter((s) => s.expected.clients.length > 0);

describe('crafted captures cannot choose what is blocked (DESIGN principle 6)', () => {
  it('every attack scenario is offered by `p2pwall-lab synth` under an attack-* name', () => {
    expect(pureAttacks.length + namedPeerAttacks.length).toBe(Object.keys(ATTACK_SCENARIOS).length);
    for (const [name, build] of Object.entries(ATTACK_SCENARIOS)) {
      expect(name).toMatch(/^attack-/);
      expect(build().name).toBe(name);
      expect(SCENARIOS[name]).toBe(build);
    }
  });

  describe.each(pureAttacks.map((s) => [s.name, s] as const))('%s', (_name, scenario) => {
    it('identifies no client, learns no peer and drops nothing', () => {
      const { events, summary } = analyse(scenario);
      expect.soft(clientsOf(events), 'clients identified').toEqual([]);
      expect.soft(locksOf(events), 'hosts locked').toEqual([]);
      expect.soft(peersOf(events), 'peers learned').toEqual([]);
      expect.soft(droppedFlows(events), 'flows judged drop').toEqual([]);
      expect(summary).toMatchObject({ clients: 0, peers: 0, droppedPackets: 0, wouldDropPackets: 0, droppedFlows: 0 });
    });
  });

  describe.each(namedPeerAttacks.map((s) => [s.name, s] as const))('%s', (_name, scenario) => {
    it('catches the genuine client and learns its real peers, but none of the services or unusable addresses named', () => {
      const { events } = analyse(scenario);
      expect(clientHosts(events)).toEqual(scenario.expected.clients);
      const learned = peerEndpoints(events);
      expect.soft(learned.filter((peer) => !scenario.expected.peers.includes(peer)).sort(), 'peers that must not be learned').toEqual([]);
      expect.soft(scenario.expected.peers.filter((peer) => !learned.includes(peer)).sort(), 'real peers missed').toEqual([]);
      expect.soft(learned.filter((peer) => NEVER_PEERS.includes(peer)), 'inside, loopback, link-local, multicast, broadcast, unspecified or reserved peers').toEqual([]);
      const untouched = new Set(scenario.expected.untouched ?? []);
      const blockedServices = flowsOf(events).filter((f) => (untouched.has(f.src) || untouched.has(f.dst)) && (f.verdict === 'drop' || f.wouldDrop));
      expect.soft(blockedServices.map(flowText), 'flows to the services named').toEqual([]);
    });
  });

  it('genuine clients are still caught, with all their peers, while attacks on other hosts run beside them', () => {
    const scenario = mixed(
      [kazaaStartup(), tcpOnlyClient({ start: SYNTHETIC_EPOCH + 1500 }), ATTACK_SCENARIOS['attack-web-reply']!(), ATTACK_SCENARIOS['attack-inbound-hash']!(), ATTACK_SCENARIOS['attack-named-peers-low-port']!()],
      'genuine-and-attacks',
    );
    const { events } = analyse(scenario);
    expect(new Set(clientHosts(events))).toEqual(new Set(['192.168.1.5', '192.168.1.6', '192.168.1.21']));
    expect(new Set(peerEndpoints(events))).toEqual(new Set(scenario.expected.peers));
    const victims = flowsOf(events).filter((f) => ['192.168.1.20', '192.168.1.10'].includes(f.src) || ['192.168.1.20', '192.168.1.10'].includes(f.dst));
    expect(victims.length).toBeGreaterThan(0);
    expect(victims.filter((f) => f.verdict === 'drop' || f.wouldDrop).map(flowText)).toEqual([]);
  });

  describe.each(['attack-web-reply', 'attack-dns-pong', 'attack-inbound-hash'])('the built `p2pwall-sensor analyze` on %s', (name) => {
    it('reports no client, no peer and no drop', () => {
      const path = capture(ATTACK_SCENARIOS[name]!());
      const run = spawnSync(process.execPath, [SENSOR_CLI, 'analyze', '--format', 'jsonl', '--no-progress', path], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { event: string });
      expect(lines.filter((e) => e.event === 'client' || e.event === 'peer')).toEqual([]);
      expect(lines.at(-1)).toMatchObject({ event: 'summary', clients: 0, peers: 0, droppedPackets: 0, wouldDropPackets: 0, droppedFlows: 0 });
    });
  });
});
