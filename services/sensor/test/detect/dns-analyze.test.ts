import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethernet, udp } from '@p2pwall/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { LINKTYPE_ETHERNET, writePcap } from '../../src/capture/index.js';
import { SENSOR_CLI, SHARED_PCAPS, SKIP_SHARED } from '../analyze/support.js';
import { dnsMessage } from '../support/dns.js';

/** `p2pwall-sensor analyze` (the built binary) runs the DNS module as the live sensor does. */

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-dns-analyze-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Line {
  event: string;
  [key: string]: unknown;
}

function analyze(...args: string[]): Line[] {
  const run = spawnSync(process.execPath, [SENSOR_CLI, 'analyze', '--format', 'jsonl', ...args], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Line);
}

describe('analyze with DNS-name rules', () => {
  it('identifies the host that resolved a DHT router and learns the router, from a capture', () => {
    const host = '192.168.1.20';
    const ends = { src: host, dst: '198.51.100.53', sport: 51515, dport: 53 };
    const back = { src: ends.dst, dst: host, sport: 53, dport: ends.sport };
    const packets = [
      udp({ ...ends, payload: dnsMessage({ id: 0x4242, name: 'example.com', edns: true }) }),
      udp({ ...back, payload: dnsMessage({ id: 0x4242, name: 'example.com', response: true, answers: [{ name: 'example.com', type: 'A', value: '198.51.100.80' }] }) }),
      udp({ ...ends, payload: dnsMessage({ id: 0x5151, name: 'router.bittorrent.com', edns: true }) }),
      udp({ ...back, payload: dnsMessage({ id: 0x5151, name: 'router.bittorrent.com', response: true, compress: true, answers: [{ name: 'router.bittorrent.com', type: 'A', value: '203.0.113.67' }] }) }),
      udp({ src: host, dst: '203.0.113.67', sport: 6881, dport: 6881, payload: 'd1:ad2:id20:abcdefghij0123456789e1:q4:pinge' }),
    ];
    const path = join(dir, 'router.pcap');
    writePcap(path, packets.map((data, i) => ({ ts: Date.UTC(2026, 0, 1) + i * 10, data: ethernet(data) })), { linkType: LINKTYPE_ETHERNET });
    const events = analyze(path);
    expect(events.filter((e) => e.event === 'client')).toMatchObject([{ host, protocol: 'bittorrent', evidence: [{ rule: 'dns/name-query', detail: 'router.bittorrent.com' }] }]);
    expect(events.filter((e) => e.event === 'peer')).toMatchObject([{ ip: '203.0.113.67', port: 6881, transport: 'udp', protocol: 'bittorrent', via: 'dns/name-answer' }]);
    expect(events.at(-1)).toMatchObject({ event: 'summary', packets: 5, clients: 1, peers: 1, droppedByReason: { 'learned-peer': 1 } });
  });

  it('the resolver several hosts asked watched names is never what the brain would block (--correlate)', () => {
    const packets: Uint8Array[] = [];
    for (let host = 1; host <= 4; host++) {
      const ends = { src: `192.168.1.${30 + host}`, dst: '198.51.100.53', sport: 50000 + host, dport: 53 };
      const back = { src: ends.dst, dst: ends.src, sport: 53, dport: ends.sport };
      for (const [id, name] of [[host, 'router.bittorrent.com'], [100 + host, 'tracker.opentrackr.org']] as const) {
        packets.push(udp({ ...ends, payload: dnsMessage({ id, name }) }));
        packets.push(udp({ ...back, payload: dnsMessage({ id, name, response: true, compress: true, answers: [{ name, type: 'A', value: '203.0.113.68' }] }) }));
      }
    }
    const path = join(dir, 'shared-resolver.pcap');
    writePcap(path, packets.map((data, i) => ({ ts: Date.UTC(2026, 0, 1) + i * 10, data: ethernet(data) })), { linkType: LINKTYPE_ETHERNET });
    const events = analyze('--correlate', path);
    expect(events.filter((e) => e.event === 'client')).toHaveLength(4);
    const flows = events.filter((e) => e.event === 'flow' && e['dport'] === 53);
    expect(flows.length).toBeGreaterThan(0);
    // The DNS flows keep their rules but carry no app: they are DNS, not BitTorrent traffic.
    for (const flow of flows) expect(flow).toMatchObject({ app: null, rules: expect.arrayContaining(['dns/name-query']) });
    const findings = events.filter((e) => e.event === 'finding');
    expect(findings.filter((e) => String(e['target']).includes('198.51.100.53'))).toEqual([]);
  });

  it.skipIf(SKIP_SHARED !== '')('dns.pcap, its hosts taken as inside: ordinary queries flag nothing', () => {
    const summary = analyze('--inside', '192.168.170.8/32', '--inside', '82.178.113.245/32', join(SHARED_PCAPS, 'dns.pcap')).at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', packets: 5, clients: 0, peers: 0, flowsByApp: { unlabelled: 2 } });
  });
});
