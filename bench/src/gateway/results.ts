/**
 * What bench/gateway records: the consumers it measures side by side, and one record per
 * generator run, bulk transfer and consumer life. The figures (gateway/figures.ts) are computed
 * from these and nothing else.
 */
import type { GcWindow } from './consumer.js';
import type { ConntrackDrops } from './kernel.js';
import type { QueueBinding } from './queue-settings.js';

/**
 * The queue consumers, each run with the same rules and generator. `ladder`: it gets a zero-drop
 * ladder (the NF_REPEAT variants only an overloaded flood, to split the kernel's share of the
 * sensor's cost from the engine's).
 */
export const CONSUMERS = {
  c: { label: 'C reference (mnl, batch verdicts)', ladder: true },
  addon: { label: 'bare addon, NF_ACCEPT', ladder: true },
  'addon-repeat': { label: 'bare addon, NF_REPEAT+mark', ladder: false },
  nfqueue: { label: 'bare nfqueue binding, NF_ACCEPT', ladder: true },
  'nfqueue-repeat': { label: 'bare nfqueue, NF_REPEAT+mark', ladder: false },
  sensor: { label: 'sensor, queue.binding addon', ladder: true },
  'sensor-nfqueue': { label: 'sensor, queue.binding nfqueue', ladder: true },
  'sensor-uplink': { label: 'sensor, addon, uplink to NATS', ladder: true },
} as const;

export type Consumer = keyof typeof CONSUMERS;

/**
 * The sensor's variants: its binding, and whether its uplink publishes to a real nats-server in
 * the lab (issue 15 item 3: does GC of the uplink stall verdicts?). Opt-in (`--consumers`):
 * it is data for a decision, not a goal.
 */
export const SENSORS = {
  sensor: { binding: 'addon', uplink: false },
  'sensor-nfqueue': { binding: 'nfqueue', uplink: false },
  'sensor-uplink': { binding: 'addon', uplink: true },
} as const satisfies Record<string, { binding: QueueBinding; uplink: boolean }>;
export type SensorConsumer = keyof typeof SENSORS;
export const isSensor = (consumer: string): consumer is SensorConsumer => consumer in SENSORS;

export type ConfigName = 'none' | Consumer;
export type StepKind = 'ladder' | 'refine' | 'saturation' | 'ceiling';
export type BulkConfig = 'none' | 'conntrack' | 'sensor';

export interface GeneratorReport {
  sent: number;
  errors: number;
  seconds: number;
  rate: number;
  cpuSeconds: number;
  maxBacklog: number;
  firstIndex: number;
  nextIndex: number;
}

export interface StepResult {
  round: number;
  config: ConfigName;
  kind: StepKind;
  /** Offered new flows (datagrams) per second; null when unpaced. */
  offeredRate: number | null;
  generator: GeneratorReport & { cpuPercentOfCore: number };
  /** Reached less than 95 % of the offered rate: the figure is the generator's, not the queue's. */
  generatorLimited: boolean;
  /** Datagrams counted where they arrive (the internet namespace drops them there). */
  delivered: number;
  deliveredPerSecond: number;
  queue: {
    /** Packets that met the queue rule: handed to the queue or dropped because it was full. */
    metRule: number;
    queueDropped: number;
    userDropped: number;
    /** Packets the consumer received (and answered): queued and not lost to the socket buffer. */
    processed: number;
    processedPerSecond: number;
  } | null;
  drops: number;
  conntrack: ConntrackDrops | null;
  cpu: { machineBusyPercent: number; machineSoftirqPercent: number; consumerPercentOfCore: number | null; /** The consumer's CPU budget, % of one core (100: none; --consumer-cpu). */ consumerBudgetPercent: number };
  /** The consumer's GC pauses during the step (from --trace-gc; none for the C reference). */
  consumerGc: GcWindow | null;
  /** The most packets seen waiting in the kernel queue (queue_total, sampled every 5 ms). */
  peakQueued: number | null;
  /** The packets waiting in the kernel queue when the generator stopped: what the consumer still had to catch up. */
  queuedAtEnd: number | null;
  /** The fewest packets seen waiting over the step's final third: above a tenth of a second's worth, the consumer never caught up (fellBehind). Null: too few samples. */
  lowestQueuedInFinalThird: number | null;
}

export interface BulkResult {
  round: number;
  /** Which A / conntrack / B set of the round (each set runs the three back to back). */
  sample: number;
  config: BulkConfig;
  direction: 'download' | 'upload';
  bytes: number;
  seconds: number;
  megabytesPerSecond: number;
  /** Packets that met the queue rule during the transfer (null when no consumer was bound). */
  queuedPackets: number | null;
}

export interface ConsumerRun {
  round: number;
  consumer: Consumer;
  /** Packets the consumer says it judged (the sensor's engine counters, or a bare consumer's own count). */
  packets: number | null;
  /** A bare consumer's or the C reference's final counters as it printed them (batches, ENOBUFS, …). */
  counters?: Record<string, unknown>;
  /** The sensor's engine counters at stop. */
  engine?: Record<string, number>;
  /** Packets the queue handed it, from the kernel counters, over its whole life. */
  queueProcessed: number;
  /** Its GC pauses over its whole life (from --trace-gc). */
  gc: GcWindow;
  /** Warnings and errors in the sensor's log (it warns when the kernel queue drops). */
  logWarnings?: number;
}
