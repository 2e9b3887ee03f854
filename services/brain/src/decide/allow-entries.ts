import { allowId, decisionId, endpointBlockIdPrefixes, peerBlockIds, transportOfWire } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import { formatIp } from '@p2pwall/common/correlate';
import type { BrainDecision } from './decision.js';

/**
 * Allowlist entries made by operators (through the API): ALLOW decisions in the shared blocklist,
 * whose id is `allow:` + the id of the block they cover (`allow:host:b:192.168.2.6`,
 * `allow:endpoint:1.2.3.4:1214`, `allow:ip:1.2.3.4`; @p2pwall/common allowId). They travel to
 * the sensors like any decision. What an entry covers:
 * - host (site, ip): the lock of that inside host at that site;
 * - endpoint (ip, port): the blocks of that outside endpoint;
 * - ip: the blocks of the whole outside address and the blocks of each of its endpoints;
 * for the entry's transport: an entry for both (what the API makes) covers blocks of every
 * transport, one for TCP or UDP only the blocks of that transport.
 */

const { Scope, Action, Transport } = p2pwall.v1;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Whether `allow` (an ALLOW decision) lifts `block` (a BLOCK decision). Expiry is not looked at:
 * pass active entries (BlocklistWriter.lookup returns only those).
 */
export function allowCovers(allow: BrainDecision, block: BrainDecision): boolean {
  if (allow.action !== Action.ACTION_ALLOW || block.action !== Action.ACTION_BLOCK) return false;
  if (!sameBytes(allow.ip, block.ip)) return false;
  if (allow.scope !== Scope.SCOPE_HOST && allow.transport !== Transport.TRANSPORT_BOTH && allow.transport !== block.transport) return false;
  switch (allow.scope) {
    case Scope.SCOPE_HOST:
      return block.scope === Scope.SCOPE_HOST && block.site === allow.site;
    case Scope.SCOPE_ENDPOINT:
      return block.scope === Scope.SCOPE_ENDPOINT && block.port === allow.port;
    case Scope.SCOPE_IP:
      return block.scope === Scope.SCOPE_IP || block.scope === Scope.SCOPE_ENDPOINT;
    default:
      return false;
  }
}

/**
 * Ids of the allow entries that could cover `block` (look them up with one HMGET before writing
 * the block, then confirm with allowCovers): the entries for both transports, and for the block's
 * own transport. Empty for a decision that is not a block.
 */
export function coveringAllowIds(block: BrainDecision): string[] {
  const ip = formatIp(block.ip);
  if (ip === undefined || block.action !== Action.ACTION_BLOCK) return [];
  const transport = transportOfWire(block.transport);
  const transports = transport === 'both' ? (['both'] as const) : (['both', transport] as const);
  switch (block.scope) {
    case Scope.SCOPE_HOST:
      return [allowId(decisionId.host(block.site, ip))];
    case Scope.SCOPE_ENDPOINT:
      return transports.flatMap((t) => [allowId(decisionId.endpoint(ip, block.port, t)), allowId(decisionId.ip(ip, t))]);
    case Scope.SCOPE_IP:
      return transports.map((t) => allowId(decisionId.ip(ip, t)));
    default:
      return [];
  }
}

/**
 * The blocks an allow entry may cover (confirm with allowCovers), as exact ids plus, for a whole
 * address, the id prefixes of its endpoint blocks (`endpoint:1.2.3.4:`, `endpoint:udp:1.2.3.4:`,
 * ...), which the caller scans for.
 */
export function coveredBlockIds(allow: BrainDecision): { ids: string[]; endpointPrefixes: string[] } {
  const ip = formatIp(allow.ip);
  if (ip === undefined || allow.action !== Action.ACTION_ALLOW) return { ids: [], endpointPrefixes: [] };
  switch (allow.scope) {
    case Scope.SCOPE_HOST:
      return { ids: [decisionId.host(allow.site, ip)], endpointPrefixes: [] };
    case Scope.SCOPE_ENDPOINT:
      return { ids: peerBlockIds(ip, allow.port), endpointPrefixes: [] };
    case Scope.SCOPE_IP:
      return { ids: peerBlockIds(ip, 0), endpointPrefixes: endpointBlockIdPrefixes(ip) };
    default:
      return { ids: [], endpointPrefixes: [] };
  }
}
