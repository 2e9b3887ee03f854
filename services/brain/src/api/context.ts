import type { Redis } from 'ioredis';
import type { BlocklistWriter } from '../blocklist/writer.js';
import type { BrainConfig } from '../config.js';
import type { IncidentQuery } from '../incidents/store.js';
import type { WorkflowStep } from '../incidents/workflow.js';
import type { Notifier } from '../notify/notifier.js';
import type { BlocklistReader } from './blocklist-reader.js';
import type { IncidentView, Page } from './views.js';
import type { LiveEvents } from '../console/live-events.js';

/** What the API needs from the brain (BrainService hands over its own connections and writer). */
export interface ApiDeps {
  redis: Redis;
  /** Every write (manual blocks, unblocks, allow entries) goes through it, so it reaches the sensors like automatic decisions. */
  writer: BlocklistWriter;
  /** The incident store (incidents/store.ts IncidentStore). */
  incidents: {
    list(query: IncidentQuery): Promise<Page<IncidentView>>;
    get(id: string): Promise<IncidentView | undefined>;
    /** An operator's workflow step (acknowledge, close, reopen); undefined: no such incident. */
    step(id: string, step: WorkflowStep): Promise<{ incident: IncidentView } | { refused: string } | undefined>;
  };
  /** Readiness of each connection the brain needs (GET /health/ready). */
  ready: () => Promise<Record<string, boolean>>;
  /** What an operator must hear that does not make the brain unready (incident history lost, Redis without persistence), by topic. */
  warnings?: () => Record<string, string>;
  now?: () => number;
  /** The brain's insideNetworks (CIDR): manual peer blocks of them need force, like private ranges. */
  insideNetworks?: readonly string[];
  /** Operator overrules (allow entries, unblocks, manual blocks) are told here (notify/). */
  notifier?: Notifier;
  /** New incidents and decisions for the console's live stream (GET /v1/events/stream); absent: no stream. */
  events?: LiveEvents;
}

export interface ApiContext {
  deps: ApiDeps;
  config: BrainConfig['api'];
  reader: BlocklistReader;
  now: () => number;
}
