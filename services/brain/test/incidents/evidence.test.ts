import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import type { BrainDecision } from '../../src/decide/decision.js';
import { incidentUpdates, UNKNOWN_PROTOCOL, type IncidentFlow } from '../../src/incidents/evidence.js';
import { incidentDecisions } from '../../src/incidents/from-batch.js';

const flow = (over: Partial<IncidentFlow>): IncidentFlow => ({
  site: 'a',
  hostIp: '192.168.1.5',
  insidePort: 40000,
  endpoint: '203.0.113.7:1214',
  outsideIp: '203.0.113.7',
  protocol: 6,
  app: '',
  rules: [],
  firstSeenMs: 1000,
  lastSeenMs: 2000,
  packetsOut: 3,
  packetsIn: 2,
  bytesOut: 300,
  bytesIn: 200,
  droppedPackets: 0,
  dropped: false,
  ongoing: false,
  ...over,
});

const empty = { gateway: 'gw1', flows: [], clients: [], peers: [], decisions: [] };

describe('incidentUpdates', () => {
  it('a client identification opens an episode of its protocol with its rules', () => {
    const [update, ...rest] = incidentUpdates({ ...empty, clients: [{ site: 'a', hostIp: '192.168.1.5', protocol: 'fasttrack', rules: ['fasttrack/udp-ping', 'fasttrack/encrypted-handshake'], tsMs: 1500 }] }, 5);
    expect(rest).toEqual([]);
    expect(update).toMatchObject({ site: 'a', hostIp: '192.168.1.5', protocol: 'fasttrack', opens: true, firstSeenMs: 1500, lastSeenMs: 1500, gateway: 'gw1' });
    expect([...update!.rules]).toEqual([
      ['fasttrack/udp-ping', 1],
      ['fasttrack/encrypted-handshake', 1],
    ]);
  });

  it('detected flows add rules, peers, bytes, samples; benign flows add nothing', () => {
    const updates = incidentUpdates(
      {
        ...empty,
        flows: [
          flow({ app: 'fasttrack', rules: ['fasttrack/encrypted-handshake'] }),
          flow({ app: 'fasttrack', rules: ['fasttrack/encrypted-handshake'], endpoint: '203.0.113.8:2000', outsideIp: '203.0.113.8', firstSeenMs: 900, lastSeenMs: 2500 }),
          flow({ hostIp: '192.168.1.20', endpoint: '203.0.113.250:80' }),
        ],
      },
      1,
    );
    expect(updates).toHaveLength(1);
    const [update] = updates;
    expect(update).toMatchObject({ protocol: 'fasttrack', opens: true, firstSeenMs: 900, lastSeenMs: 2500 });
    expect([...update!.flows.values()]).toEqual([
      { attemptsBlocked: 0, bytes: 500, ended: true },
      { attemptsBlocked: 0, bytes: 500, ended: true },
    ]);
    expect([...update!.rules]).toEqual([['fasttrack/encrypted-handshake', 2]]);
    expect([...update!.peers.keys()]).toEqual(['203.0.113.7:1214', '203.0.113.8:2000']);
    expect(update!.samples).toHaveLength(1);
    expect(update!.samples[0]).toMatchObject({ gateway: 'gw1', protocol: 'tcp', peer: '203.0.113.7:1214', verdict: 'accept', bytesIn: 200 });
  });

  it('an interim summary adds its peer, times, rules (no count) and sample, and its totals so far as a live flow', () => {
    const [update] = incidentUpdates({ ...empty, flows: [flow({ app: 'fasttrack', rules: ['fasttrack/encrypted-handshake'], ongoing: true, dropped: true, droppedPackets: 2 })] }, 5);
    expect(update).toMatchObject({ protocol: 'fasttrack', opens: true });
    expect([...update!.flows]).toEqual([['gw1|6|192.168.1.5|40000|203.0.113.7:1214|1000', { attemptsBlocked: 2, bytes: 500, ended: false }]]);
    expect([...update!.rules]).toEqual([['fasttrack/encrypted-handshake', 0]]);
    expect([...update!.peers.keys()]).toEqual(['203.0.113.7:1214']);
    expect(update!.samples).toHaveLength(1);
  });

  it('blocked attempts without a protocol only extend an open episode, and count dropped packets', () => {
    const [update] = incidentUpdates({ ...empty, flows: [flow({ dropped: true, droppedPackets: 3, bytesIn: 0, packetsIn: 0 }), flow({ dropped: true, droppedPackets: 0, endpoint: '203.0.113.9:80' })] }, 5);
    expect(update).toMatchObject({ protocol: UNKNOWN_PROTOCOL, opens: false });
    expect([...update!.flows.values()].map((f) => f.attemptsBlocked)).toEqual([3, 1]);
    expect(update!.samples.map((s) => s.verdict)).toEqual(['drop', 'drop']);
  });

  it('a flow summarized twice in one batch is one flow: the later totals, final once either is', () => {
    const [update] = incidentUpdates({ ...empty, flows: [flow({ app: 'fasttrack', ongoing: true, dropped: true, droppedPackets: 1 }), flow({ app: 'fasttrack', dropped: true, droppedPackets: 4 })] }, 5);
    expect([...update!.flows.values()]).toEqual([{ attemptsBlocked: 4, bytes: 500, ended: true }]);
  });

  it("a decision naming a host moves none of its times; a finding's times are its evidence's", () => {
    const updates = incidentUpdates(
      {
        ...empty,
        flows: [flow({ app: 'fasttrack', firstSeenMs: 1000, lastSeenMs: 2000 })],
        decisions: [
          { id: 'endpoint:203.0.113.7:1214', hosts: ['a/192.168.1.5', 'b/192.168.2.9'], findings: [], tsMs: 63_000 },
          { id: 'host:b:192.168.2.6', hosts: ['b/192.168.2.6'], findings: ['correlate/blocked-peers'], findingSeenMs: 40_000, tsMs: 63_000 },
        ],
      },
      5,
    );
    expect(updates.map((u) => [u.hostIp, u.protocol, u.activity, u.firstSeenMs, u.lastSeenMs])).toEqual([
      ['192.168.1.5', 'fasttrack', true, 1000, 2000],
      ['192.168.1.5', UNKNOWN_PROTOCOL, false, 63_000, 63_000],
      ['192.168.2.9', UNKNOWN_PROTOCOL, false, 63_000, 63_000],
      ['192.168.2.6', UNKNOWN_PROTOCOL, true, 40_000, 40_000],
    ]);
  });

  it('peers learned from a host belong to that host; peers of unknown origin to no one', () => {
    const updates = incidentUpdates(
      {
        ...empty,
        peers: [
          { learnedFrom: 'a/192.168.1.5', peer: '198.51.100.4:1214', ip: '198.51.100.4', protocol: 'fasttrack', tsMs: 10 },
          { learnedFrom: 'a/192.168.1.5', peer: '198.51.100.4:1214', ip: '198.51.100.4', protocol: 'fasttrack', tsMs: 5 },
          { learnedFrom: '', peer: '198.51.100.5:1214', ip: '198.51.100.5', protocol: 'fasttrack', tsMs: 10 },
        ],
      },
      5,
    );
    expect(updates).toHaveLength(1);
    expect([...updates[0]!.peers]).toEqual([['198.51.100.4:1214', 5]]);
  });

  it('a payload-free finding opens (as unknown) with its rules; a plain decision only extends', () => {
    const updates = incidentUpdates(
      {
        ...empty,
        decisions: [
          { id: 'host:b:192.168.2.6', hosts: ['b/192.168.2.6'], findings: ['correlate/blocked-peers'], tsMs: 50 },
          { id: 'endpoint:198.51.100.4:1214', hosts: ['a/192.168.1.5', 'b/192.168.2.9'], findings: [], tsMs: 60 },
        ],
      },
      5,
    );
    expect(updates.map((u) => [u.site, u.hostIp, u.protocol, u.opens, [...u.rules.keys()], [...u.decisions.keys()]])).toEqual([
      ['b', '192.168.2.6', UNKNOWN_PROTOCOL, true, ['correlate/blocked-peers'], ['host:b:192.168.2.6']],
      ['a', '192.168.1.5', UNKNOWN_PROTOCOL, false, [], ['endpoint:198.51.100.4:1214']],
      ['b', '192.168.2.9', UNKNOWN_PROTOCOL, false, [], ['endpoint:198.51.100.4:1214']],
    ]);
  });

  it('takes the correlation rules of a payload-free host lock as its findings, and no other rule', () => {
    const { Scope, Origin, Action, Transport } = p2pwall.v1;
    const lock = (origin: p2pwall.v1.Origin, scope = Scope.SCOPE_HOST): BrainDecision => ({
      id: 'host:b:192.168.2.6',
      scope,
      ip: Uint8Array.from([192, 168, 2, 6]),
      port: 0,
      site: 'b',
      origin,
      action: Action.ACTION_BLOCK,
      reason: 'r',
      evidence: { hosts: ['b/192.168.2.6'], sites: ['b'], sensors: [], rules: ['correlate/blocked-peers', 'correlate/udp-fanout', 'correlate', 'fasttrack/udp-ping', 'operator/manual'], count: 1, firstSeenMs: 0, lastSeenMs: 0 },
      createdMs: 0,
      expiresMs: 1,
      author: 'a',
      simulated: false,
      transport: Transport.TRANSPORT_BOTH,
    });
    expect(incidentDecisions([lock(Origin.ORIGIN_CORRELATION)], 5)).toEqual([{ id: 'host:b:192.168.2.6', hosts: ['b/192.168.2.6'], findings: ['correlate/blocked-peers', 'correlate/udp-fanout'], tsMs: 5 }]);
    expect(incidentDecisions([lock(Origin.ORIGIN_SIGNATURE)], 5)[0]!.findings).toEqual([]);
    expect(incidentDecisions([lock(Origin.ORIGIN_CORRELATION, Scope.SCOPE_ENDPOINT)], 5)[0]!.findings).toEqual([]);
  });
});
