import { allowId, endpointBlockIdPrefixes, peerBlockIds, siteHostText } from '@p2pwall/common';
import { p2pwall } from '@p2pwall/proto';
import type { FastifyInstance } from 'fastify';
import { allowCovers } from '../../decide/allow-entries.js';
import type { BrainDecision } from '../../decide/decision.js';
import type { ApiContext } from '../context.js';
import { allowView, decisionView } from '../convert.js';
import { peerInput } from '../input.js';
import type { Address } from '../target.js';
import { peerSchema, v1Errors } from '../schemas.js';
import type { PeerView } from '../views.js';

/** GET /v1/peers/:peer — why an outside address (ip) or endpoint (ip:port) is blocked, and who reached it. */

const { Action, Scope, Transport } = p2pwall.v1;

/** "1214" for a block of both transports, "1214/udp" for one. */
const portText = (b: BrainDecision): string => (b.transport === Transport.TRANSPORT_UDP ? `${b.port}/udp` : b.transport === Transport.TRANSPORT_TCP ? `${b.port}/tcp` : String(b.port));
const INCIDENTS_SHOWN = 20;

/**
 * Blocks and allow entries about the endpoint, or about the address and every endpoint of it (port
 * 0), for every transport; and the network blocks that hold the address.
 */
async function peerDecisions(ctx: ApiContext, address: Address, port: number): Promise<BrainDecision[]> {
  const { ip } = address;
  const blocks = port === 0 ? peerBlockIds(ip, 0) : [...peerBlockIds(ip, port), ...peerBlockIds(ip, 0)];
  const exact = [...blocks, ...blocks.map(allowId)];
  // the ids from memory's index (brought up to date first), the decisions fresh from Redis
  await ctx.deps.writer.catchUp();
  const networks = ctx.deps.writer.networkIdsCovering(address.bytes);
  if (port !== 0) return ctx.reader.get([...exact, ...networks]);
  // every endpoint of the address
  const prefixes = endpointBlockIdPrefixes(ip).flatMap((prefix) => [prefix, allowId(prefix)]);
  const endpoints = ctx.deps.writer.idsAbout(ip).filter((id) => prefixes.some((prefix) => id.startsWith(prefix)));
  return ctx.reader.get([...new Set([...exact, ...endpoints, ...networks])]);
}

/**
 * Whether an active allow entry lets the peer through `block`: one that covers it (allowCovers), or,
 * for a network block, an entry of the address (or of the endpoint asked about), which the sensors
 * let through the network as an exception.
 */
function allowedThrough(block: BrainDecision, allows: readonly BrainDecision[], port: number): boolean {
  if (block.scope !== Scope.SCOPE_NETWORK) return allows.some((a) => allowCovers(a, block));
  return allows.some((a) => a.scope === Scope.SCOPE_IP || (a.scope === Scope.SCOPE_ENDPOINT && a.port === port));
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

export function peerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { peer: string } }>(
    '/peers/:peer',
    {
      schema: {
        tags: ['peers'],
        summary: 'Why an outside ip or ip:port is blocked, which hosts and sites contacted it',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { peer: { type: 'string', maxLength: 64, description: 'ip, ip:port or [ipv6]:port (URL-encoded)' } }, required: ['peer'] },
        response: { 200: peerSchema, ...v1Errors },
      },
    },
    async (request): Promise<PeerView> => {
      const peer = peerInput('params/peer', request.params.peer);
      const { ip } = peer.address;
      const now = ctx.now();
      const [decisions, incidents] = await Promise.all([peerDecisions(ctx, peer.address, peer.port), ctx.deps.incidents.list({ peer: peer.text, limit: INCIDENTS_SHOWN })]);
      const active = decisions.filter((d) => d.expiresMs > now);
      const blocks = active.filter((d) => d.action === Action.ACTION_BLOCK);
      const allows = active.filter((d) => d.action === Action.ACTION_ALLOW);
      const enforced = blocks.filter((b) => !b.simulated && !allowedThrough(b, allows, peer.port));
      // Asked for a whole address, a block of one of its ports is not a block of the address.
      const ofAddress = (b: BrainDecision) => b.scope === Scope.SCOPE_IP || b.scope === Scope.SCOPE_NETWORK;
      const blockedPorts = peer.port === 0 ? sorted(enforced.filter((b) => !ofAddress(b)).map(portText)) : [];
      return {
        ip,
        port: peer.port,
        blocked: peer.port === 0 ? enforced.some(ofAddress) : enforced.length > 0,
        blockedPorts,
        decisions: blocks.map(decisionView),
        allowed: allows.map(allowView),
        hosts: sorted([...blocks.flatMap((b) => b.evidence.hosts), ...incidents.items.map((i) => siteHostText(i.site, i.host))]),
        sites: sorted([...blocks.flatMap((b) => b.evidence.sites), ...incidents.items.map((i) => i.site)]),
        incidents: incidents.items,
      };
    },
  );
}
