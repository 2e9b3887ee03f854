import type { CorrelationFinding } from '@p2pwall/common/correlate';
import type { EngineConfig } from '../engine-config.js';
import type { AnalysisCollector, AnalysisSummary } from './summary.js';

const PEERS_SHOWN = 20;
const FINDINGS_SHOWN = 20;

function n(value: number): string {
  return value.toLocaleString('en-US');
}

function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function endpoint(ip: string, port: number): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === 0 ? `${host}:*` : `${host}:${port}`;
}

/** The readable report of `analyze --format text`. */
export function textReport(summary: AnalysisSummary, collected: AnalysisCollector, config: EngineConfig, findings?: readonly CorrelationFinding[]): string {
  const lines: string[] = [];
  const mode = config.monitor ? 'monitor (nothing dropped)' : config.dropUdp ? 'enforce' : 'enforce, UDP not dropped (-n)';
  lines.push(`p2pwall analyze: ${summary.captures.join(', ')}`);
  lines.push(`  span        ${time(summary.firstTs)} .. ${time(summary.lastTs)}`);
  lines.push(`  packets     ${n(summary.packets)} (${n(summary.malformed)} malformed, ${n(summary.notIp)} not IP, ${n(summary.laterFragments)} later fragments)`);
  for (const path of summary.cutShort) lines.push(`  cut short   ${path} ends inside a record: read up to the cut, the rest is missing`);
  lines.push(`  flows       ${n(summary.flows)}: ${Object.entries(summary.flowsByApp).map(([app, count]) => `${app} ${n(count)}`).join(', ') || 'none'}`);
  lines.push(`  inside      ${config.inside.text.join(', ')}`);
  lines.push(`  policy      ${mode}; time-lock ${config.timeLockMs / 1000} s; open ports ${config.openPorts.join(',')}`);
  lines.push('');
  lines.push(`Clients identified: ${n(summary.clients)}`);
  for (const client of collected.clients.values()) {
    const first = client.evidence[0];
    lines.push(`  ${client.host}  ${client.protocol}  at ${time(client.ts)}`);
    if (first) {
      lines.push(`      first evidence: ${first.rule}${first.detail ? ` (${first.detail})` : ''} at packet ${n(first.packet)}, ${first.flow}`);
    }
    lines.push(`      identified after ${n(client.hostPackets)} of its packets, ${client.msSinceFirstPacket.toFixed(1)} ms after its first`);
  }
  lines.push('');
  lines.push(`Peers learned: ${n(summary.peers)}`);
  for (const peer of collected.peers.slice(0, PEERS_SHOWN)) {
    lines.push(`  ${endpoint(peer.ip, peer.port).padEnd(28)} via ${peer.via.padEnd(20)} from ${peer.learnedFrom ?? '-'}`);
  }
  if (collected.peers.length > PEERS_SHOWN) lines.push(`  … and ${n(collected.peers.length - PEERS_SHOWN)} more (--format jsonl lists every one)`);
  lines.push('');
  const reasons = Object.entries(summary.droppedByReason).filter(([, count]) => count > 0);
  lines.push(`Verdicts: ${n(summary.droppedPackets)} packets dropped${reasons.length ? ` (${reasons.map(([r, c]) => `${r} ${n(c)}`).join(', ')})` : ''}, in ${n(summary.droppedFlows)} flows`);
  const refused = [...Object.entries(summary.evidenceRefused).map(([why, count]) => [`${why} evidence`, count] as const), ...Object.entries(summary.peersRefused).map(([why, count]) => [`${why} peers`, count] as const), ...Object.entries(summary.peersCapped).map(([why, count]) => [`peers over the ${why} cap`, count] as const)].filter(([, count]) => count > 0);
  if (refused.length > 0) lines.push(`Refused: ${refused.map(([why, count]) => `${n(count)} ${why}`).join(', ')}`);
  if (summary.wouldDropPackets > 0) lines.push(`          ${n(summary.wouldDropPackets)} packets judged "drop" but let through (monitor mode or -n)`);
  for (const flow of collected.sampleDroppedFlows) {
    lines.push(`  ${flow.letter ?? ' '} ${flow.proto} ${endpoint(flow.src, flow.sport)} > ${endpoint(flow.dst, flow.dport)}  ${flow.reason}, ${flow.droppedPackets} dropped`);
  }
  if (summary.droppedFlows > collected.sampleDroppedFlows.length) lines.push(`  … and ${n(summary.droppedFlows - collected.sampleDroppedFlows.length)} more dropped flows`);
  if (findings) lines.push('', ...findingLines(findings));
  return `${lines.join('\n')}\n`;
}

/** What the brain would do about a finding: lock a host at its site, or block an endpoint everywhere (both transports, as correlate/peer-fanout does). */
function consequence(finding: CorrelationFinding): string {
  return finding.subject === 'host' ? 'the brain would lock the host' : 'the brain would block the endpoint (TCP and UDP)';
}

/** A host's `site/ip` without the capture's site name. */
function target(finding: CorrelationFinding): string {
  return finding.subject === 'host' ? `host ${finding.target.slice(finding.target.indexOf('/') + 1)}` : `endpoint ${finding.target}`;
}

function findingLines(findings: readonly CorrelationFinding[]): string[] {
  const lines = [`Brain rules (--correlate, the brain's default thresholds): ${n(findings.length)} finding${findings.length === 1 ? '' : 's'}`];
  for (const finding of findings.slice(0, FINDINGS_SHOWN)) {
    lines.push(`  ${finding.rule.padEnd(24)} ${target(finding)} at ${time(finding.firedAtMs)}`);
    lines.push(`      ${finding.detail}; ${consequence(finding)}`);
  }
  if (findings.length > FINDINGS_SHOWN) lines.push(`  … and ${n(findings.length - FINDINGS_SHOWN)} more (--format jsonl lists every one)`);
  return lines;
}
