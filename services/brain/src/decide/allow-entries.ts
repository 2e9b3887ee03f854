import { p2pwall } from '@p2pwall/proto';
import { formatIp } from '../correlate/address.js';
import { decisionId, type BrainDecision } from './decision.js';

/**
 * Allowlist entries made by operators (through the API): ALLOW decisions in the shared blocklist,
 * whose id is `allow:` + the id of the block they cover (`allow:host:b:192.168.2.6`,
 * `allow:endpoint:1.2.3.4:1214`, `allow:ip:1.2.3.4`). They travel to the sensors like any decision.
 * What an entry covers:
 * - host (site, ip): the lock of that inside host at that site;
 * - endpoint (ip, port): the block of that outside endpoint;
 * - ip: the block of the whole outside address and the blocks of each of its endpoints.
 */

const { Scope, Action } = p2pwall.v1;

export const ALLOW_PREFIX = 'allow:';

/** The id of the allow entry covering the block with id `blockId`. */
export function allowId(blockId: string): string {
  return `${ALLOW_PREFIX}${blockId}`;
}

export function isAllowId(id: string): boolean {
  return id.startsWith(ALLOW_PREFIX);
}

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
 * the block, then confirm with allowCovers). Empty for a decision that is not a block.
 */
export function coveringAllowIds(block: BrainDecision): string[] {
  const ip = formatIp(block.ip);
  if (ip === undefined || block.action !== Action.ACTION_BLOCK) return [];
  switch (block.scope) {
    case Scope.SCOPE_HOST:
      return [allowId(decisionId.host(block.site, ip))];
    case Scope.SCOPE_ENDPOINT:
      return [allowId(decisionId.endpoint(ip, block.port)), allowId(decisionId.ip(ip))];
    case Scope.SCOPE_IP:
      return [allowId(decisionId.ip(ip))];
    default:
      return [];
  }
}

/**
 * The blocks an allow entry covers, as exact ids plus, for a whole address, the id prefix of its
 * endpoint blocks (`endpoint:1.2.3.4:`, `endpoint:[2001:db8::1]:`), which the caller scans for.
 */
export function coveredBlockIds(allow: BrainDecision): { ids: string[]; endpointPrefix: string | null } {
  const ip = formatIp(allow.ip);
  if (ip === undefined || allow.action !== Action.ACTION_ALLOW) return { ids: [], endpointPrefix: null };
  switch (allow.scope) {
    case Scope.SCOPE_HOST:
      return { ids: [decisionId.host(allow.site, ip)], endpointPrefix: null };
    case Scope.SCOPE_ENDPOINT:
      return { ids: [decisionId.endpoint(ip, allow.port)], endpointPrefix: null };
    case Scope.SCOPE_IP:
      return { ids: [decisionId.ip(ip)], endpointPrefix: decisionId.endpoint(ip, 0).slice(0, -1) };
    default:
      return { ids: [], endpointPrefix: null };
  }
}
