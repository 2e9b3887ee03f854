import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CORRELATION_RULES } from '@p2pwall/common/correlate';
import { describe, expect, it } from 'vitest';
import { SENSOR_CLI, SHARED_PCAPS, SKIP_SHARED } from './support.js';

/**
 * `analyze --correlate` on real captures: the brain's payload-free rules, by the brain's code
 * and rule names, over the flow summaries the sensor would send.
 */

interface Line {
  event: string;
  [key: string]: unknown;
}

function analyze(capture: string, ...args: string[]): { code: number | null; lines: Line[]; stdout: string } {
  const run = spawnSync(process.execPath, [SENSOR_CLI, 'analyze', ...args, join(SHARED_PCAPS, capture)], { encoding: 'utf8' });
  const lines = args.includes('jsonl') ? run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Line) : [];
  return { code: run.status, lines, stdout: run.stdout };
}

const ORDINARY = ['http.pcapng', '443-curl.pcap', 'dns.pcap', 'quic.pcap', 'ssh.pcap', 'NTPv4.pcap', 'ftp.pcap'];

describe.skipIf(SKIP_SHARED !== '')('p2pwall-sensor analyze --correlate (built binary, real captures)', () => {
  it('gnutella.pcap without its module (as for a protocol no module reads): the host that fans out over UDP is found by correlate/udp-fanout and correlate/tcp-udp-pairs alone', () => {
    const { code, lines } = analyze('gnutella.pcap', '--correlate', '--detectors', 'fasttrack,bittorrent', '--format', 'jsonl');
    expect(code).toBe(0);
    const findings = lines.filter((line) => line.event === 'finding');
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', clients: 0, peers: 0, correlation: { findings: findings.length, unsendable: 0 } });
    const fanout = findings.find((f) => f.rule === CORRELATION_RULES.udpFanout);
    expect(fanout).toMatchObject({ subject: 'host', target: 'capture/10.0.2.15' });
    expect(fanout!.count).toBeGreaterThan(300);
    expect(findings.find((f) => f.rule === CORRELATION_RULES.tcpUdpPairs)).toMatchObject({ target: 'capture/10.0.2.15' });
    expect(findings.map((f) => f.rule).sort()).toEqual([CORRELATION_RULES.tcpUdpPairs, CORRELATION_RULES.udpFanout].sort());
  });

  it('gnutella.pcap with every module: the peers the Gnutella module learned make correlate/blocked-peers fire too, on the same host only', () => {
    const findings = analyze('gnutella.pcap', '--correlate', '--format', 'jsonl').lines.filter((line) => line.event === 'finding');
    expect(findings.map((f) => f.rule).sort()).toEqual([CORRELATION_RULES.blockedPeers, CORRELATION_RULES.tcpUdpPairs, CORRELATION_RULES.udpFanout].sort());
    expect(new Set(findings.map((f) => f.target))).toEqual(new Set(['capture/10.0.2.15']));
  });

  it('the text report names the rule, the host and what the brain would do', () => {
    const { stdout } = analyze('gnutella.pcap', '--correlate', '--detectors', 'fasttrack,bittorrent');
    expect(stdout).toMatch(/Brain rules \(--correlate, the brain's default thresholds\): 2 findings/);
    expect(stdout).toMatch(/correlate\/udp-fanout +host 10\.0\.2\.15 at /);
    expect(stdout).toContain('the brain would lock the host');
  });

  it('bittorrent.pcap: the client that reached peers it had learned is found by correlate/blocked-peers', () => {
    const findings = analyze('bittorrent.pcap', '--correlate', '--format', 'jsonl').lines.filter((line) => line.event === 'finding');
    expect(findings.map((f) => f.rule)).toContain(CORRELATION_RULES.blockedPeers);
  });

  it.each(ORDINARY)('%s: ordinary traffic, no finding', (capture) => {
    const summary = analyze(capture, '--correlate', '--format', 'jsonl').lines.at(-1)!;
    expect(summary.correlation).toEqual({ findings: 0, byRule: {}, unsendable: 0 });
  });

  it('without --correlate nothing of it is run or reported', () => {
    const { lines } = analyze('gnutella.pcap', '--format', 'jsonl');
    expect(lines.filter((line) => line.event === 'finding')).toEqual([]);
    expect(lines.at(-1)).not.toHaveProperty('correlation');
  });
});
