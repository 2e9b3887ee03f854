import { p2pwall } from '@p2pwall/proto';
import { describe, expect, it } from 'vitest';
import { ORIGIN_NAMES, TRANSPORTS, allowId, blockedPeer, decisionId, decisionIdOf, endpointBlockIdPrefixes, isOriginName, networksOverlap, networkText, originLabel, originName, parseDecisionId, parseOutsideNetwork, peerBlockIds, peerToken, transportOfWire, unblockableNetworkReason, wireOrigin, wireTransport, type DecisionTarget } from '../src/index.js';

describe('decision ids', () => {
  it('keep the form of before for both transports, and name the transport otherwise', () => {
    expect(decisionId.endpoint('203.0.113.9', 1214)).toBe('endpoint:203.0.113.9:1214');
    expect(decisionId.endpoint('203.0.113.9', 1214, 'both')).toBe('endpoint:203.0.113.9:1214');
    expect(decisionId.endpoint('203.0.113.9', 1214, 'udp')).toBe('endpoint:udp:203.0.113.9:1214');
    expect(decisionId.endpoint('2001:db8::9', 6346, 'tcp')).toBe('endpoint:tcp:[2001:db8::9]:6346');
    expect(decisionId.ip('203.0.113.9')).toBe('ip:203.0.113.9');
    expect(decisionId.ip('2001:db8::9', 'tcp')).toBe('ip:tcp:2001:db8::9');
    expect(decisionId.host('site-a', '192.168.1.5')).toBe('host:site-a:192.168.1.5');
    expect(allowId(decisionId.ip('203.0.113.9'))).toBe('allow:ip:203.0.113.9');
  });

  it('parse back to what they were made from, allow entries included', () => {
    const targets: DecisionTarget[] = [
      ...TRANSPORTS.flatMap((transport): DecisionTarget[] => [
        { scope: 'endpoint', ip: '203.0.113.9', port: 1214, transport },
        { scope: 'endpoint', ip: '2001:db8::9', port: 65535, transport },
        { scope: 'ip', ip: '198.51.100.7', transport },
        { scope: 'ip', ip: '2001:db8::', transport },
        { scope: 'ip', ip: '::ffff:c633:6407', transport },
      ]),
      { scope: 'host', site: 'site-a', ip: '192.168.1.5' },
      { scope: 'host', site: 'b', ip: 'fd00::5' },
    ];
    for (const target of targets) {
      const id = decisionIdOf(target);
      expect(parseDecisionId(id), id).toEqual({ allow: false, target });
      expect(parseDecisionId(allowId(id)), id).toEqual({ allow: true, target });
    }
  });

  it('read only the form decisionId writes, so one decision never has two ids', () => {
    for (const id of [
      '',
      'endpoint',
      'ipX',
      'endpoint:both:203.0.113.9:1214',
      'endpoint:sctp:203.0.113.9:1214',
      'endpoint:udp:udp:203.0.113.9:1214',
      'endpoint:203.0.113.9:0',
      'endpoint:203.0.113.9:01214',
      'endpoint:203.0.113.9:65536',
      'endpoint:2001:db8::9:1214',
      'endpoint:[2001:DB8::9]:1214',
      'endpoint:[2001:db8:0::9]:1214',
      'ip:203.0.113.9:1214',
      'ip:203.0.113.256',
      'ip:',
      'host::192.168.1.5',
      'host:site-a:',
      'host:site-a',
      'allow:allow:ip:203.0.113.9',
      'block:ip:203.0.113.9',
      `ip:${'1'.repeat(200)}`,
    ]) {
      expect(parseDecisionId(id), id).toBeUndefined();
    }
  });

  it('list the blocks of one peer, one per transport, and the id prefixes of the endpoint blocks of an address', () => {
    expect(peerBlockIds('203.0.113.9', 1214).sort()).toEqual(['endpoint:203.0.113.9:1214', 'endpoint:tcp:203.0.113.9:1214', 'endpoint:udp:203.0.113.9:1214']);
    expect(peerBlockIds('2001:db8::9', 0).sort()).toEqual(['ip:2001:db8::9', 'ip:tcp:2001:db8::9', 'ip:udp:2001:db8::9']);
    expect(endpointBlockIdPrefixes('2001:db8::9').sort()).toEqual(['endpoint:[2001:db8::9]:', 'endpoint:tcp:[2001:db8::9]:', 'endpoint:udp:[2001:db8::9]:']);
    for (const prefix of endpointBlockIdPrefixes('203.0.113.9')) expect(parseDecisionId(`${prefix}1214`)?.target).toMatchObject({ scope: 'endpoint', ip: '203.0.113.9', port: 1214 });
  });

  it('name the peer a block covers as flows name it, with its transport', () => {
    expect(peerToken('203.0.113.9', 1214)).toBe('203.0.113.9:1214');
    expect(peerToken('2001:db8::9', 1214)).toBe('[2001:db8::9]:1214');
    expect(peerToken('2001:db8::9', 0)).toBe('2001:db8::9');
    expect(blockedPeer('endpoint:udp:[2001:db8::9]:1214')).toEqual({ token: '[2001:db8::9]:1214', whole: false, transport: 'udp' });
    expect(blockedPeer('ip:203.0.113.9')).toEqual({ token: '203.0.113.9', whole: true, transport: 'both' });
    expect(blockedPeer('host:site-a:192.168.1.5')).toBeUndefined();
    expect(blockedPeer('allow:ip:203.0.113.9')).toBeUndefined();
    expect(blockedPeer('not an id')).toBeUndefined();
  });
});

describe('the wire enums', () => {
  it('name every origin of the contract as its enum name says, and know no other', () => {
    const wireNames = Object.keys(p2pwall.v1.Origin).filter((name) => name !== 'ORIGIN_UNSPECIFIED' && Number.isNaN(Number(name)));
    expect(wireNames.map((name) => name.slice('ORIGIN_'.length).toLowerCase()).sort()).toEqual([...ORIGIN_NAMES].sort());
    for (const name of ORIGIN_NAMES) {
      expect(p2pwall.v1.Origin[wireOrigin(name)]).toBe(`ORIGIN_${name.toUpperCase()}`);
      expect(originName(wireOrigin(name))).toBe(name);
      expect(isOriginName(name)).toBe(true);
    }
    expect(originName(p2pwall.v1.Origin.ORIGIN_UNSPECIFIED)).toBeUndefined();
    expect(originName(undefined)).toBeUndefined();
    expect(originName(99)).toBeUndefined();
    expect(originLabel(p2pwall.v1.Origin.ORIGIN_MANUAL)).toBe('manual');
    expect(originLabel(99)).toBe('unknown');
    expect(isOriginName('unknown')).toBe(false);
  });

  it('map transports both ways; absent, 0 and values of a newer contract are both', () => {
    for (const transport of TRANSPORTS) expect(transportOfWire(wireTransport(transport))).toBe(transport);
    expect(wireTransport('both')).toBe(p2pwall.v1.Transport.TRANSPORT_BOTH);
    expect(wireTransport('tcp')).toBe(p2pwall.v1.Transport.TRANSPORT_TCP);
    expect(wireTransport('udp')).toBe(p2pwall.v1.Transport.TRANSPORT_UDP);
    expect(transportOfWire(undefined)).toBe('both');
    expect(transportOfWire(null)).toBe('both');
    expect(transportOfWire(0)).toBe('both');
    expect(transportOfWire(7)).toBe('both');
  });
});

describe('network decisions', () => {
  it('have stable ids per network, transport and site, that parse back', () => {
    expect(decisionId.network('198.51.100.0/24')).toBe('net:198.51.100.0/24');
    expect(decisionId.network('198.51.100.0/24', 'udp', 'b')).toBe('net:udp:198.51.100.0/24@b');
    expect(decisionId.network('2001:db8::/32', 'tcp')).toBe('net:tcp:2001:db8::/32');
    const targets: DecisionTarget[] = [
      { scope: 'network', network: '198.51.100.0/24', transport: 'both', site: '' },
      { scope: 'network', network: '203.0.113.16/28', transport: 'udp', site: 'site-b' },
      { scope: 'network', network: '2001:db8:7::/48', transport: 'tcp', site: '' },
    ];
    for (const target of targets) expect(parseDecisionId(decisionIdOf(target))).toEqual({ allow: false, target });
    // only the canonical form: host bits zero, compressed lower-case IPv6, a site after @
    for (const id of ['net:198.51.100.7/24', 'net:2001:DB8::/32', 'net:198.51.100.0', 'net:198.51.100.0/24@', 'net:both:198.51.100.0/24']) expect(parseDecisionId(id)).toBeUndefined();
    expect(blockedPeer('net:198.51.100.0/24')).toBeUndefined();
  });

  it('refuse host bits with the network meant, and find overlaps with reserved and inside ranges', () => {
    expect(() => parseOutsideNetwork('198.51.100.7/24')).toThrow('did you mean 198.51.100.0/24?');
    expect(() => parseOutsideNetwork('2001:db8::1/64')).toThrow('did you mean 2001:db8::/64?');
    expect(() => parseOutsideNetwork('198.51.100.0')).toThrow(/no prefix length/);
    expect(networkText(parseOutsideNetwork('2001:DB8:7::/48').bytes, 48)).toBe('2001:db8:7::/48');
    expect(unblockableNetworkReason(parseOutsideNetwork('203.0.113.0/24'))).toBeUndefined();
    expect(unblockableNetworkReason(parseOutsideNetwork('8.0.0.0/6'))).toEqual({ reason: 'inside', overlaps: '10.0.0.0/8' });
    expect(unblockableNetworkReason(parseOutsideNetwork('127.0.0.0/16'))).toEqual({ reason: 'reserved', overlaps: '127.0.0.0/8' });
    expect(unblockableNetworkReason(parseOutsideNetwork('192.0.0.0/2'))).toEqual({ reason: 'reserved', overlaps: '224.0.0.0/3' });
    expect(unblockableNetworkReason(parseOutsideNetwork('fd00::/8'))).toEqual({ reason: 'inside', overlaps: 'fc00::/7' });
    expect(unblockableNetworkReason(parseOutsideNetwork('fc00::/6'))).toEqual({ reason: 'reserved', overlaps: 'fe80::/10' });
    expect(networksOverlap(parseOutsideNetwork('198.51.100.0/24'), parseOutsideNetwork('198.51.100.16/28'))).toBe(true);
    expect(networksOverlap(parseOutsideNetwork('198.51.100.0/25'), parseOutsideNetwork('198.51.100.128/25'))).toBe(false);
    expect(networksOverlap(parseOutsideNetwork('0.0.0.0/1'), parseOutsideNetwork('::/1'))).toBe(false);
  });
});
