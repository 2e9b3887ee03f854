import { CidrSet, DEFAULT_INSIDE_NETWORKS } from './decode/cidr.js';
import type { Evidence } from './detect/module.js';
import { activeModules, type ActiveModule } from './detect/registry.js';
import { DEFAULT_FLOW_TIMEOUTS, type FlowTimeouts } from './track/flow-table.js';

export interface EngineConfig {
  /** Networks whose hosts are "inside" (ftwall's green network). */
  inside: CidrSet;
  /** The protocol modules to run, highest priority first (detect/registry.ts activeModules). */
  modules: readonly ActiveModule[];
  /** Infrastructure never learned as a peer (`protect:`): the organisation's resolvers, proxies, servers. */
  protect: CidrSet;
  /** Peers one flow may teach; more are counted (peersCapped) and ignored. */
  maxPeersPerFlow: number;
  /** Peers one inside host's traffic may teach per minute; more are counted (peersCapped) and ignored. */
  maxPeersPerHostPerMinute: number;
  /** ftwall -t: how long an identified client's new outbound connections stay locked, ms; 0 disables. */
  timeLockMs: number;
  /** Destination ports a locked client may still open connections to. */
  openPorts: readonly number[];
  /** false is ftwall's -n: UDP is never dropped (still judged and reported). */
  dropUdp: boolean;
  /** Judge and report everything, drop nothing. */
  monitor: boolean;
  /** How long a learned peer stays blocked after it was last seen, ms. */
  peerTtlMs: number;
  maxFlows: number;
  flowTimeouts: FlowTimeouts;
  maxPeers: number;
  maxClients: number;
  maxHosts: number;
  /** Payload packets per flow that any module looks at (each module's own depth is capped by it). */
  inspectPackets: number;
  /**
   * Bytes all modules' per-flow buffers may hold together (detect/buffer-budget.ts): a bound on
   * what a flood of flows can make the modules keep, whatever the number of flows.
   */
  moduleBufferBytes: number;
  /**
   * Interim flow events (end `ongoing`), ms; 0: a flow's event comes only when it ends. When set,
   * a boundary-crossing flow that changed is reported again this long after its first change
   * since its last report, and a flow is reported at once when its first packet is judged
   * "drop" (an attempt to a blocked peer): the brain must see live flows and attempts while they
   * happen, not after an idle timeout of minutes.
   */
  interimMs: number;
  /**
   * Called with every piece of evidence a module returned, before the engine's trust rules, and
   * whether they accepted it: the detector test harness reads modules through the real engine.
   */
  observeEvidence: EvidenceObserver | null;
}

export type EvidenceObserver = (protocol: string, evidence: Evidence, accepted: boolean) => void;

export const DEFAULT_INSPECT_PACKETS = 16;

/** 32 MiB: room for 100,000 heads of 64 bytes at once, or 7,700 grown to the full 4 KiB. */
export const DEFAULT_MODULE_BUFFER_BYTES = 32 * 1024 * 1024;

export const DEFAULT_OPEN_PORTS: readonly number[] = [53, 80, 443, 123];

export function engineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    inside: new CidrSet(DEFAULT_INSIDE_NETWORKS),
    modules: activeModules({}, overrides.inspectPackets ?? DEFAULT_INSPECT_PACKETS),
    protect: new CidrSet([]),
    maxPeersPerFlow: 256,
    maxPeersPerHostPerMinute: 2000,
    timeLockMs: 120_000,
    openPorts: DEFAULT_OPEN_PORTS,
    dropUdp: true,
    monitor: false,
    peerTtlMs: 7 * 24 * 3600_000,
    maxFlows: 262_144,
    flowTimeouts: DEFAULT_FLOW_TIMEOUTS,
    maxPeers: 1_000_000,
    maxClients: 65_536,
    maxHosts: 262_144,
    inspectPackets: DEFAULT_INSPECT_PACKETS,
    moduleBufferBytes: DEFAULT_MODULE_BUFFER_BYTES,
    interimMs: 0,
    observeEvidence: null,
    ...overrides,
  };
}
