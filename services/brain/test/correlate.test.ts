import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import { decisionId, endpointText, parseEndpointText } from '@p2pwall/common';
import { blockedPeersTally, endpointAdditions, entriesAggregates, evaluateEndpoint, evaluateHost, formatIp, hostAdditions, hostAggregates, hostFindings, hostsReaching, type IsBlocked, MalformedBatchError, type Mark, mergeTimedSet, observeBatch, reachedPeers, TCP, type TimedSet, UDP, windowEntry, type WindowEntry, WindowTally } from '@p2pwall/common/correlate';
import { PeerBlocks } from '../src/blocklist/peer-blocks.js';
import { WindowMirrors } from '../src/ingest/window-mirror.js';
import { Allowlist } from '../src/decide/allowlist.js';
import { decodeDecision, encodeDecision } from '../src/decide/decision.js';
import { fanoutDecision, hostDecision, mergeDecision, signatureDecisions, worthWriting, type DecideContext } from '../src/decide/make.js';
import { batch, flow, ip, rules, type BatchSpec } from './support.js';

const { Scope, Origin, Action, Transport } = p2pwall.v1;
const NOW = 1_000_000;

function ctx(now = NOW, allow: { hosts?: string[]; endpoints?: string[] } = {}): DecideContext {
  const r = rules({ allowlist: { hosts: allow.hosts ?? [], endpoints: allow.endpoints ?? [] } });
  return { rules: r, allowlist: new Allowlist(r.allowlist), nowMs: now, sensor: 'site-a/gw1/0' };
}

const obs = (spec: BatchSpec, now = NOW) => observeBatch(batch(spec), now);

/** Runs a batch's host window through merge + evaluate (what the Redis script and processor do). */
function hostWindow(spec: BatchSpec, previous: TimedSet = new Map(), now = NOW): TimedSet {
  const [entry] = hostAdditions(obs(spec, now)).values();
  return mergeTimedSet(previous, entry?.additions ?? [], now - 60_000, 4096);
}

const noneBlocked = () => false;

describe('addresses and ids', () => {
  it('formats IPv4 and compressed IPv6, endpoints round-trip', () => {
    expect(formatIp(ip('203.0.113.7'))).toBe('203.0.113.7');
    expect(formatIp(ip('2001:db8::1'))).toBe('2001:db8::1');
    expect(formatIp(ip('2001:db8:0:1:0:0:0:1'))).toBe('2001:db8:0:1::1');
    expect(formatIp(new Uint8Array(5))).toBeUndefined();
    expect(endpointText('2001:db8::1', 1214)).toBe('[2001:db8::1]:1214');
    expect(parseEndpointText('[2001:db8::1]:1214')).toEqual({ ip: '2001:db8::1', port: 1214 });
    expect(parseEndpointText('1.2.3.4:1214')).toEqual({ ip: '1.2.3.4', port: 1214 });
  });

  it('a batch without a sensor instance is malformed', () => {
    expect(() => observeBatch({ sequence: 1 }, NOW)).toThrow(MalformedBatchError);
    const o = observeBatch({ ...batch({}), flows: [{ insideIp: new Uint8Array(3), outsideIp: ip('1.2.3.4') }] }, NOW);
    expect(o.skipped).toBe(1);
  });
});

describe('signature evidence', () => {
  it('a client event locks the host at its site; learned peers are blocked everywhere (ENDPOINT, or IP for port 0)', () => {
    const decisions = signatureDecisions(
      obs({ clients: [{ host: '192.168.1.5' }], peers: [{ ip: '198.51.100.9', port: 1214, from: '192.168.1.5' }, { ip: '198.51.100.10', port: 0, from: '192.168.1.5' }] }),
      ctx(),
    );
    const byId = new Map(decisions.map((d) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual(['endpoint:198.51.100.9:1214', 'host:site-a:192.168.1.5', 'ip:198.51.100.10']);
    const host = byId.get('host:site-a:192.168.1.5')!;
    expect(host).toMatchObject({ scope: Scope.SCOPE_HOST, site: 'site-a', origin: Origin.ORIGIN_SIGNATURE, action: Action.ACTION_BLOCK, expiresMs: NOW + 120_000 });
    expect(host.evidence).toMatchObject({ hosts: ['site-a/192.168.1.5'], sites: ['site-a'], sensors: ['site-a/gw1/0'], rules: ['fasttrack/udp-ping'], count: 1 });
    const peer = byId.get('endpoint:198.51.100.9:1214')!;
    expect(peer).toMatchObject({ scope: Scope.SCOPE_ENDPOINT, site: '', port: 1214, expiresMs: NOW + 7 * 86_400_000 });
    expect(formatIp(peer.ip)).toBe('198.51.100.9');
    expect(byId.get('ip:198.51.100.10')).toMatchObject({ scope: Scope.SCOPE_IP, port: 0, transport: Transport.TRANSPORT_BOTH });
    expect(peer.transport).toBe(Transport.TRANSPORT_BOTH);
    expect(peer.evidence.rules).toEqual(['fasttrack/udp-ping']); // the sensor's via, a rule id
  });

  it("a host lock's reason is its first evidence: the identification's rule, detail, flow and packet, or the flow that began first; a later batch does not replace it", () => {
    const withDetail = batch({ clients: [{ host: '192.168.1.5', ts: NOW - 500 }] });
    withDetail.events![0]!.client!.evidence = [
      { protocol: 'fasttrack', rule: 'fasttrack/x-kazaa-header', supporting: true, flow: 'tcp 192.168.1.5:40000 > 198.51.100.1:1214', packet: 3 },
      { protocol: 'fasttrack', rule: 'fasttrack/udp-ping', supporting: false, detail: 'network KaZaA\u001b[31m', flow: 'udp 192.168.1.5:3531 > 198.51.100.2:41477', packet: 7 },
    ];
    const observed = observeBatch(withDetail, NOW);
    expect(observed.clients[0]!.identifying).toEqual({ rule: 'fasttrack/udp-ping', detail: 'network KaZaA[31m', flow: 'udp 192.168.1.5:3531 > 198.51.100.2:41477', packet: 7 });
    const [lock] = signatureDecisions(observed, ctx());
    expect(lock!.reason).toBe('fasttrack client identified by site-a/gw1/0: fasttrack/udp-ping (network KaZaA[31m) on udp 192.168.1.5:3531 > 198.51.100.2:41477, packet 7');

    // sensor times must be sane (after 2020) to be kept: a day of 2026
    const T = Date.parse('2026-11-25T10:00:00Z');
    const detected = (to: string, firstSeenMs: number) => ({ ...flow({ host: '192.168.1.6', to, port: 1214, app: 'fasttrack', rules: ['fasttrack/give-push'], ts: firstSeenMs + 50 }), firstSeenMs });
    const [byFlow] = signatureDecisions(obs({ created: T, flows: [detected('198.51.100.10', T - 700), detected('198.51.100.11', T - 900), detected('198.51.100.12', T - 800)] }, T), ctx(T));
    expect(byFlow!.reason).toBe('fasttrack traffic with 198.51.100.11:1214 seen by site-a/gw1/0');
    const [later] = signatureDecisions(obs({ created: T + 5000, flows: [detected('198.51.100.99', T + 4000)] }, T + 5000), ctx(T + 5000));
    expect(later!.reason).toBe('fasttrack traffic with 198.51.100.99:1214 seen by site-a/gw1/0');
    expect(mergeDecision(byFlow, later!, 32, T + 5000)!.reason).toBe(byFlow!.reason);
  });

  it('a peer learned for one transport is blocked for that transport, a decision apart from the same peer for both', () => {
    const decisions = signatureDecisions(
      obs({
        peers: [
          { ip: '198.51.100.9', port: 1214, from: '192.168.1.5', transport: Transport.TRANSPORT_UDP },
          { ip: '198.51.100.9', port: 1214, from: '192.168.1.6' },
          { ip: '198.51.100.10', port: 0, from: '192.168.1.5', transport: Transport.TRANSPORT_TCP },
        ],
      }),
      ctx(),
    );
    const byId = new Map(decisions.map((d) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual(['endpoint:198.51.100.9:1214', 'endpoint:udp:198.51.100.9:1214', 'ip:tcp:198.51.100.10']);
    expect(byId.get('endpoint:udp:198.51.100.9:1214')).toMatchObject({ transport: Transport.TRANSPORT_UDP, evidence: { hosts: ['site-a/192.168.1.5'] } });
    expect(byId.get('endpoint:198.51.100.9:1214')).toMatchObject({ transport: Transport.TRANSPORT_BOTH, evidence: { hosts: ['site-a/192.168.1.6'] } });
    expect(byId.get('ip:tcp:198.51.100.10')).toMatchObject({ scope: Scope.SCOPE_IP, transport: Transport.TRANSPORT_TCP });
    // a transport this contract does not know (a newer sensor) is read as both
    const newer = observeBatch({ ...batch({}), events: [{ peer: { ip: ip('198.51.100.11'), port: 1214, protocol: 'fasttrack', via: 'fasttrack/udp-ping', tsMs: NOW, transport: 9 as p2pwall.v1.Transport } }] }, NOW);
    expect(signatureDecisions(newer, ctx()).map((d) => d.id)).toEqual(['endpoint:198.51.100.11:1214']);
  });

  it('names the rule of a learned peer by its via when that is a protocol rule id, else <protocol>/peer-learned; a client without rules <protocol>/client', () => {
    const rulesOf = (spec: BatchSpec) => signatureDecisions(obs(spec), ctx()).map((d) => d.evidence.rules).flat();
    const peer = (via: string, protocol = 'fasttrack') => rulesOf({ peers: [{ ip: '198.51.100.9', port: 1214, via, protocol }] });
    expect(peer('fasttrack/supernode-list')).toEqual(['fasttrack/supernode-list']);
    expect(peer('gnutella/x-try-ultrapeers', 'gnutella')).toEqual(['gnutella/x-try-ultrapeers']);
    expect(peer('udp-ping')).toEqual(['fasttrack/peer-learned']); // an older sensor: no namespace
    expect(peer('')).toEqual(['fasttrack/peer-learned']);
    expect(peer('', '')).toEqual(['p2p/peer-learned']);
    expect(peer('Udp Ping', 'Fast Track')).toEqual(['p2p/peer-learned']);
    // a sensor cannot speak for the brain's or the operators' rules
    expect(peer('correlate/peer-fanout')).toEqual(['fasttrack/peer-learned']);
    expect(peer('operator/manual', 'correlate')).toEqual(['p2p/peer-learned']);
    const client = observeBatch({ ...batch({}), events: [{ client: { host: ip('192.168.1.5'), protocol: 'gnutella', evidence: [], tsMs: NOW } }] }, NOW);
    expect(signatureDecisions(client, ctx())[0]!.evidence.rules).toEqual(['gnutella/client']);
  });

  it('a flow with an app and rules locks its host; allowlisted hosts and endpoints are never blocked', () => {
    const spec: BatchSpec = { flows: [flow({ host: '192.168.1.6', to: '203.0.113.1', port: 1214, app: 'fasttrack', rules: ['fasttrack/http-hash-request'] })], peers: [{ ip: '203.0.113.1', port: 1214 }] };
    expect(signatureDecisions(obs(spec), ctx()).map((d) => d.id).sort()).toEqual(['endpoint:203.0.113.1:1214', 'host:site-a:192.168.1.6']);
    expect(signatureDecisions(obs(spec), ctx(NOW, { hosts: ['site-a/192.168.1.0/24'], endpoints: ['203.0.113.1:1214'] }))).toEqual([]);
    expect(signatureDecisions(obs(spec), ctx(NOW, { hosts: ['site-b/192.168.1.0/24'], endpoints: ['203.0.113.0/24'] })).map((d) => d.id)).toEqual(['host:site-a:192.168.1.6']);
  });
});

describe('peer-cache fan-out', () => {
  const endpointSet = (specs: BatchSpec[], known = new Set<string>(), now = NOW) => {
    let set: TimedSet = new Map();
    for (const spec of specs) {
      const adds = endpointAdditions(obs(spec, now), known, ctx().rules.correlation).get('198.51.100.20:3531');
      set = mergeTimedSet(set, adds?.additions ?? [], now - 3_600_000, 100_000);
    }
    return set;
  };

  it('K=2 distinct inside hosts (across sites) with P2P evidence block the endpoint everywhere', () => {
    const a: BatchSpec = { site: 'site-a', flows: [flow({ host: '10.0.0.1', to: '198.51.100.20', port: 3531, proto: 'udp', app: 'fasttrack' })] };
    const b: BatchSpec = { site: 'site-b', flows: [flow({ host: '10.0.0.1', to: '198.51.100.20', port: 3531, proto: 'udp', app: 'fasttrack' })] };
    expect(evaluateEndpoint(endpointSet([a]), ctx().rules.correlation)).toBeUndefined();
    expect(evaluateEndpoint(endpointSet([a, a]), ctx().rules.correlation)).toBeUndefined(); // same host twice counts once
    const set = endpointSet([a, b]);
    const finding = evaluateEndpoint(set, ctx().rules.correlation)!;
    expect(finding).toMatchObject({ rule: 'correlate/peer-fanout', count: 2 });
    const d = fanoutDecision({ ip: '198.51.100.20', ipBytes: ip('198.51.100.20'), port: 3531 }, [...set.keys()], finding, ctx())!;
    expect(d).toMatchObject({ id: 'endpoint:198.51.100.20:3531', scope: Scope.SCOPE_ENDPOINT, site: '', origin: Origin.ORIGIN_CORRELATION, expiresMs: NOW + 86_400_000 });
    expect(d.evidence).toMatchObject({ hosts: ['site-a/10.0.0.1', 'site-b/10.0.0.1'], sites: ['site-a', 'site-b'], count: 2, rules: ['correlate/peer-fanout'] });
    expect(fanoutDecision({ ip: '198.51.100.20', ipBytes: ip('198.51.100.20'), port: 3531 }, [...set.keys()], finding, ctx(NOW, { endpoints: ['198.51.100.20'] }))).toBeUndefined();
  });

  it('flows without an app count only for known clients, on high non-excluded ports; the window expires hosts', () => {
    const plain = (host: string, port = 3531): BatchSpec => ({ flows: [flow({ host, to: '198.51.100.20', port })] });
    expect(endpointSet([plain('10.0.0.1'), plain('10.0.0.2')]).size).toBe(0);
    const known = new Set(['site-a/10.0.0.1', 'site-a/10.0.0.2']);
    expect(endpointSet([plain('10.0.0.1'), plain('10.0.0.2')], known).size).toBe(2);
    // the window: an hour-old member is gone
    const old = mergeTimedSet(new Map(), [['site-a/10.0.0.1', { ts: NOW, flags: 0 }]], NOW - 3_600_000, 100);
    expect(mergeTimedSet(old, [['site-a/10.0.0.2', { ts: NOW + 3_600_001, flags: 0 }]], NOW + 1, 100).size).toBe(1);
  });
});

describe('payload-free host rules', () => {
  const udpFlows = (n: number, answered: number, port = 40000) =>
    Array.from({ length: n }, (_, i) => flow({ host: '192.168.1.9', to: `198.51.100.${i + 1}`, port, proto: 'udp', answered: i < answered }));

  it('UDP fan-out: N=50 high-port endpoints with ≥70% unanswered, not 49, not 60% unanswered, not low ports', () => {
    const c = ctx().rules.correlation;
    expect(evaluateHost(hostWindow({ flows: udpFlows(50, 15) }), noneBlocked, c).map((f) => f.rule)).toEqual(['correlate/udp-fanout']);
    expect(evaluateHost(hostWindow({ flows: udpFlows(49, 0) }), noneBlocked, c)).toEqual([]);
    expect(evaluateHost(hostWindow({ flows: udpFlows(50, 20) }), noneBlocked, c)).toEqual([]);
    expect(evaluateHost(hostWindow({ flows: udpFlows(60, 0, 1000) }), noneBlocked, c)).toEqual([]);
    const d = hostDecision({ site: 'site-a', hostIp: '192.168.1.9', hostBytes: ip('192.168.1.9') }, evaluateHost(hostWindow({ flows: udpFlows(50, 15) }), noneBlocked, c), ctx())!;
    expect(d).toMatchObject({ id: 'host:site-a:192.168.1.9', scope: Scope.SCOPE_HOST, site: 'site-a', origin: Origin.ORIGIN_CORRELATION, expiresMs: NOW + 120_000 });
    expect(d.evidence).toMatchObject({ count: 50, rules: ['correlate/udp-fanout'], hosts: ['site-a/192.168.1.9'] });
  });

  it('the window slides: endpoints older than 60 s no longer count', () => {
    const c = ctx().rules.correlation;
    const first = hostWindow({ flows: udpFlows(30, 0).map((f) => ({ ...f, lastSeenMs: NOW })) });
    const later = NOW + 61_000;
    const second = hostWindow({ flows: udpFlows(50, 0).slice(30).map((f) => ({ ...f, lastSeenMs: later })) }, first, later);
    expect(second.size).toBe(20);
    expect(evaluateHost(second, noneBlocked, c)).toEqual([]);
    const together = hostWindow({ flows: udpFlows(50, 0).slice(30).map((f) => ({ ...f, lastSeenMs: NOW + 30_000 })) }, first, NOW + 30_000);
    expect(evaluateHost(together, noneBlocked, c).map((f) => f.rule)).toEqual(['correlate/udp-fanout']);
  });

  it('TCP+UDP pairs: M=5 outside IPs over both protocols, excluding 53/123/137-139/443/445', () => {
    const c = ctx().rules.correlation;
    const pairs = (n: number, port: number) => Array.from({ length: n }, (_, i) => [flow({ host: '192.168.1.9', to: `203.0.113.${i + 1}`, port, proto: 'udp', answered: true }), flow({ host: '192.168.1.9', to: `203.0.113.${i + 1}`, port: port + 1 })]).flat();
    expect(evaluateHost(hostWindow({ flows: pairs(5, 6346) }), noneBlocked, c).map((f) => f.rule)).toEqual(['correlate/tcp-udp-pairs']);
    expect(evaluateHost(hostWindow({ flows: pairs(4, 6346) }), noneBlocked, c)).toEqual([]);
    const dual = (port: number) => Array.from({ length: 6 }, (_, i) => [flow({ host: '192.168.1.9', to: `203.0.113.${i + 1}`, port, proto: 'udp', answered: true }), flow({ host: '192.168.1.9', to: `203.0.113.${i + 1}`, port })]).flat();
    for (const port of [53, 123, 137, 138, 139, 443, 445]) expect(evaluateHost(hostWindow({ flows: dual(port) }), noneBlocked, c)).toEqual([]);
  });

  it('blocked peers: encrypted TCP only (no app, no UDP) to P=3 blocked peers locks the host; 2 do not', () => {
    const c = ctx().rules.correlation;
    const blocked = new Set(['endpoint:198.51.100.1:1214', 'ip:198.51.100.2', 'endpoint:198.51.100.3:4662']);
    const isBlocked = (endpoint: string, a: string) => blocked.has(`endpoint:${endpoint}`) || blocked.has(decisionId.ip(a));
    const tcp = [flow({ host: '192.168.1.7', to: '198.51.100.1', port: 1214, answered: true }), flow({ host: '192.168.1.7', to: '198.51.100.2', port: 8080, answered: true }), flow({ host: '192.168.1.7', to: '198.51.100.3', port: 4662, answered: true })];
    expect(evaluateHost(hostWindow({ flows: tcp.slice(0, 2) }), isBlocked, c)).toEqual([]);
    const findings = evaluateHost(hostWindow({ flows: tcp }), isBlocked, c);
    expect(findings.map((f) => f.rule)).toEqual(['correlate/blocked-peers']);
    expect(hostDecision({ site: 'site-a', hostIp: '192.168.1.7', hostBytes: ip('192.168.1.7') }, findings, ctx(NOW, { hosts: ['192.168.1.7'] }))).toBeUndefined();
  });

  it('blocked peers count only for the transport they are blocked for', () => {
    const c = ctx().rules.correlation;
    // blocks as the writer files them: 1 and 2 for UDP only, the whole of 3 for TCP only
    const blocks = new PeerBlocks();
    const peers = [{ ip: '198.51.100.1', port: 1214, transport: Transport.TRANSPORT_UDP }, { ip: '198.51.100.2', port: 1214, transport: Transport.TRANSPORT_UDP }, { ip: '198.51.100.3', port: 0, transport: Transport.TRANSPORT_TCP }];
    for (const decision of signatureDecisions(obs({ peers }), ctx())) blocks.set(decision);
    const isBlocked: IsBlocked = (endpoint, a, transport) => blocks.covers(endpoint, a, transport, NOW);
    const flows = (proto: 'tcp' | 'udp') => [1, 2, 3].map((i) => flow({ host: '192.168.1.7', to: `198.51.100.${i}`, port: 1214, proto, answered: true }));
    expect(blockedPeersTally(hostWindow({ flows: flows('tcp') }), isBlocked).count).toBe(1); // only the TCP block of .3
    expect(blockedPeersTally(hostWindow({ flows: flows('udp') }), isBlocked).count).toBe(2);
    expect(evaluateHost(hostWindow({ flows: flows('tcp') }), isBlocked, c)).toEqual([]);
    expect(evaluateHost(hostWindow({ flows: [...flows('udp'), ...flows('tcp')] }), isBlocked, c).map((f) => f.rule)).toEqual(['correlate/blocked-peers']);
    expect([...hostsReaching(reachedPeers(obs({ flows: flows('tcp').slice(0, 2) })), isBlocked)]).toEqual([]);
    expect([...hostsReaching(reachedPeers(obs({ flows: flows('udp').slice(0, 1) })), isBlocked)]).toEqual(['site-a/192.168.1.7']);
  });

  it('inbound flows do not feed the windows', () => {
    expect(hostAdditions(obs({ flows: [flow({ host: '192.168.1.9', to: '198.51.100.1', port: 1, inbound: true })] })).size).toBe(0);
  });
});

describe('merging and rewriting', () => {
  it('merge is a union, idempotent and order-free; manual decisions are kept', () => {
    const c = ctx();
    const [a] = signatureDecisions(obs({ site: 'site-a', peers: [{ ip: '198.51.100.9', port: 1214, from: '10.0.0.1' }] }), c);
    const [b] = signatureDecisions(obs({ site: 'site-b', peers: [{ ip: '198.51.100.9', port: 1214, from: '10.0.0.2' }] }), { ...c, nowMs: NOW + 5000 });
    const ab = mergeDecision(a, b!, 32, NOW + 5000)!;
    const ba = mergeDecision(b, a!, 32, NOW + 5000)!;
    expect(ab.evidence).toEqual(ba.evidence);
    expect(ab.evidence).toMatchObject({ hosts: ['site-a/10.0.0.1', 'site-b/10.0.0.2'], sites: ['site-a', 'site-b'], count: 2 });
    expect(ab.expiresMs).toBe(b!.expiresMs);
    expect(mergeDecision(ab, b!, 32, NOW + 5000)).toEqual(ab);
    expect(worthWriting(ab, mergeDecision(ab, b!, 32, NOW + 5000)!, 10_000)).toBe(false);
    expect(worthWriting(a, ab, 10_000)).toBe(true);
    expect(mergeDecision({ ...a!, origin: Origin.ORIGIN_MANUAL }, b!, 32, NOW)).toBeUndefined();
    expect(decodeDecision(encodeDecision(ab))).toEqual(ab);
  });
});

describe('fast paths give what the plain definitions give', () => {
  const rand = (() => {
    let state = 11;
    return (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
  })();

  it('parseEndpointText (hand-written) accepts and rejects what the regular expressions do', () => {
    const reference = (key: string) => {
      const match = /^\[([0-9a-fA-F:]+)\]:(\d{1,5})$/.exec(key) ?? /^([0-9.]+):(\d{1,5})$/.exec(key);
      if (!match) return undefined;
      const port = Number(match[2]);
      return port <= 65535 ? { ip: match[1]!, port } : undefined;
    };
    const alphabet = ['1', '9', '0', '.', ':', '[', ']', 'a', 'F', 'g', ' ', '-', '65535', '65536', '2001:db8::1', '198.51.100.7'];
    const samples = ['1.2.3.4:1214', '[2001:db8::1]:4662', '[]:1', ':80', '1.2.3.4:', '1.2.3.4:99999', '[ab]]:1', '[::]:0', '1.2.3.4:0012', '1.2.3.4:000080', '1.2.3.4:12a'];
    for (let i = 0; i < 20_000; i++) samples.push(Array.from({ length: 1 + rand(6) }, () => alphabet[rand(alphabet.length)]).join(''));
    for (const key of samples) expect(parseEndpointText(key), key).toEqual(reference(key));
  });

  it('a window copy predicts mergeTimedSet: what expired, the live count, the merged window', () => {
    // thresholds low enough for both rules to fire on a 16-member window now and then
    const base = ctx().rules.correlation;
    const config = { ...base, host: { ...base.host, udpFanout: { minEndpoints: 4, unansweredRatio: 0.5, highPortMin: 1024 } } };
    const copies = new WindowMirrors(config, 10);
    const members = Array.from({ length: 30 }, (_, i) => `${i % 2 ? 6 : 17}|203.0.113.${i % 7}:${i % 3 === 0 ? 443 : 2000 + i}`);
    let reference: TimedSet = new Map(members.slice(0, 12).map((m, i): [string, Mark] => [m, { ts: 1000 + i * 100, flags: i % 2 }]));
    copies.reseed('k', '7', reference);
    let fired = 0;
    for (let round = 0; round < 200; round++) {
      const cutoff = 1000 + round * 50;
      const additions = Array.from({ length: rand(5) }, (): [string, Mark] => [members[rand(members.length)]!, { ts: cutoff - 500 + rand(2000), flags: rand(2) }]);
      const expired = [...reference].filter(([, mark]) => mark.ts < cutoff).map(([member]) => member);
      const live = reference.size - expired.length;
      reference = mergeTimedSet(reference, additions, cutoff, 16);
      const prediction = copies.predict('k', additions, cutoff, 16)!;
      expect({ ...prediction.request, expired: [...prediction.request.expired].sort() }).toEqual({ expected: String(7 + round), live, expired: expired.sort() });
      expect(prediction.count).toBe(reference.size);
      expect([...prediction.window.entries()].map((e) => `${e.member}=${e.ts}:${e.flags}`).sort()).toEqual([...reference].map(([m, mark]) => `${m}=${mark.ts}:${mark.flags}`).sort());
      // the running counts are the aggregates' counts; the spans too whenever a rule fires
      const aggregates = prediction.window.aggregates();
      const exact = hostAggregates(reference, config);
      expect([aggregates.udp.count, aggregates.udp.unanswered, aggregates.pairs.count]).toEqual([exact.udp.count, exact.udp.unanswered, exact.pairs.count]);
      expect(hostFindings(aggregates, undefined, config)).toEqual(hostFindings(exact, undefined, config));
      fired += hostFindings(exact, undefined, config).length > 0 ? 1 : 0;
    }
    expect(fired).toBeGreaterThan(20);
    expect(copies.predict('other', [], 0, 16)).toBeUndefined();
  });

  it('a window tally keeps the counts entriesAggregates gives while members come, change and go', () => {
    const config = ctx().rules.correlation;
    const tally = new WindowTally(config, new Set(config.host.tcpUdpPairs.excludePorts));
    const live = new Map<string, WindowEntry>();
    let unpaired = 0;
    for (let step = 0; step < 3000; step++) {
      const member = `${[6, 17, 1][rand(3)]}|198.51.100.${rand(6)}:${[53, 0, 1214, 40000][rand(4)]}`;
      const present = live.get(member);
      if (present && rand(3) === 0) {
        const before = present.flags;
        present.flags |= 1;
        tally.flagsChanged(present, before);
      } else if (present) {
        const pairs = tally.pairs;
        live.delete(member);
        tally.count(present, -1);
        if (tally.pairs < pairs) unpaired += 1;
      } else {
        const entry = windowEntry(member, { ts: step, flags: rand(2) })!;
        live.set(member, entry);
        tally.count(entry, 1);
      }
      const exact = entriesAggregates(live.values(), config);
      expect([tally.udp, tally.unanswered, tally.pairs]).toEqual([exact.udp.count, exact.udp.unanswered, exact.pairs.count]);
    }
    expect(unpaired).toBeGreaterThan(50);
  });

  it('one signature lock per host is what merging a lock per detected flow gives', () => {
    const c = ctx();
    const flows = Array.from({ length: 40 }, (_, i) => ({ ...flow({ host: `192.168.1.${1 + rand(4)}`, to: `198.51.100.${i}`, port: 1214, app: 'fasttrack', rules: [['fasttrack/http-hash-request'], ['fasttrack/udp-ping', 'fasttrack/http-hash-request'], ['fasttrack/give-push']][rand(3)]!, ts: NOW - rand(5000) }), firstSeenMs: rand(3) === 0 ? 0 : NOW - 10_000 + rand(5000) }));
    const batchObs = obs({ flows, clients: [{ host: '192.168.1.2', rule: 'fasttrack/udp-ping' }] });
    const perFlow = new Map<string, ReturnType<typeof signatureDecisions>[number]>();
    for (const single of [...batchObs.clients.map((client) => ({ ...batchObs, flows: [], clients: [client] })), ...batchObs.flows.map((f) => ({ ...batchObs, clients: [], flows: [f] }))]) {
      for (const d of signatureDecisions(single, c)) {
        const previous = perFlow.get(d.id);
        perFlow.set(d.id, previous ? mergeDecision(previous, d, 32)! : d);
      }
    }
    const grouped = signatureDecisions(batchObs, c);
    expect(grouped.length).toBe(perFlow.size);
    for (const d of grouped) expect(d).toEqual(perFlow.get(d.id));
  });

  it('host aggregates and the blocked tally are what a direct reading of the window gives', () => {
    const config = ctx().rules.correlation;
    const excluded = new Set(config.host.tcpUdpPairs.excludePorts);
    for (let round = 0; round < 200; round++) {
      const window: TimedSet = new Map();
      for (let i = 0; i < rand(80); i++) {
        const ip = rand(4) === 0 ? `2001:db8::${rand(9)}` : `198.51.100.${rand(20)}`;
        const port = [53, 443, 0, 80, 1214, 40000 + rand(10)][rand(6)]!;
        window.set(`${[6, 17, 1][rand(3)]}|${endpointText(ip, port)}`, { ts: 1000 + rand(1000), flags: rand(2) });
      }
      if (rand(10) === 0) window.set('junk', { ts: 5, flags: 0 });
      const parsed = [...window].flatMap(([member, mark]) => {
        const bar = member.indexOf('|');
        const endpoint = parseEndpointText(member.slice(bar + 1));
        return bar < 0 || !endpoint ? [] : [{ protocol: Number(member.slice(0, bar)), ...endpoint, key: member.slice(bar + 1), mark }];
      });
      const spanOf = (marks: Mark[]) => (marks.length ? { firstSeenMs: Math.min(...marks.map((m) => m.ts)), lastSeenMs: Math.max(...marks.map((m) => m.ts)) } : { firstSeenMs: 0, lastSeenMs: 0 });
      const udp = parsed.filter((p) => p.protocol === UDP && p.port >= config.host.udpFanout.highPortMin);
      const byIp = new Map<string, typeof parsed>();
      for (const p of parsed) if (!excluded.has(p.port) && p.port !== 0) byIp.set(p.ip, [...(byIp.get(p.ip) ?? []), p]);
      const pairIps = [...byIp.values()].filter((ps) => ps.some((p) => p.protocol === TCP) && ps.some((p) => p.protocol === UDP));
      expect(hostAggregates(window, config)).toEqual({
        udp: { count: udp.length, unanswered: udp.filter((p) => (p.mark.flags & 1) === 0).length, ...spanOf(udp.map((p) => p.mark)) },
        pairs: { count: pairIps.length, ...spanOf(pairIps.flat().map((p) => p.mark)) },
      });
      const isBlocked: IsBlocked = (endpoint, ip, transport) => (endpoint.endsWith(':1214') && transport === 'udp') || ip === '198.51.100.3';
      const newest = new Map<string, number>();
      for (const p of parsed) {
        const transport = p.protocol === TCP ? 'tcp' : p.protocol === UDP ? 'udp' : undefined;
        if (transport && isBlocked(p.key, p.ip, transport)) newest.set(p.key, Math.max(newest.get(p.key) ?? -Infinity, p.mark.ts));
      }
      expect(blockedPeersTally(window, isBlocked)).toEqual({ count: newest.size, ...spanOf([...newest.values()].map((ts) => ({ ts, flags: 0 }))) });
    }
  });

  it('hosts reaching a blocked peer: only flows they started, over TCP or UDP', () => {
    const o = obs({
      flows: [
        flow({ host: '192.168.1.1', to: '198.51.100.1', port: 1214 }),
        flow({ host: '192.168.1.2', to: '198.51.100.1', port: 1214, inbound: true }),
        flow({ host: '192.168.1.3', to: '198.51.100.2', port: 80, proto: 'udp' }),
        flow({ host: '192.168.1.4', to: '198.51.100.5', port: 80 }),
      ],
    });
    const blocked = (endpoint: string, ip: string) => endpoint === '198.51.100.1:1214' || ip === '198.51.100.2';
    expect([...hostsReaching(reachedPeers(o), blocked)].sort()).toEqual(['site-a/192.168.1.1', 'site-a/192.168.1.3']);
  });
});
