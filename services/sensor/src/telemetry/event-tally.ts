import type { EngineEvent, FlowEvent } from '../events.js';

/** Why a flow left the table, as a metric label: idle timeout, table full, or shutdown. */
export type FlowEndReason = 'idle' | 'capacity' | 'shutdown';

const END_REASONS: Record<Exclude<FlowEvent['end'], 'ongoing'>, FlowEndReason> = { idle: 'idle', evicted: 'capacity', flushed: 'shutdown' };

/** A two-level count (protocol → via, ...); label values come from the detectors' constant names. */
export type NestedCounts = Map<string, Map<string, number>>;

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * Counts what the engine's events say (clients identified, peers learned, flows that ended), for
 * the metrics. Events come once per detection or flow end, never once per packet, so counting
 * them here costs the packet path nothing; the metrics read the tallies when scraped.
 */
export class EventTally {
  /** New clients by protocol: not again when its lock ran out and evidence re-armed it, again after its entry was evicted. */
  readonly clientsIdentified = new Map<string, number>();
  /** New peers by protocol, then by how they were learned (the rule, or the header that named them). */
  readonly peersLearned: NestedCounts = new Map();
  readonly flowsEnded = new Map<FlowEndReason, number>();

  observe(event: EngineEvent): void {
    switch (event.event) {
      case 'client':
        if (!event.reidentified) bump(this.clientsIdentified, event.protocol);
        break;
      case 'peer': {
        let byVia = this.peersLearned.get(event.protocol);
        if (byVia === undefined) {
          byVia = new Map();
          this.peersLearned.set(event.protocol, byVia);
        }
        bump(byVia, event.via);
        break;
      }
      case 'flow':
        if (event.end !== 'ongoing') bump(this.flowsEnded, END_REASONS[event.end]);
        break;
      default:
        break;
    }
  }
}
