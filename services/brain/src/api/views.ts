/**
 * The JSON shapes of the brain's HTTP API (`/v1/...`), shared by the server (api/) and the
 * `p2pwall` CLI (ctl/). Times are ISO 8601 strings in UTC; addresses are text (`ip`, `ip:port`,
 * `[v6]:port`). The OpenAPI document at /openapi.json is generated from the route schemas, which
 * mirror these types.
 */
import type { OriginName } from '@p2pwall/common/decisions';
import type { Transport } from '@p2pwall/common/formats';
import type { IncidentState, WorkflowAction } from '../incidents/workflow.js';

export type { IncidentState, OriginName, Transport, WorkflowAction };
export type ScopeName = 'endpoint' | 'ip' | 'host' | 'network';
export type ActionName = 'block' | 'allow';

export interface EvidenceView {
  /** Inside hosts as `site/ip` (at most evidenceMaxItems; `count` holds the full number). */
  hosts: string[];
  sites: string[];
  /** Sensors as `site/gateway/queue`. */
  sensors: string[];
  rules: string[];
  count: number;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface DecisionView {
  id: string;
  scope: ScopeName;
  /** `ip:port` (endpoint), `ip` (ip, host), `ip/prefix` (network). */
  value: string;
  /** The address; a network's first address. */
  ip: string;
  /** 0 unless scope is endpoint. */
  port: number;
  /** The site a host (or site-scoped network) decision concerns; "" for decisions that hold at every site. */
  site: string;
  /** What an endpoint or ip decision blocks (or allows): tcp, udp or both; both for a host. */
  transport: Transport;
  origin: OriginName;
  action: ActionName;
  reason: string;
  evidence: EvidenceView;
  created: string;
  /** null: never expires. */
  expires: string | null;
  author: string;
  /** Recorded for a site in simulation: never enforced. */
  simulated: boolean;
}

/** An allowlist entry: an ALLOW decision (it travels to the sensors like any decision). */
export interface AllowView {
  id: string;
  scope: ScopeName;
  value: string;
  site: string;
  reason: string;
  author: string;
  created: string;
  expires: string | null;
}

export interface FlowSampleView {
  seen: string;
  gateway: string;
  protocol: string;
  /** The outside end, `ip:port`. */
  peer: string;
  app: string;
  rules: string[];
  verdict: 'accept' | 'drop';
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
}

export interface RuleCountView {
  rule: string;
  count: number;
}

export interface IdentificationView {
  rule: string;
  /** The protocol module's detail, e.g. a network name ("" when none). */
  detail: string;
  /** The packet's flow, `udp 192.168.1.5:3531 > 203.0.113.1:41477`. */
  flow: string;
  /** Ordinal of the packet in the sensor's input; 0: unknown. */
  packet: number;
  seen: string;
  gateway: string;
}

/** One step of an incident's workflow (incidents/workflow.ts). */
export interface WorkflowStepView {
  action: WorkflowAction;
  at: string;
  /** The role of the token that took it. */
  role: string;
  author: string;
  note: string;
}

export interface IncidentView {
  id: string;
  site: string;
  /** The inside host's address. */
  host: string;
  /** The P2P protocol ("fasttrack", ...), or "unknown" for payload-free correlation only. */
  protocol: string;
  firstSeen: string;
  lastSeen: string;
  /** Still open: evidence came within the quiet time. */
  open: boolean;
  gateways: string[];
  /** Rules that fired, with how often. */
  evidence: RuleCountView[];
  /** Distinct outside peers contacted (count) and some of them. */
  peers: { count: number; sample: string[] };
  /** Blocked attempts and bytes so far, counted as each flow summary arrives (interim ones too). */
  attemptsBlocked: number;
  bytes: number;
  /** Flows of the incident still live: their counts so far are in attemptsBlocked and bytes, and may grow. */
  liveFlows: number;
  /** The counts may still grow: the incident is open and some of its flows are still live. */
  provisional: boolean;
  /** What identified the host first (rule, detail, packet and flow, as `analyze` prints it); null when no identification came with evidence. */
  identifiedBy: IdentificationView | null;
  /** Ids of the decisions taken because of this incident (some of them; `decisionCount` holds the number). */
  decisions: string[];
  decisionCount: number;
  /** The operators' workflow state (acknowledge, close, reopen); `open` above says whether evidence still comes. */
  state: IncidentState;
  /** Its steps, oldest first, with who, when and the note. */
  workflow: WorkflowStepView[];
  /** Closed, and evidence came after the close (the incident stays closed: incidents/workflow.ts). */
  evidenceSinceClosed: boolean;
  /** Sample flows; only in GET /v1/incidents/:id. */
  samples?: FlowSampleView[];
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface QueueView {
  queue: number;
  total: number;
  queueDropped: number;
  userDropped: number;
}

export type SensorState = 'running' | 'stopped' | 'stale';

export interface SensorView {
  /** `site/gateway/queue`. */
  name: string;
  site: string;
  gateway: string;
  queue: number;
  version: string;
  mode: 'enforce' | 'monitor' | 'unknown';
  lastHeartbeat: string;
  /** Seconds since the last heartbeat. */
  ageSeconds: number;
  /** No heartbeat for longer than api.sensorStaleSeconds, and the last one did not say it was stopping. */
  stale: boolean;
  /**
   * `running`: heartbeats come; `stopped`: its last heartbeat said it was stopping cleanly (its
   * silence is expected); `stale`: silent without saying so (crashed, cut off, or a sensor that
   * predates the stopping heartbeat).
   */
  state: SensorState;
  started: string | null;
  packets: number;
  dropped: number;
  flows: number;
  peers: number;
  clients: number;
  queues: QueueView[];
  blocklistVersion: number;
  /** The shared blocklist's version minus the sensor's. */
  blocklistLag: number;
  backlogBatches: number;
  shedBatches: number;
}

export interface HostView {
  ip: string;
  /** The site asked for, or "" for every site. */
  site: string;
  incidents: IncidentView[];
  /** Decisions about this host (locks, manual blocks) and the allow entries covering it. */
  decisions: DecisionView[];
  /** Active locks by site. */
  locks: DecisionView[];
  allowed: AllowView[];
}

export interface PeerView {
  ip: string;
  /** 0 when asked for a whole address. */
  port: number;
  /**
   * Whether an enforced block covers what was asked: for an endpoint, a block of it or of its
   * whole address; for a whole address (port 0), a block of the address (one blocked port of it
   * does not make the address blocked: see blockedPorts).
   */
  blocked: boolean;
  /** For a whole address: its endpoints under an enforced block of their own ("1214", "1214/udp"). */
  blockedPorts: string[];
  /** Active block decisions covering it, with their evidence: why it is blocked. */
  decisions: DecisionView[];
  allowed: AllowView[];
  /** Inside hosts (`site/ip`) and sites that contacted it, from decisions and incidents. */
  hosts: string[];
  sites: string[];
  incidents: IncidentView[];
}

export interface ErrorView {
  statusCode: number;
  error: string;
  message: string;
}
