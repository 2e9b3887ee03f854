import { endpointText, networkText, originName, sensorName, transportOfWire } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { formatIp } from '@p2pwall/common/correlate';
import { neverExpires, type BrainDecision } from '../decide/decision.js';
import type { ActionName, AllowView, DecisionView, ScopeName, SensorState, SensorView } from './views.js';

/** Stored protobuf records → the JSON views of views.ts (pure). */

const { Scope, Action, Mode } = p2pwall.v1;

export const SCOPES: Record<ScopeName, p2pwall.v1.Scope> = { endpoint: Scope.SCOPE_ENDPOINT, ip: Scope.SCOPE_IP, host: Scope.SCOPE_HOST, network: Scope.SCOPE_NETWORK };
export const ACTIONS: Record<ActionName, p2pwall.v1.Action> = { block: Action.ACTION_BLOCK, allow: Action.ACTION_ALLOW };

function nameOf<T extends string>(table: Record<T, number>, value: number, fallback: T): T {
  return (Object.keys(table) as T[]).find((name) => table[name] === value) ?? fallback;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number): string | null => (ms > 0 ? iso(ms) : null);

/** The text of a decision's target: `ip:port` for an endpoint, `ip/prefix` for a network, `ip` otherwise ("" when its address is unusable). */
export function decisionValue(decision: BrainDecision): { ip: string; value: string } {
  const ip = formatIp(decision.ip) ?? '';
  if (ip === '') return { ip, value: '' };
  if (decision.scope === Scope.SCOPE_ENDPOINT) return { ip, value: endpointText(ip, decision.port) };
  if (decision.scope === Scope.SCOPE_NETWORK) return { ip, value: networkText(decision.ip, decision.prefixLength ?? 0) };
  return { ip, value: ip };
}

export function decisionView(d: BrainDecision): DecisionView {
  const { ip, value } = decisionValue(d);
  return {
    id: d.id,
    // An unknown scope in the hash would come from a newer writer; show it as the closest meaning.
    scope: nameOf(SCOPES, d.scope, 'ip'),
    value,
    ip,
    port: d.scope === Scope.SCOPE_ENDPOINT ? d.port : 0,
    site: d.site,
    transport: transportOfWire(d.transport),
    // An origin the contract does not know (a newer writer) is shown as the brain's own kind.
    origin: originName(d.origin) ?? 'correlation',
    action: nameOf(ACTIONS, d.action, 'block'),
    reason: d.reason,
    evidence: {
      hosts: d.evidence.hosts,
      sites: d.evidence.sites,
      sensors: d.evidence.sensors,
      rules: d.evidence.rules,
      count: d.evidence.count,
      firstSeen: isoOrNull(d.evidence.firstSeenMs),
      lastSeen: isoOrNull(d.evidence.lastSeenMs),
    },
    created: iso(d.createdMs),
    expires: neverExpires(d.expiresMs) ? null : iso(d.expiresMs),
    author: d.author,
    simulated: d.simulated,
  };
}

export function allowView(d: BrainDecision): AllowView {
  const { value } = decisionValue(d);
  return {
    id: d.id,
    scope: nameOf(SCOPES, d.scope, 'ip'),
    value,
    site: d.site,
    reason: d.reason,
    author: d.author,
    created: iso(d.createdMs),
    expires: neverExpires(d.expiresMs) ? null : iso(d.expiresMs),
  };
}

const MODES: Record<SensorView['mode'], number> = { enforce: Mode.MODE_ENFORCE, monitor: Mode.MODE_MONITOR, unknown: Mode.MODE_UNSPECIFIED };

// 64-bit counters decode as numbers (see proto/long-as-number.js).
const count = (value: number | null | undefined): number => value ?? 0;

/** One sensor's last heartbeat, as of nowMs; `blocklistVersion` is the shared blocklist's current version. */
export function sensorView(beat: p2pwall.v1.Heartbeat, blocklistVersion: number, nowMs: number, staleSeconds: number): SensorView {
  const s = beat.sensor ?? { site: '', gateway: '', queue: 0 };
  const site = s.site ?? '';
  const gateway = s.gateway ?? '';
  const queue = s.queue ?? 0;
  const ageSeconds = Math.max(0, Math.round((nowMs - beat.sentMs) / 100) / 10);
  const applied = count(beat.blocklistVersion);
  const state: SensorState = beat.stopping ? 'stopped' : ageSeconds > staleSeconds ? 'stale' : 'running';
  return {
    name: sensorName(site, gateway, queue),
    site,
    gateway,
    queue,
    version: beat.version,
    mode: nameOf(MODES, beat.mode, 'unknown'),
    lastHeartbeat: iso(beat.sentMs),
    ageSeconds,
    stale: state === 'stale',
    state,
    started: isoOrNull(beat.startedMs),
    packets: count(beat.packets),
    dropped: count(beat.dropped),
    flows: count(beat.flows),
    peers: count(beat.peers),
    clients: count(beat.clients),
    queues: beat.queues.map((q) => ({ queue: q.queue ?? 0, total: count(q.queueTotal), queueDropped: count(q.queueDropped), userDropped: count(q.userDropped) })),
    blocklistVersion: applied,
    blocklistLag: Math.max(0, blocklistVersion - applied),
    backlogBatches: count(beat.backlogBatches),
    shedBatches: count(beat.shedBatches),
  };
}
