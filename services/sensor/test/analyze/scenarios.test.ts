import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, kazaaStartup, pushToClient, tcpOnlyClient, writeScenario, type Scenario } from '@p2pwall/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { openCapture } from '../../src/capture/open.js';
import { replay } from '../../src/analyze/replay.js';
import { Engine } from '../../src/engine.js';
import type { EngineEvent, FlowEvent } from '../../src/events.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-scenarios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the scenario as a pcap, reads it back through the capture reader, runs the engine. */
function analyse(scenario: Scenario): { events: EngineEvent[]; engine: Engine } {
  const path = join(dir, `${scenario.name}.pcap`);
  writeScenario(path, scenario);
  const events: EngineEvent[] = [];
  const engine = new Engine({}, (event) => events.push(event));
  const source = openCapture(path);
  replay(source, engine);
  source.close();
  expect(engine.counters.packets).toBe(scenario.frames.length);
  return { events, engine };
}

const clientsOf = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'client' ? [e.host] : []));
const peersOf = (events: EngineEvent[]) => events.flatMap((e) => (e.event === 'peer' ? [`${e.ip}:${e.port === 0 ? '*' : e.port}`] : []));
const flowsOf = (events: EngineEvent[]) => events.filter((e): e is FlowEvent => e.event === 'flow');

describe('synthetic FastTrack captures', () => {
  it('a Kazaa start-up: the client and all 200 cached peers, the pong-2 node, the uploader and the supernodes', () => {
    const scenario = kazaaStartup();
    const { events, engine } = analyse(scenario);
    expect(clientsOf(events)).toEqual(['192.168.1.5']);
    expect(new Set(peersOf(events))).toEqual(new Set(scenario.expected.peers));
    expect(scenario.expected.peers).toHaveLength(204);
    const flows = flowsOf(events);
    // Every node ping was dropped, and every TCP connect to a cached peer.
    const pings = flows.filter((f) => f.proto === 'udp' && f.src === '192.168.1.5');
    expect(pings).toHaveLength(200);
    expect(pings.every((f) => f.verdict === 'drop' && f.letter === 'u')).toBe(true);
    const connects = flows.filter((f) => f.proto === 'tcp' && f.src === '192.168.1.5' && f.dport !== 2121);
    expect(connects).toHaveLength(30);
    expect(connects.every((f) => f.verdict === 'drop' && f.reason === 'learned-peer')).toBe(true);
    // The download went to a peer not in the cache: the time-lock stopped its SYN.
    expect(flows.find((f) => f.dport === 2121)).toMatchObject({ verdict: 'drop', reason: 'time-lock', app: 'fasttrack' });
    // Its SYN, SYN-ACK and ACK; the GET that followed named the uploader, a learned peer from then on.
    expect(engine.counters.droppedTimeLock).toBe(3);
  });

  it('a client with UDP disabled, caught through its HTTP download headers (split over two segments)', () => {
    const scenario = tcpOnlyClient();
    const { events } = analyse(scenario);
    expect(clientsOf(events)).toEqual(['192.168.1.6']);
    expect(new Set(peersOf(events))).toEqual(new Set(scenario.expected.peers));
    const client = events.find((e) => e.event === 'client');
    expect(client).toMatchObject({ evidence: [expect.objectContaining({ rule: 'fasttrack/http-hash-request' })] });
    // The handshake before the download went to a peer nobody knew yet: no evidence, no drop.
    const handshake = flowsOf(events).find((f) => f.sport === 45000);
    expect(handshake).toMatchObject({ app: null, verdict: 'accept' });
  });

  it('a push (GIVE) from an outside uploader', () => {
    const scenario = pushToClient();
    const { events } = analyse(scenario);
    expect(clientsOf(events)).toEqual(['192.168.1.7']);
    expect(peersOf(events)).toEqual(['198.51.100.77:*']);
  });

  it('ordinary traffic passes untouched, also from a locked client to open ports', () => {
    const { events, engine } = analyse(SCENARIOS['benign']!());
    expect(clientsOf(events)).toEqual([]);
    expect(peersOf(events)).toEqual([]);
    expect(engine.counters.dropped).toBe(0);
    expect(flowsOf(events).every((f) => f.app === null && f.verdict === 'accept')).toBe(true);
  });

  it('the demo mix: every expected client and peer, nothing else, and the benign host untouched', () => {
    const scenario = SCENARIOS['kazaa-demo']!();
    const { events } = analyse(scenario);
    expect(new Set(clientsOf(events))).toEqual(new Set(scenario.expected.clients));
    expect(new Set(peersOf(events))).toEqual(new Set(scenario.expected.peers));
    expect(flowsOf(events).filter((f) => f.src === '192.168.1.20').every((f) => f.verdict === 'accept')).toBe(true);
  });
});
