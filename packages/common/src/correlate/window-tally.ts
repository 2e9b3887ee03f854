import type { CorrelationConfig } from './config.js';
import { TCP, UDP } from './observe.js';
import { entriesAggregates, type HostAggregates, type WindowEntry } from './rules.js';
import { ANSWERED } from './window.js';

/**
 * Running counts of what correlate/udp-fanout and correlate/tcp-udp-pairs read from a host window, kept as
 * members come, change and go (ingest/window-mirror.ts keeps one per window copy), so that a
 * merge costs what it adds rather than the window's size. The counts are those entriesAggregates
 * gives; the rules' time spans are read from the members only when the counts say a rule fires.
 */
export class WindowTally {
  /** UDP members on high ports, and how many of them never answered. */
  udp = 0;
  unanswered = 0;
  /** Outside IPs with both a TCP and a UDP member (excluded ports and port 0 left out). */
  pairs = 0;
  /** Per outside IP: its TCP and UDP members that count for the pairs. */
  private readonly ips = new Map<string, { tcp: number; udp: number }>();

  constructor(
    private readonly config: CorrelationConfig,
    private readonly excludedPorts: ReadonlySet<number>,
  ) {}

  private countsForUdp(entry: WindowEntry): boolean {
    return entry.protocol === UDP && entry.port >= this.config.host.udpFanout.highPortMin;
  }

  /** A member joined the window (+1) or left it (-1), with the flags it has. */
  count(entry: WindowEntry, sign: 1 | -1): void {
    if (this.countsForUdp(entry)) {
      this.udp += sign;
      if ((entry.flags & ANSWERED) === 0) this.unanswered += sign;
    }
    if (entry.port === 0 || this.excludedPorts.has(entry.port) || (entry.protocol !== TCP && entry.protocol !== UDP)) return;
    let ip = this.ips.get(entry.ip);
    if (!ip) {
      if (sign < 0) return;
      this.ips.set(entry.ip, (ip = { tcp: 0, udp: 0 }));
    }
    const paired = ip.tcp > 0 && ip.udp > 0;
    if (entry.protocol === TCP) ip.tcp += sign;
    else ip.udp += sign;
    const pairedNow = ip.tcp > 0 && ip.udp > 0;
    if (paired !== pairedNow) this.pairs += pairedNow ? 1 : -1;
    if (ip.tcp === 0 && ip.udp === 0) this.ips.delete(entry.ip);
  }

  /** A member's flags grew from `before` to its current ones (flags are only ever ORed). */
  flagsChanged(entry: WindowEntry, before: number): void {
    if ((before & ANSWERED) === 0 && (entry.flags & ANSWERED) !== 0 && this.countsForUdp(entry)) this.unanswered -= 1;
  }

  /** Whether correlate/udp-fanout or correlate/tcp-udp-pairs fires on these counts. */
  fires(): boolean {
    const { udpFanout, tcpUdpPairs } = this.config.host;
    return (this.udp >= udpFanout.minEndpoints && this.unanswered / this.udp >= udpFanout.unansweredRatio) || this.pairs >= tcpUdpPairs.minIps;
  }

  /**
   * The window's aggregates as hostFindings reads them: computed from `entries` when a rule fires;
   * otherwise the counts alone (spans 0: no finding reads them then).
   */
  aggregates(entries: () => Iterable<WindowEntry>): HostAggregates {
    if (this.fires()) return entriesAggregates(entries(), this.config);
    return { udp: { count: this.udp, unanswered: this.unanswered, firstSeenMs: 0, lastSeenMs: 0 }, pairs: { count: this.pairs, firstSeenMs: 0, lastSeenMs: 0 } };
  }
}
