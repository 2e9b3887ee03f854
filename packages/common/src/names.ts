/**
 * Every NATS subject, JetStream name and Redis key of p2pwall, versioned, in one place. A new
 * wire version gets new names (v2) so old and new services can run side by side.
 */

/** Site and gateway names become subject tokens: lower-case letters, digits and dashes. */
const TOKEN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export class NameError extends Error {}

function token(kind: string, value: string): string {
  if (!TOKEN.test(value)) throw new NameError(`${kind} "${value}" cannot be used in a subject: use lower-case letters, digits and dashes`);
  return value;
}

export const SUBJECTS = {
  /** Flow summary batches of one gateway. */
  summaries: (site: string, gateway: string): string => `p2pwall.v1.summaries.${token('site', site)}.${token('gateway', gateway)}`,
  /** Every gateway's summaries (the stream's filter). */
  allSummaries: 'p2pwall.v1.summaries.>',
  heartbeats: (site: string, gateway: string): string => `p2pwall.v1.heartbeats.${token('site', site)}.${token('gateway', gateway)}`,
  allHeartbeats: 'p2pwall.v1.heartbeats.>',
} as const;

/**
 * What one sensor's NATS user may do, and nothing more: publish its own summaries and heartbeats
 * (JetStream publishes get their acknowledgement on an inbox, hence `_INBOX.>`). With these, a
 * sensor cannot publish as another; the brain checks the payload against the subject.
 */
export function sensorNatsPermissions(site: string, gateway: string): { publish: string[]; subscribe: string[] } {
  return { publish: [SUBJECTS.summaries(site, gateway), SUBJECTS.heartbeats(site, gateway)], subscribe: ['_INBOX.>'] };
}

/** Who a message is from, as its subject says: the only sensor identity the brain trusts. */
export interface SubjectSender {
  kind: 'summaries' | 'heartbeats';
  site: string;
  gateway: string;
}

/** The sender named by a summaries or heartbeats subject; undefined for any other subject (pure). */
export function senderOfSubject(subject: string): SubjectSender | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'p2pwall' || parts[1] !== 'v1') return undefined;
  const [, , kind, site, gateway] = parts as [string, string, string, string, string];
  if (kind !== 'summaries' && kind !== 'heartbeats') return undefined;
  if (!TOKEN.test(site) || !TOKEN.test(gateway)) return undefined;
  return { kind, site, gateway };
}

export const STREAMS = {
  /** JetStream stream holding summaries and heartbeats. */
  summaries: 'P2PWALL_V1_SUMMARIES',
} as const;

export const CONSUMERS = {
  /** The durable pull consumer all brain replicas share. */
  brain: 'p2pwall-v1-brain',
} as const;

const REDIS_PREFIX = 'p2pwall:v1';

export type IncidentIndex = 'all' | 'site' | 'gateway' | 'host' | 'protocol' | 'peer';

export const REDIS_KEYS = {
  /** Hash: decision id → encoded Decision (the active blocklist). */
  decisions: `${REDIS_PREFIX}:decisions`,
  /** String: the blocklist version, bumped by every change. */
  blocklistVersion: `${REDIS_PREFIX}:blocklist:version`,
  /** Stream: encoded BlocklistChange entries, trimmed; a follower that falls behind re-reads the hash. */
  blocklistChanges: `${REDIS_PREFIX}:blocklist:changes`,
  /** Correlation state: per outside endpoint, the inside hosts (site/host) that reached it with P2P evidence. */
  endpointHosts: (endpoint: string): string => `${REDIS_PREFIX}:corr:endpoint:${endpoint}`,
  /** Correlation state: per inside host, the outside endpoints it reached in the window. */
  hostEndpoints: (site: string, host: string): string => `${REDIS_PREFIX}:corr:host:${site}:${host}`,
  /**
   * String, with an expiry: which batches of one sensor instance were already counted, so a
   * redelivery counts once. A header (the highest sequence claimed, the window size) and a ring of
   * bits, one per sequence of the window below it (ingest/dedup.ts): one key per sensor instance,
   * not one per batch. Keyed on the subject's site and gateway too, so a publisher allowed only
   * its own subjects cannot pre-claim another sensor's batches.
   */
  seenBatches: (site: string, gateway: string, instance: string): string => `${REDIS_PREFIX}:ingest:batches-seen:${site}:${gateway}:${instance}`,
  /** Hash: sensor id → encoded last Heartbeat. */
  sensors: `${REDIS_PREFIX}:sensors`,
  /** Sorted set: sensor id → when the brain last stored its heartbeat (ms); entries of the sensors hash not heard from for long are removed by it. */
  sensorsSeen: `${REDIS_PREFIX}:sensors:seen`,
  /**
   * Hash: one incident's fields (counters, `r:<rule>` counts, gateways as a comma list). Beside it,
   * `<key>:peers` and `:decisions` (sorted sets by first time) and `:samples` (capped list).
   */
  incident: (id: string): string => `${REDIS_PREFIX}:incident:${id}`,
  /** Hash: protocol → "id|lastSeenMs" of one inside host's open incidents. */
  incidentOpen: (site: string, host: string): string => `${REDIS_PREFIX}:incident-open:${site}:${host}`,
  /** Sorted set of incident ids by last seen: every incident, or those of one site, gateway, host ip, protocol or peer ip. */
  incidentIndex: (by: IncidentIndex, value = ''): string => `${REDIS_PREFIX}:incidents:by-${by}:${value}`,
  /** Sorted set, for one listing and deleted after it (expires within a minute): a peer's incidents scored by their own last seen. */
  incidentListing: (token: string): string => `${REDIS_PREFIX}:incidents:listing:${token}`,
  /** Hash: block id → encoded Decision, the blocks an allow entry lifted; restored when the entry goes. */
  suspendedBlocks: (allowId: string): string => `${REDIS_PREFIX}:allow:suspended:${allowId}`,
  /** Sorted set: allow id → when it expires (ms), for the allow entries holding suspended blocks. */
  suspendedByExpiry: `${REDIS_PREFIX}:allow:suspended-by-expiry`,
  /** String: the longest incident (last seen − first seen, ms) recorded so far. */
  incidentMaxSpan: `${REDIS_PREFIX}:incidents:max-span`,
  /** A marker the brain sets when it has published decisions; its absence means Redis lost them. */
  epoch: `${REDIS_PREFIX}:epoch`,
  /** String "uuid@ms": set once by the first brain that finds none; gone or replaced later, Redis lost the incident history (incidents/history.ts). */
  incidentHistory: `${REDIS_PREFIX}:incidents:history`,
} as const;

/** `site/gateway/queue` — how a sensor is named in evidence and logs. */
export function sensorName(site: string, gateway: string, queue: number): string {
  return `${site}/${gateway}/${queue}`;
}
