import { allowId } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import { allowView, decisionView, sensorView } from '../../src/api/convert.js';
import { BadCursorError, pageNewestFirst } from '../../src/api/page.js';
import { allowSchema, decisionSchema, sensorSchema } from '../../src/api/schemas.js';
import { peerTargetRefusal } from '../../src/api/peer-refusal.js';
import { parsePeer, parseTarget } from '../../src/api/target.js';
import { allowCovers, coveredBlockIds, coveringAllowIds } from '../../src/decide/allow-entries.js';
import { NEVER_EXPIRES_MS, type BrainDecision } from '../../src/decide/decision.js';
import { ip } from '../support.js';

const { Scope, Origin, Action, Mode, Transport } = p2pwall.v1;
const T = Date.parse('2026-05-01T12:00:00Z');

function decision(over: Partial<BrainDecision> & Pick<BrainDecision, 'id' | 'scope'>): BrainDecision {
  return {
    ip: ip('203.0.113.9'),
    port: 0,
    site: '',
    origin: Origin.ORIGIN_SIGNATURE,
    action: Action.ACTION_BLOCK,
    reason: 'test',
    evidence: { hosts: ['a/192.168.1.5'], sites: ['a'], sensors: ['a/gw1/0'], rules: ['fasttrack/udp-ping'], count: 1, firstSeenMs: T - 1000, lastSeenMs: T },
    createdMs: T,
    expiresMs: T + 60_000,
    author: 'p2pwall-brain',
    simulated: false,
    transport: Transport.TRANSPORT_BOTH,
    ...over,
  };
}

const ok = <T>(parsed: { ok: T } | { field: string; error: string }): T => {
  if (!('ok' in parsed)) throw new Error(`${parsed.field}: ${parsed.error}`);
  return parsed.ok;
};

describe('API targets', () => {
  it('parses and normalises what an operator names, giving the block id', () => {
    expect(ok(parseTarget('endpoint', '203.0.113.9:1214', undefined))).toMatchObject({ ip: '203.0.113.9', port: 1214, site: '', blockId: 'endpoint:203.0.113.9:1214' });
    expect(ok(parseTarget('endpoint', '[2001:DB8:0::1]:6346', undefined))).toMatchObject({ ip: '2001:db8::1', port: 6346, blockId: 'endpoint:[2001:db8::1]:6346' });
    expect(ok(parseTarget('ip', '2001:db8:0:0::9', undefined)).blockId).toBe('ip:2001:db8::9');
    expect(ok(parseTarget('host', '192.168.2.6', 'b')).blockId).toBe('host:b:192.168.2.6');
    expect(ok(parseTarget('endpoint', '203.0.113.9:1214', undefined, 'udp'))).toMatchObject({ transport: 'udp', blockId: 'endpoint:udp:203.0.113.9:1214' });
    expect(ok(parseTarget('ip', '2001:db8::9', undefined, 'tcp'))).toMatchObject({ transport: 'tcp', blockId: 'ip:tcp:2001:db8::9' });
    expect(ok(parseTarget('ip', '2001:db8::9', undefined, 'both'))).toMatchObject({ transport: 'both', blockId: 'ip:2001:db8::9' });
    expect(ok(parseTarget('host', '192.168.2.6', 'b', 'both'))).toMatchObject({ transport: 'both', blockId: 'host:b:192.168.2.6' });
    expect(parsePeer('198.51.100.1')).toMatchObject({ port: 0 });
    expect(parsePeer('[::1]:80')).toMatchObject({ address: { ip: '::1' }, port: 80 });
  });

  it('refuses bad values naming the field', () => {
    expect(parseTarget('endpoint', '203.0.113.9', undefined)).toEqual({ field: 'value', error: expect.stringMatching(/needs a port/) });
    expect(parseTarget('endpoint', '203.0.113.9:0', undefined)).toEqual({ field: 'value', error: expect.stringMatching(/port 0 is out of range 1\.\.65535/) });
    expect(parseTarget('endpoint', '203.0.113.9:65536', undefined)).toEqual({ field: 'value', error: expect.stringMatching(/out of range/) });
    expect(parseTarget('endpoint', '203.0.113.300:80', undefined)).toEqual({ field: 'value', error: expect.stringMatching(/not an IPv4 or IPv6 address/) });
    expect(parseTarget('endpoint', '2001:db8::1:80', undefined)).toMatchObject({ field: 'value' }); // a v6 endpoint needs brackets
    expect(parseTarget('ip', '203.0.113.9:80', undefined)).toEqual({ field: 'value', error: expect.stringMatching(/a port needs scope endpoint/) });
    expect(parseTarget('ip', 'example.org', undefined)).toMatchObject({ field: 'value' });
    expect(parseTarget('host', '192.168.2.6', undefined)).toEqual({ field: 'site', error: expect.stringMatching(/needs the site/) });
    expect(parseTarget('ip', '203.0.113.9', 'a')).toMatchObject({ field: 'site' });
    expect(parseTarget('host', '192.168.2.6', 'b', 'udp')).toEqual({ field: 'transport', error: expect.stringMatching(/a host lock holds for every transport/) });
    expect(parsePeer('[::1]')).toHaveProperty('error');
  });
});

describe('allow entries', () => {
  const hostLock = decision({ id: 'host:b:192.168.2.6', scope: Scope.SCOPE_HOST, ip: ip('192.168.2.6'), site: 'b' });
  const endpoint = decision({ id: 'endpoint:203.0.113.9:1214', scope: Scope.SCOPE_ENDPOINT, port: 1214 });
  const whole = decision({ id: 'ip:203.0.113.9', scope: Scope.SCOPE_IP });
  const allow = (block: BrainDecision) => ({ ...block, id: allowId(block.id), action: Action.ACTION_ALLOW, origin: Origin.ORIGIN_MANUAL });

  it('cover the same host at the same site, the same endpoint, or every port of an address', () => {
    expect(allowCovers(allow(hostLock), hostLock)).toBe(true);
    expect(allowCovers(allow(hostLock), { ...hostLock, site: 'a' })).toBe(false);
    expect(allowCovers(allow(hostLock), { ...hostLock, ip: ip('192.168.2.7') })).toBe(false);
    expect(allowCovers(allow(endpoint), endpoint)).toBe(true);
    expect(allowCovers(allow(endpoint), { ...endpoint, port: 1215 })).toBe(false);
    expect(allowCovers(allow(endpoint), whole)).toBe(false);
    expect(allowCovers(allow(whole), whole)).toBe(true);
    expect(allowCovers(allow(whole), endpoint)).toBe(true);
    expect(allowCovers(allow(whole), hostLock)).toBe(false);
    expect(allowCovers(whole, endpoint)).toBe(false); // a block is not an allow entry
    expect(allowCovers(allow(whole), allow(endpoint))).toBe(false);
  });

  it('for both transports cover blocks of every transport; for one transport, blocks of that transport only', () => {
    const udpEndpoint = { ...endpoint, id: 'endpoint:udp:203.0.113.9:1214', transport: Transport.TRANSPORT_UDP };
    const tcpWhole = { ...whole, id: 'ip:tcp:203.0.113.9', transport: Transport.TRANSPORT_TCP };
    expect(allowCovers(allow(endpoint), udpEndpoint)).toBe(true);
    expect(allowCovers(allow(whole), udpEndpoint)).toBe(true);
    expect(allowCovers(allow(whole), tcpWhole)).toBe(true);
    expect(allowCovers(allow(udpEndpoint), udpEndpoint)).toBe(true);
    expect(allowCovers(allow(udpEndpoint), endpoint)).toBe(false);
    expect(allowCovers(allow(tcpWhole), udpEndpoint)).toBe(false);
    expect(allowCovers(allow(tcpWhole), { ...udpEndpoint, transport: Transport.TRANSPORT_TCP })).toBe(true);
    expect(coveringAllowIds(udpEndpoint)).toEqual(['allow:endpoint:203.0.113.9:1214', 'allow:ip:203.0.113.9', 'allow:endpoint:udp:203.0.113.9:1214', 'allow:ip:udp:203.0.113.9']);
    expect(coveringAllowIds(tcpWhole)).toEqual(['allow:ip:203.0.113.9', 'allow:ip:tcp:203.0.113.9']);
  });

  it('name the ids to look up and to remove', () => {
    expect(coveringAllowIds(hostLock)).toEqual(['allow:host:b:192.168.2.6']);
    expect(coveringAllowIds(endpoint)).toEqual(['allow:endpoint:203.0.113.9:1214', 'allow:ip:203.0.113.9']);
    expect(coveringAllowIds(whole)).toEqual(['allow:ip:203.0.113.9']);
    const sorted = ({ ids, endpointPrefixes }: { ids: string[]; endpointPrefixes: string[] }) => ({ ids: [...ids].sort(), endpointPrefixes: [...endpointPrefixes].sort() });
    expect(sorted(coveredBlockIds(allow(whole)))).toEqual({ ids: ['ip:203.0.113.9', 'ip:tcp:203.0.113.9', 'ip:udp:203.0.113.9'], endpointPrefixes: ['endpoint:203.0.113.9:', 'endpoint:tcp:203.0.113.9:', 'endpoint:udp:203.0.113.9:'] });
    expect(sorted(coveredBlockIds(allow({ ...whole, ip: ip('2001:db8::1') })))).toEqual({ ids: ['ip:2001:db8::1', 'ip:tcp:2001:db8::1', 'ip:udp:2001:db8::1'], endpointPrefixes: ['endpoint:[2001:db8::1]:', 'endpoint:tcp:[2001:db8::1]:', 'endpoint:udp:[2001:db8::1]:'] });
    expect(sorted(coveredBlockIds(allow(endpoint)))).toEqual({ ids: ['endpoint:203.0.113.9:1214', 'endpoint:tcp:203.0.113.9:1214', 'endpoint:udp:203.0.113.9:1214'], endpointPrefixes: [] });
    expect(coveredBlockIds(allow(hostLock))).toEqual({ ids: ['host:b:192.168.2.6'], endpointPrefixes: [] });
  });
});

describe('views', () => {
  it('decision and allow views: times in ISO 8601, a permanent entry expires null; every schema property is filled', () => {
    const view = decisionView(decision({ id: 'endpoint:[2001:db8::1]:6346', scope: Scope.SCOPE_ENDPOINT, ip: ip('2001:db8::1'), port: 6346 }));
    expect(view).toMatchObject({ scope: 'endpoint', value: '[2001:db8::1]:6346', ip: '2001:db8::1', port: 6346, transport: 'both', origin: 'signature', action: 'block', created: '2026-05-01T12:00:00.000Z', expires: '2026-05-01T12:01:00.000Z' });
    expect(decisionView(decision({ id: 'endpoint:udp:[2001:db8::1]:6346', scope: Scope.SCOPE_ENDPOINT, ip: ip('2001:db8::1'), port: 6346, transport: Transport.TRANSPORT_UDP })).transport).toBe('udp');
    expect(view.evidence).toMatchObject({ firstSeen: '2026-05-01T11:59:59.000Z', lastSeen: '2026-05-01T12:00:00.000Z' });
    expect(Object.keys(view).sort()).toEqual(Object.keys(decisionSchema['properties'] as object).sort());
    const manual = decision({ id: 'allow:ip:203.0.113.9', scope: Scope.SCOPE_IP, action: Action.ACTION_ALLOW, origin: Origin.ORIGIN_MANUAL, expiresMs: NEVER_EXPIRES_MS, evidence: { hosts: [], sites: [], sensors: [], rules: [], count: 0, firstSeenMs: 0, lastSeenMs: 0 } });
    expect(decisionView(manual)).toMatchObject({ action: 'allow', origin: 'manual', expires: null, evidence: { firstSeen: null, lastSeen: null } });
    const allow = allowView(manual);
    expect(allow).toMatchObject({ id: 'allow:ip:203.0.113.9', scope: 'ip', value: '203.0.113.9', expires: null });
    expect(Object.keys(allow).sort()).toEqual(Object.keys(allowSchema['properties'] as object).sort());
  });

  it('sensor view: age, staleness and blocklist lag', () => {
    const beat = p2pwall.v1.Heartbeat.decode(
      p2pwall.v1.Heartbeat.encode({ sensor: { site: 'a', gateway: 'gw1', queue: 2, instance: 'x' }, version: '0.1.0', mode: Mode.MODE_MONITOR, sentMs: T - 45_000, startedMs: T - 3_600_000, queues: [{ queue: 2, queueTotal: 3, queueDropped: 4, userDropped: 5 }], packets: 100, blocklistVersion: 7 }).finish(),
    );
    const view = sensorView(beat, 10, T, 30);
    expect(view).toMatchObject({ name: 'a/gw1/2', mode: 'monitor', ageSeconds: 45, stale: true, blocklistVersion: 7, blocklistLag: 3, packets: 100, queues: [{ queue: 2, total: 3, queueDropped: 4, userDropped: 5 }] });
    expect(sensorView(beat, 5, T, 60)).toMatchObject({ stale: false, blocklistLag: 0 });
    expect(Object.keys(view).sort()).toEqual(Object.keys(sensorSchema['properties'] as object).sort());
  });
});

describe('pages of lists the API builds', () => {
  it('newest first, then by id; the cursor continues after the last item even when the list changes', () => {
    const items = ['b', 'a', 'c', 'e', 'd'].map((id, i) => ({ id, created: new Date(T + (i % 2) * 1000).toISOString() }));
    const first = pageNewestFirst(items, 2, undefined);
    expect(first.items.map((i) => i.id)).toEqual(['a', 'e']);
    const second = pageNewestFirst([...items, { id: 'z', created: new Date(T + 5000).toISOString() }], 2, first.nextCursor!);
    expect(second.items.map((i) => i.id)).toEqual(['b', 'c']);
    const third = pageNewestFirst(items, 2, second.nextCursor!);
    expect(third).toEqual({ items: [items[4]], nextCursor: null });
    expect(pageNewestFirst(items, 5, undefined).nextCursor).toBeNull();
    expect(() => pageNewestFirst(items, 2, 'not-a-cursor')).toThrow(BadCursorError);
    expect(() => pageNewestFirst(items, 2, Buffer.from('[1,2]').toString('base64url'))).toThrow(BadCursorError);
  });
});

describe('network targets and what the brain refuses of them', () => {
  const limits = { insideNetworks: ['192.0.2.0/24', '2001:db8:ffff::/48'], minNetworkPrefixLength: { ipv4: 8, ipv6: 32 } };
  const target = (value: string, site?: string) => {
    const parsed = parseTarget('network', value, site, 'udp');
    if (!('ok' in parsed)) throw new Error(parsed.error);
    return parsed.ok;
  };
  const refusal = (value: string, force = false) => peerTargetRefusal(target(value), force, limits);

  it('parses a network with its site and transport into a stable id, and says what was meant by host bits', () => {
    expect(target('2001:DB8:7::/48', 'hq')).toMatchObject({ scope: 'network', ip: '2001:db8:7::', prefix: 48, site: 'hq', transport: 'udp', blockId: 'net:udp:2001:db8:7::/48@hq' });
    expect(parseTarget('network', '198.51.100.7/24', undefined)).toEqual({ field: 'value', error: expect.stringContaining('did you mean 198.51.100.0/24?') });
    expect(parseTarget('network', '198.51.100.0/24:80', undefined)).toEqual({ field: 'value', error: expect.stringContaining('a port cannot go with a network') });
    expect(parseTarget('ip', '198.51.100.0/24', undefined)).toEqual({ field: 'value', error: expect.stringContaining('a network needs scope network') });
  });

  it('refuses too wide always, reserved always, private and insideNetworks unless forced; IPv4 and IPv6 alike', () => {
    expect(refusal('203.0.113.0/24')).toBeUndefined();
    expect(refusal('2001:db8:7::/48')).toBeUndefined();
    expect(refusal('4.0.0.0/7', true)).toMatchObject({ status: 400, message: expect.stringContaining('api.minNetworkPrefixLength.ipv4') });
    expect(refusal('2001:db8::/31', true)).toMatchObject({ status: 400, message: expect.stringContaining('api.minNetworkPrefixLength.ipv6') });
    expect(refusal('fe80::/64', true)).toMatchObject({ status: 409, message: expect.stringContaining('overlaps fe80::/10, which is reserved') });
    expect(refusal('fd00::/32')).toMatchObject({ status: 409, message: expect.stringContaining('overlaps the inside network fc00::/7') });
    expect(refusal('fd00::/32', true)).toBeUndefined();
    expect(refusal('2001:db8:ff00::/40')).toMatchObject({ status: 409, message: expect.stringContaining('overlaps the inside network 2001:db8:ffff::/48') });
    expect(refusal('192.0.2.64/26', true)).toBeUndefined();
    const single = parseTarget('ip', '192.0.2.9', undefined);
    if (!('ok' in single)) throw new Error(single.error);
    expect(peerTargetRefusal(single.ok, false, limits)).toMatchObject({ status: 409, message: expect.stringContaining('in the inside network 192.0.2.0/24 (insideNetworks)') });
    expect(peerTargetRefusal(single.ok, true, limits)).toBeUndefined();
  });
});
