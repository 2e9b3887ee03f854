import type { CorrelationFinding } from '@p2pwall/common/correlate';
import type { Engine } from '../engine.js';
import type { ClientEvent, EngineEvent, FlowEvent, PeerEvent } from '../events.js';

export interface AnalysisSummary {
  event: 'summary';
  captures: string[];
  /** Captures that end inside a record (copied while still being written, or cut): read up to the cut. */
  cutShort: string[];
  packets: number;
  bytes: number;
  malformed: number;
  notIp: number;
  laterFragments: number;
  flows: number;
  flowsByApp: Record<string, number>;
  clients: number;
  peers: number;
  droppedPackets: number;
  droppedByReason: Record<string, number>;
  wouldDropPackets: number;
  droppedFlows: number;
  evidenceRefused: { unsolicited: number; unanswered: number; supporting: number };
  peersRefused: Record<'reserved' | 'inside' | 'protected' | 'allowlisted' | 'low-port', number>;
  peersCapped: { flow: number; host: number };
  firstTs: number | null;
  lastTs: number | null;
  /** With --correlate: what the brain's payload-free rules found (each finding is also a jsonl line of its own). */
  correlation?: CorrelationSummary;
}

export interface CorrelationSummary {
  findings: number;
  byRule: Record<string, number>;
  /** Events the uplink could not have sent (an unreadable address): left out, as the live sensor leaves them out. */
  unsendable: number;
}

/** What --correlate found, as given to summary(). */
export interface CorrelationResult {
  findings: readonly CorrelationFinding[];
  unsendable: number;
}

/** Gathers what a report needs from the engine's events, as they stream past. */
export class AnalysisCollector {
  readonly clients = new Map<string, ClientEvent>();
  readonly peers: PeerEvent[] = [];
  readonly flowsByApp = new Map<string, number>();
  readonly droppedFlowsByLetter = new Map<string, number>();
  readonly sampleDroppedFlows: FlowEvent[] = [];
  firstTs: number | null = null;
  lastTs: number | null = null;
  droppedFlows = 0;

  readonly sink = (event: EngineEvent): void => {
    switch (event.event) {
      case 'client':
        if (!this.clients.has(event.host)) this.clients.set(event.host, event);
        break;
      case 'peer':
        this.peers.push(event);
        break;
      case 'flow': {
        const app = event.app ?? 'unlabelled';
        this.flowsByApp.set(app, (this.flowsByApp.get(app) ?? 0) + 1);
        if (this.firstTs === null || event.firstSeen < this.firstTs) this.firstTs = event.firstSeen;
        if (this.lastTs === null || event.lastSeen > this.lastTs) this.lastTs = event.lastSeen;
        if (event.verdict === 'drop') {
          this.droppedFlows++;
          const letter = event.letter ?? '?';
          this.droppedFlowsByLetter.set(letter, (this.droppedFlowsByLetter.get(letter) ?? 0) + 1);
          if (this.sampleDroppedFlows.length < 10) this.sampleDroppedFlows.push(event);
        }
        break;
      }
      default:
        break;
    }
  };

  summary(engine: Engine, captures: string[], cutShort: string[] = [], correlation?: CorrelationResult): AnalysisSummary {
    const c = engine.counters;
    const summary: AnalysisSummary = {
      event: 'summary',
      captures,
      cutShort,
      packets: c.packets,
      bytes: c.bytes,
      malformed: c.malformed,
      notIp: c.notIp,
      laterFragments: c.laterFragments,
      flows: c.flows,
      flowsByApp: Object.fromEntries(this.flowsByApp),
      clients: this.clients.size,
      peers: this.peers.length,
      droppedPackets: c.dropped,
      droppedByReason: { 'learned-peer': c.droppedLearnedPeer, 'time-lock': c.droppedTimeLock, signature: c.droppedSignature },
      wouldDropPackets: c.wouldDrop,
      droppedFlows: this.droppedFlows,
      // What the trust rules and peer guards kept out: evidence people outside could have chosen.
      evidenceRefused: { unsolicited: c.evidenceRefusedUnsolicited, unanswered: c.evidenceRefusedUnanswered, supporting: c.evidenceRefusedSupporting },
      peersRefused: { reserved: c.peersRefusedReserved, inside: c.peersRefusedInside, protected: c.peersRefusedProtected, allowlisted: c.peersRefusedAllowlisted, 'low-port': c.peersRefusedLowPort },
      peersCapped: { flow: c.peersCappedFlow, host: c.peersCappedHost },
      firstTs: this.firstTs,
      lastTs: this.lastTs,
    };
    if (correlation) summary.correlation = correlationSummary(correlation);
    return summary;
  }
}

function correlationSummary({ findings, unsendable }: CorrelationResult): CorrelationSummary {
  const byRule: Record<string, number> = {};
  for (const finding of findings) byRule[finding.rule] = (byRule[finding.rule] ?? 0) + 1;
  return { findings: findings.length, byRule, unsendable };
}
