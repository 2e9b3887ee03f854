import { describe, expect, it } from 'vitest';
import type { AllowView, DecisionView, HostView, IncidentView, PeerView, SensorView } from '../../src/api/views.js';
import { allowTable, decisionBlocks, decisionsTable } from '../../src/ctl/render/decisions.js';
import { healthLine } from '../../src/ctl/render/health.js';
import { hostBlock } from '../../src/ctl/render/hosts.js';
import { incidentBlock, incidentsTable } from '../../src/ctl/render/incidents.js';
import { peerBlock } from '../../src/ctl/render/peers.js';
import { sensorsTable } from '../../src/ctl/render/sensors.js';

const NOW = Date.parse('2026-11-25T10:05:03Z');

const incident: IncidentView = {
  id: 'inc-1',
  site: 'site-a',
  host: '192.168.1.5',
  protocol: 'fasttrack',
  firstSeen: '2026-11-25T10:02:03Z',
  lastSeen: '2026-11-25T10:04:03Z',
  open: true,
  gateways: ['gw1', 'gw2', 'gw3'],
  // in the brain's order (store.ts identifyingFirst): no identification here, so by count
  evidence: [
    { rule: 'udp-ping', count: 200 },
    { rule: 'x-kazaa-header', count: 2 },
    { rule: 'give-push', count: 1 },
  ],
  peers: { count: 200, sample: ['203.0.113.1:1214', '203.0.113.2:1214'] },
  attemptsBlocked: 412,
  bytes: 20_500,
  liveFlows: 0,
  provisional: false,
  identifiedBy: null,
  decisions: ['host:site-a:192.168.1.5'],
  decisionCount: 201,
  state: 'open',
  workflow: [],
  evidenceSinceClosed: false,
  samples: [{ seen: '2026-11-25T10:02:03Z', gateway: 'gw1', protocol: 'udp', peer: '203.0.113.1:1214', app: 'fasttrack', rules: ['udp-ping'], verdict: 'drop', packetsOut: 1, packetsIn: 0, bytesOut: 40, bytesIn: 0 }],
};

const decision: DecisionView = {
  id: 'endpoint:198.51.100.9:1214',
  scope: 'endpoint',
  value: '198.51.100.9:1214',
  ip: '198.51.100.9',
  port: 1214,
  site: '',
  transport: 'both',
  origin: 'signature',
  action: 'block',
  reason: 'learned from a FastTrack client\'s peer cache',
  evidence: { hosts: ['site-a/192.168.1.5'], sites: ['site-a'], sensors: ['site-a/gw1/0'], rules: ['fasttrack/udp-ping'], count: 3, firstSeen: '2026-11-25T10:02:03Z', lastSeen: '2026-11-25T10:02:04Z' },
  created: '2026-11-25T10:02:04Z',
  expires: '2026-12-02T10:02:04Z',
  author: 'p2pwall-brain',
  simulated: false,
};

const allow: AllowView = { id: 'allow:host:site-a:192.168.1.20', scope: 'host', value: '192.168.1.20', site: 'site-a', reason: 'the build server', author: 'ops', created: '2026-11-25T09:05:03Z', expires: null };

describe('p2pwall CLI views as text', () => {
  it('lists incidents in a table with ages, cut lists and the top rules', () => {
    expect(incidentsTable([incident], NOW)).toBe(
      'ID     SITE    HOST         PROTOCOL   STATE  FIRST SEEN                     LAST SEEN                      GATEWAYS          PEERS  BLOCKED  RULES\n' +
        'inc-1  site-a  192.168.1.5  fasttrack  open   2026-11-25 10:02:03Z (3m ago)  2026-11-25 10:04:03Z (1m ago)  gw1, gw2 +1 more  200    412      udp-ping×200, x-kazaa-header×2 +1 more\n',
    );
    expect(incidentsTable([], NOW)).toBe('no incidents\n');
  });

  it('shows one incident with evidence, peers, decisions and sample flows', () => {
    const text = incidentBlock(incident, NOW);
    expect(text).toContain('Incident inc-1 (open, active)\n');
    expect(text).toContain('Evidence (rule × times it fired):\n  RULE            COUNT\n  udp-ping        200\n  x-kazaa-header  2\n  give-push       1\n\nPeers');
    expect(text).toContain('Peers: 200 distinct outside peers\n  203.0.113.1:1214, 203.0.113.2:1214 +198 more');
    expect(text).toContain('Decisions: 201\n  host:site-a:192.168.1.5 +200 more');
    expect(text).toMatch(/gw1 +udp +203\.0\.113\.1:1214 +fasttrack +udp-ping +drop +1\/0 +40 B\/0 B/);
    expect(incidentBlock({ ...incident, samples: undefined, evidence: [] }, NOW)).toContain('Sample flows: 0\n');
  });

  it('shows what identified the host first, its rule first, and counts still provisional as such (issue 14 §7-8)', () => {
    const identified: IncidentView = {
      ...incident,
      evidence: [
        { rule: 'fasttrack/udp-ping', count: 1 },
        { rule: 'correlate/udp-fanout', count: 200 },
        { rule: 'correlate/blocked-peers', count: 3 },
      ],
      attemptsBlocked: 3,
      bytes: 120,
      liveFlows: 2,
      provisional: true,
      identifiedBy: { rule: 'fasttrack/udp-ping', detail: 'network KaZaA', flow: 'udp 192.168.1.5:3531 > 203.0.113.1:41477', packet: 7, seen: '2026-11-25T10:02:03Z', gateway: 'gw1' },
    };
    expect(incidentsTable([identified], NOW).split('\n')[1]).toMatch(/ 200 +3\+ +fasttrack\/udp-ping×1, correlate\/udp-fanout×200 \+1 more$/);
    const text = incidentBlock(identified, NOW);
    expect(text).toContain('  identified by:  fasttrack/udp-ping (network KaZaA) on udp 192.168.1.5:3531 > 203.0.113.1:41477, packet 7, gw1, 2026-11-25 10:02:03Z (3m ago)\n');
    expect(text).toContain('  blocked:        3 attempts so far\n  traffic:        120 B so far\n  counts:         provisional: 2 flows are still live, counted up to their last summary\n');
    expect(text).toContain('RULE                     COUNT\n  fasttrack/udp-ping       1\n  correlate/udp-fanout     200\n');
    const final = incidentBlock({ ...identified, liveFlows: 0, provisional: false }, NOW);
    expect(final).toContain('  blocked:        3 attempts\n  traffic:        120 B\n\nEvidence');
  });

  it('a host lock lists its hosts, not its finding count as hosts (issue 14 §8)', () => {
    const lock: DecisionView = { ...decision, id: 'host:site-a:192.168.1.5', scope: 'host', value: '192.168.1.5', site: 'site-a', origin: 'correlation', evidence: { ...decision.evidence, hosts: ['site-a/192.168.1.5'], rules: ['correlate/udp-fanout'], count: 200 } };
    const text = decisionBlocks([lock], NOW);
    expect(text).toMatch(/ hosts: +site-a\/192\.168\.1\.5\n/);
    expect(text).toMatch(/ counted: +200 by its rules\n/);
    expect(text).not.toContain('more');
    // the identifying signature first, not behind the brain's rules that sort before it
    const rules = ['correlate/blocked-peers', 'correlate/udp-fanout', 'fasttrack/udp-ping'];
    expect(decisionsTable([{ ...lock, evidence: { ...lock.evidence, rules } }], NOW).split('\n')[1]).toContain(' fasttrack/udp-ping, correlate/blocked-peers +1 more ');
  });

  it('lists decisions and allow entries; "never" for no expiry, "*" for every site', () => {
    const text = decisionsTable([decision, { ...decision, id: 'x', simulated: true, expires: null }], NOW);
    expect(text.split('\n')[0]).toMatch(/^ID +SCOPE +VALUE +TRANSPORT +SITE +ORIGIN/);
    expect(text.split('\n')[1]).toMatch(/^endpoint:198\.51\.100\.9:1214 +endpoint +198\.51\.100\.9:1214 +both +\* +signature +block +learned from a FastTrack client's peer … +fasttrack\/udp-ping +2026-11-25 10:02:04Z \(2m ago\) +2026-12-02 10:02:04Z \(in 6d\) +p2pwall-brain$/);
    expect(decisionsTable([{ ...decision, id: 'endpoint:udp:198.51.100.9:1214', transport: 'udp' }], NOW).split('\n')[1]).toMatch(/^endpoint:udp:198\.51\.100\.9:1214 +endpoint +198\.51\.100\.9:1214 +udp +\* +signature/);
    expect(text.split('\n')[2]).toMatch(/block \(simulated\).* never +p2pwall-brain$/);
    expect(allowTable([allow], NOW)).toMatch(/allow:host:site-a:192\.168\.1\.20 +host +192\.168\.1\.20 +site-a +the build server +ops +2026-11-25 09:05:03Z \(1h ago\) +never\n$/);
    expect(decisionsTable([], NOW)).toBe('no decisions\n');
    const manual: DecisionView = { ...decision, id: 'ip:tcp:198.51.100.7', scope: 'ip', value: '198.51.100.7', ip: '198.51.100.7', port: 0, transport: 'tcp', origin: 'manual', evidence: { hosts: [], sites: [], sensors: [], rules: ['operator/manual'], count: 0, firstSeen: null, lastSeen: null }, expires: null, author: 'alice' };
    expect(decisionBlocks([manual, manual], NOW, '')).toBe(
      'id:         ip:tcp:198.51.100.7\naction:     block ip 198.51.100.7\ntransport:  tcp\norigin:     manual\nreason:     learned from a FastTrack client\'s peer cache\nrules:      operator/manual\ncreated:    2026-11-25 10:02:04Z (2m ago) by alice\nexpires:    never\n'.repeat(2).replace('never\nid', 'never\n\nid'),
    );
    expect(allowTable([], NOW)).toBe('no allowlist entries\n');
  });

  it('explains a peer: blocked by which decision, why, and who contacted it', () => {
    const peer: PeerView = { ip: '198.51.100.9', port: 1214, blocked: true, blockedPorts: [], decisions: [decision], allowed: [], hosts: ['site-a/192.168.1.5'], sites: ['site-a'], incidents: [incident] };
    const text = peerBlock(peer, NOW);
    expect(text).toContain('Peer 198.51.100.9:1214: BLOCKED\n\nBlocked by 1 decision:\n');
    expect(text).toContain('origin:         signature');
    expect(text).toContain("reason:         learned from a FastTrack client's peer cache");
    expect(text).toContain('hosts:          site-a/192.168.1.5 +2 more');
    expect(text).toContain('Contacted by: site-a/192.168.1.5\nSites: site-a\n');
    expect(text).toContain('inc-1  site-a/192.168.1.5  fasttrack');
    const v6 = peerBlock({ ...peer, ip: '2001:db8::9', port: 0, blocked: false, decisions: [], hosts: [], sites: [], incidents: [] }, NOW);
    expect(v6).toContain('Peer 2001:db8::9: not blocked\n');
    expect(v6).toContain('Contacted by: -');
  });

  it('shows a host with its lock, other decisions, allow entries and incidents', () => {
    const lock: DecisionView = { ...decision, id: 'host:site-a:192.168.1.5', scope: 'host', value: '192.168.1.5', ip: '192.168.1.5', port: 0, site: 'site-a', origin: 'correlation' };
    const host: HostView = { ip: '192.168.1.5', site: '', incidents: [incident], decisions: [lock], locks: [lock], allowed: [allow] };
    const text = hostBlock(host, NOW);
    expect(text).toContain('Host 192.168.1.5 (every site)\n\nLocked at site-a:\n');
    expect(text).toContain('action:         block host 192.168.1.5 at site site-a');
    expect(text).not.toContain('transport:'); // a host lock holds the whole host
    expect(text).not.toContain('Other decisions');
    expect(text).toContain('allow:host:site-a:192.168.1.20  host 192.168.1.20 at site site-a  "the build server" by ops, expires never');
    expect(text).toContain('Incidents (1):\n  inc-1');
    expect(hostBlock({ ...host, site: 'b', locks: [], decisions: [], allowed: [], incidents: [] }, NOW)).toBe('Host 192.168.1.5 at site b\n\nNot locked.\n\nAllowed: no\n\nIncidents (0):\n  none\n');
  });

  it('lists sensors with summed queue drops, lag, backlog and staleness', () => {
    const sensor: SensorView = {
      name: 'site-a/gw1/0', site: 'site-a', gateway: 'gw1', queue: 0, version: '0.1.0', mode: 'enforce', lastHeartbeat: '2026-11-25T10:05:00Z', ageSeconds: 3, stale: false, state: 'running', started: null,
      packets: 1, dropped: 0, flows: 0, peers: 0, clients: 0,
      queues: [{ queue: 0, total: 0, queueDropped: 3, userDropped: 1 }, { queue: 1, total: 0, queueDropped: 4, userDropped: 0 }],
      blocklistVersion: 40, blocklistLag: 2, backlogBatches: 5, shedBatches: 0,
    };
    const stopped: SensorView = { ...sensor, name: 'site-c/gw1/0', state: 'stopped' };
    expect(sensorsTable([sensor, { ...sensor, name: 'site-b/gw1/0', mode: 'monitor', stale: true, state: 'stale', shedBatches: 7, queues: [] }, stopped], NOW)).toBe(
      'SENSOR        VERSION  MODE     LAST HEARTBEAT                 QUEUE DROPS  USER DROPS  BLOCKLIST LAG  BACKLOG     STATE\n' +
        'site-a/gw1/0  0.1.0    enforce  2026-11-25 10:05:00Z (3s ago)  7            1           2              5           running\n' +
        'site-b/gw1/0  0.1.0    monitor  2026-11-25 10:05:00Z (3s ago)  0            0           2              5 (shed 7)  STALE\n' +
        'site-c/gw1/0  0.1.0    enforce  2026-11-25 10:05:00Z (3s ago)  7            1           2              5           STOPPED\n',
    );
    expect(sensorsTable([], NOW)).toBe('no sensors have sent a heartbeat\n');
  });

  it('prints readiness in one line, naming the failing check', () => {
    expect(healthLine(200, { status: 'ready', checks: { nats: true, redis: true } })).toBe('ready: nats ok, redis ok\n');
    expect(healthLine(503, { status: 'not ready', checks: { nats: true, redis: false } })).toBe('not ready (HTTP 503): nats ok, redis DOWN\n');
    expect(healthLine(503, { status: 'not ready', components: { nats: { ok: true }, redis: { ok: false, detail: 'ECONNREFUSED' } } })).toBe('not ready (HTTP 503): nats ok, redis DOWN (ECONNREFUSED)\n');
    expect(healthLine(502, '<html>Bad Gateway</html>')).toBe('not ready (HTTP 502): <html>Bad Gateway</html>\n');
    // warnings do not make the brain unready, and are never left out (issue 14 §5)
    expect(healthLine(200, { status: 'ready', checks: { nats: true, redis: true }, warnings: { incidentHistory: 'incident history lost at 2026-11-25T10:00:00.000Z: ...' } })).toBe('ready: nats ok, redis ok\nWARNING incidentHistory: incident history lost at 2026-11-25T10:00:00.000Z: ...\n');
  });
});
