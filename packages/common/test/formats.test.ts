import { describe, expect, it } from 'vitest';
import {
  endpointText,
  ipProtocolName,
  parseEndpoint,
  parseEndpointText,
  parseIpProtocolName,
  parseRuleId,
  parseSiteHost,
  ruleId,
  ruleNamespace,
  siteHostText,
  siteOfSiteHost,
  transportOfIpProtocol,
} from '../src/index.js';

describe('shared text formats', () => {
  it('writes and reads endpoints, IPv6 in brackets', () => {
    expect(endpointText('203.0.113.7', 1214)).toBe('203.0.113.7:1214');
    expect(endpointText('2001:db8::7', 1214)).toBe('[2001:db8::7]:1214');
    expect(parseEndpointText('[2001:db8::7]:1214')).toEqual({ ip: '2001:db8::7', port: 1214 });
    expect(parseEndpointText('203.0.113.7:0')).toEqual({ ip: '203.0.113.7', port: 0 });
    for (const bad of ['203.0.113.7', '203.0.113.7:65536', '203.0.113.7:', 'host:80', '[2001:db8::7]1214', '1.2.3.4:0000080', ':80']) expect(parseEndpointText(bad)).toBeUndefined();
    expect(parseEndpoint('999.0.0.1:80')).toBeUndefined();
    expect(parseEndpoint('198.51.100.1:80')?.bytes).toEqual(Uint8Array.of(198, 51, 100, 1));
  });

  it('names IP protocols and transports both ways', () => {
    for (const number of [1, 6, 17, 47, 58, 255]) expect(parseIpProtocolName(ipProtocolName(number))).toBe(number);
    expect(parseIpProtocolName('ip-256')).toBeUndefined();
    expect(parseIpProtocolName('sctp')).toBeUndefined();
    expect([transportOfIpProtocol(6), transportOfIpProtocol(17), transportOfIpProtocol(1)]).toEqual(['tcp', 'udp', null]);
  });

  it('writes and reads site/host names', () => {
    expect(siteHostText('hq', '192.168.1.5')).toBe('hq/192.168.1.5');
    expect(parseSiteHost('hq/fd00::5')).toEqual({ site: 'hq', ip: 'fd00::5' });
    expect(parseSiteHost('/192.168.1.5')).toBeUndefined();
    expect(parseSiteHost('hq/')).toBeUndefined();
    expect(siteOfSiteHost('hq/192.168.1.5')).toBe('hq');
  });

  it('makes rule ids protocol/rule, and refuses anything else', () => {
    expect(ruleId('fasttrack', 'udp-ping')).toBe('fasttrack/udp-ping');
    expect(parseRuleId('correlate/udp-fanout')).toEqual({ namespace: 'correlate', rule: 'udp-fanout' });
    expect(ruleNamespace('operator/manual')).toBe('operator');
    expect(ruleNamespace('udp-ping')).toBe('');
    for (const bad of ['udp-ping', 'FastTrack/udp-ping', 'fasttrack/', 'a/b/c', 'fasttrack/udp ping']) expect(parseRuleId(bad)).toBeUndefined();
    expect(() => ruleId('fasttrack', 'Udp-Ping')).toThrow('lower-case');
  });
});
