import { describe, expect, it } from 'vitest';
import { eveAlert, eveEndpointsOfFlowText, eveFlow, eveFlowId, eveProto, eveSignatureId, eveTimestamp } from '../src/eve.js';

/** The EVE mapping shared by analyze and the brain: Suricata's timestamp, flow ids, endpoints. */

describe('EVE JSON mapping', () => {
  it('writes timestamps as Suricata does: microseconds and a +0000 offset', () => {
    expect(eveTimestamp(Date.UTC(2026, 0, 1, 0, 0, 0, 123))).toBe('2026-01-01T00:00:00.123000+0000');
    // sub-millisecond capture times keep their microseconds
    expect(eveTimestamp(1767225608429.599)).toBe('2026-01-01T00:00:08.429599+0000');
    expect(eveTimestamp(1767225608999.9998)).toBe('2026-01-01T00:00:09.000000+0000');
    expect(eveTimestamp(0)).toBe('1970-01-01T00:00:00.000000+0000');
  });

  it('gives one flow id per inside host and outside endpoint: stable, within 51 bits, never 0', () => {
    const id = eveFlowId('192.168.1.5', '203.0.113.1', 41477);
    expect(id).toBe(eveFlowId('192.168.1.5', '203.0.113.1', 41477));
    expect(Number.isSafeInteger(id) && id > 0 && id < 2 ** 51).toBe(true);
    const others = [eveFlowId('192.168.1.6', '203.0.113.1', 41477), eveFlowId('192.168.1.5', '203.0.113.2', 41477), eveFlowId('192.168.1.5', '203.0.113.1', 41478)];
    for (const other of others) expect(other).not.toBe(id);
    const many = new Set(Array.from({ length: 10_000 }, (_, i) => eveFlowId('10.0.0.1', `198.51.100.${i % 256}`, 1024 + i)));
    expect(many.size).toBe(10_000);
    const sid = eveSignatureId('fasttrack/udp-ping');
    expect(sid).toBe(eveSignatureId('fasttrack/udp-ping'));
    expect(sid).toBeGreaterThanOrEqual(9_000_000);
    expect(sid).toBeLessThan(10_000_000);
  });

  it('reads the flow text of evidence, either direction, IPv6 too; refuses other shapes', () => {
    expect(eveEndpointsOfFlowText('udp 192.168.1.5:3531 > 203.0.113.1:41477', '192.168.1.5')).toEqual({ proto: 'UDP', srcIp: '192.168.1.5', srcPort: 3531, destIp: '203.0.113.1', destPort: 41477, insideIp: '192.168.1.5', outsideIp: '203.0.113.1', outsidePort: 41477 });
    expect(eveEndpointsOfFlowText('tcp 203.0.113.1:1214 > 192.168.1.5:40000 (inbound)', '192.168.1.5')).toMatchObject({ proto: 'TCP', srcIp: '203.0.113.1', srcPort: 1214, outsideIp: '203.0.113.1', outsidePort: 1214 });
    expect(eveEndpointsOfFlowText('udp [fd00::5]:6881 > [2001:db8::1]:51413', 'fd00::5')).toMatchObject({ srcIp: 'fd00::5', destIp: '2001:db8::1', destPort: 51413 });
    expect(eveEndpointsOfFlowText('udp 192.168.1.5:3531 > 203.0.113.1:41477', '192.168.1.9')).toBeUndefined();
    expect(eveEndpointsOfFlowText('nonsense', '192.168.1.5')).toBeUndefined();
    expect(eveEndpointsOfFlowText('udp 192.168.1.5 > 203.0.113.1:41477', '192.168.1.5')).toBeUndefined();
    expect(eveProto('both')).toBe('IP');
  });

  it('builds alert and flow events with the same flow id for one conversation', () => {
    const endpoints = eveEndpointsOfFlowText('udp 192.168.1.5:3531 > 203.0.113.1:41477', '192.168.1.5')!;
    const alert = eveAlert({ tsMs: 1000, endpoints, rule: 'fasttrack/udp-ping', what: 'fasttrack client identified', severity: 2, blocked: true, appProto: 'fasttrack', p2pwall: { x: 1 } });
    expect(alert).toEqual({
      timestamp: '1970-01-01T00:00:01.000000+0000',
      flow_id: eveFlowId('192.168.1.5', '203.0.113.1', 41477),
      event_type: 'alert',
      src_ip: '192.168.1.5',
      src_port: 3531,
      dest_ip: '203.0.113.1',
      dest_port: 41477,
      proto: 'UDP',
      app_proto: 'fasttrack',
      alert: { action: 'blocked', gid: 1, signature_id: eveSignatureId('fasttrack/udp-ping'), rev: 1, signature: 'P2PWALL fasttrack/udp-ping fasttrack client identified', category: 'Potential Corporate Privacy Violation', severity: 2 },
      p2pwall: { x: 1 },
    });
    const flow = eveFlow({ endpoints: { ...endpoints, srcPort: 3531 }, appProto: null, startMs: 1000, endMs: 4600, packetsToServer: 3, packetsToClient: 0, bytesToServer: 120, bytesToClient: 0, end: 'idle', alerted: true, p2pwall: {} });
    expect(flow.flow_id).toBe(alert.flow_id);
    expect(flow).not.toHaveProperty('app_proto');
    expect(flow.flow).toEqual({ pkts_toserver: 3, pkts_toclient: 0, bytes_toserver: 120, bytes_toclient: 0, start: '1970-01-01T00:00:01.000000+0000', end: '1970-01-01T00:00:04.600000+0000', age: 4, state: 'closed', reason: 'timeout', alerted: true });
  });
});
