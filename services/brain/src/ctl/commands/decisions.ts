import { ORIGIN_NAMES } from '@p2pwall/common/decisions';
import { TRANSPORTS } from '@p2pwall/common/formats';
import { Argument, Command, Option } from 'commander';
import type { DecisionView } from '../../api/views.js';
import { act, defaultAuthor } from '../action.js';
import { allOption, cursorOption, limitOption, withConnection } from '../options.js';
import { fetchListing, moreHint } from '../pages.js';
import { decisionBlock, decisionsTable } from '../render/decisions.js';
import { decisionAddBody, decisionDeleteId, decisionsQuery, paths, type DecisionAddOptions, type DecisionFilters, type DecisionTargetOptions } from '../requests.js';
import { endpointArgument, ipArgument, networkArgument, peerArgument } from '../target.js';

/** Manual changes can expire; the brain parses the time and names it when it refuses. */
export const expiresOption = (fallback: string) => new Option('--expires <time>', `when it ends: relative from now (30m, 24h, 7d), ISO 8601, or never; default: ${fallback}`);

/** What a host lock does, said wherever one is made: it is ftwall's time-lock, not a cut-off. */
export const HOST_LOCK_MEANING =
  'a host lock is ftwall\'s time-lock: the host\'s new outbound connections (TCP and UDP) to ports above 1023 are dropped at its site, except the sensors\' open ports (53, 80, 443, 123 by default); ports up to 1023, connections already open, other hosts and inbound traffic stay allowed, and peers already learned stay blocked';
export const authorOption = () => new Option('--author <name>', 'who made it (default: your user name)');

/** What a block is about, for add and delete: exactly one of --endpoint, --ip, --network, --host (with --site); --transport for all but --host. */
function withTarget(command: Command): Command {
  return command
    .option('--endpoint <ip:port>', 'an outside endpoint', endpointArgument)
    .option('--ip <ip>', 'a whole outside address', ipArgument)
    .option('--network <net/len>', 'an outside network, every port (host bits zero), e.g. 198.51.100.0/24', networkArgument)
    .option('--host <ip>', 'an inside host, locked at one site (with --site)', ipArgument)
    .option('--site <site>', 'the site of --host; with --network: the one site that enforces it (default: every site)')
    .addOption(new Option('--transport <transport>', 'what a block of --endpoint, --ip or --network holds for (default: both)').choices(TRANSPORTS));
}

/** What a network block does, said where one is made. */
export const NETWORK_BLOCK_MEANING =
  'a network block drops traffic to and from every address of the network, every port, in the kernel of every sensor (or of --site only); an allow entry of one address or endpoint inside it (p2pwall allow add) lets that one through while the rest stays blocked';
/** When the brain refuses a network block. */
const NETWORK_BLOCK_LIMITS =
  "A network is refused when its host bits are not zero, when wider than the brain's api.minNetworkPrefixLength (/8 IPv4, /32 IPv6 by default), when it overlaps reserved ranges, and when it overlaps private ranges or the brain's insideNetworks unless --force";

function listCommand(): Command {
  return withConnection(
    new Command('list')
      .summary('list block decisions (automatic and manual)')
      .addOption(new Option('--scope <scope>', 'endpoint (ip:port), ip (whole outside address), network (outside network) or host (inside host lock)').choices(['endpoint', 'ip', 'network', 'host']))
      .addOption(new Option('--origin <origin>', 'how it was decided').choices(ORIGIN_NAMES))
      .option('--site <site>', 'what this site enforces: its host locks and every block that holds at all sites')
      .option('--value <value>', 'only decisions about this address (ip: every port) or endpoint (ip:port, [v6]:port)', peerArgument)
      .option('--range <cidr>', 'only decisions about addresses in this network and network blocks that overlap it, e.g. 203.0.113.0/24')
      .option('--rule <rule>', 'only decisions with this rule among their evidence: a rule id (fasttrack/udp-ping) or a protocol (fasttrack)')
      .option('--sensor <site/gateway>', 'only decisions with evidence from this sensor')
      .option('--since <time>', 'created at or after: relative (30m, 24h, 7d) or ISO 8601')
      .option('--until <time>', 'created at or before: relative (30m, 24h, 7d) or ISO 8601')
      .option('--simulated', 'only decisions recorded for sites in simulation (not enforced)')
      .addOption(limitOption())
      .addOption(cursorOption())
      .addOption(allOption()),
  ).action(
    act<DecisionFilters & { all?: boolean }>(async ({ client, options }) => {
      const page = await fetchListing<DecisionView>(client, paths.decisions, decisionsQuery(options), Boolean(options.all));
      return { data: page, text: (now, width) => decisionsTable(page.items, now, width) + moreHint(page) };
    }),
  );
}

function addCommand(): Command {
  return withConnection(
    withTarget(new Command('add'))
      .summary('block by hand: an outside endpoint, address or network, or an inside host at one site')
      .description(
        `Adds a manual block of TARGET (IP, IP:PORT, [IPv6]:PORT or NET/LEN such as 198.51.100.0/24), or of what --endpoint, --ip, --network or --host names. It reaches every sensor through the shared blocklist, like automatic decisions. Needs an admin token. An inside (private-range or the brain's insideNetworks) address or network is refused as a peer unless --force: lock the host instead (--host with --site); ${HOST_LOCK_MEANING}; ${NETWORK_BLOCK_MEANING}. ${NETWORK_BLOCK_LIMITS}.`,
      )
      .addArgument(new Argument('[target]', 'IP, IP:PORT, [IPv6]:PORT or NET/LEN (instead of --ip, --endpoint or --network)'))
      .option('--force', 'block an inside (private-range or insideNetworks) address or network as a peer anyway: it is cut off from every site')
      .requiredOption('--reason <text>', 'why (shown to whoever asks later)')
      .addOption(expiresOption("the brain's api.manualExpirySeconds (30 days unless set otherwise)"))
      .addOption(authorOption()),
  ).action(
    act<DecisionAddOptions>(async ({ client, options, args }) => {
      const decision = await client.post<DecisionView & { warnings?: string[] }>(paths.decisions, decisionAddBody(options, defaultAuthor(), args[0]));
      const meaning = decision.scope === 'host' ? `(${HOST_LOCK_MEANING})\n` : decision.scope === 'network' ? `(${NETWORK_BLOCK_MEANING})\n` : '';
      return { data: decision, text: (now) => `added:\n${decisionBlock(decision, now, '  ')}${meaning}`, warnings: decision.warnings };
    }),
  );
}

function deleteCommand(): Command {
  return withConnection(
    withTarget(new Command('delete'))
      .summary('remove a decision (unblock); sensors drop it from their sets')
      .description('Names the decision by its id, or by what it blocks: --endpoint, --ip or --network (with --transport when it blocks only tcp or udp; a network block of one site with --site), or --host with --site. Deleting a network block lifts the whole network; allow entries inside it stay.')
      .addArgument(new Argument('[id]', 'decision id, e.g. endpoint:198.51.100.9:1214, endpoint:udp:198.51.100.9:1214, net:198.51.100.0/24 or host:site-a:192.168.1.5')),
  ).action(
    act<DecisionTargetOptions>(async ({ client, options, args }) => {
      const id = decisionDeleteId(args[0], options);
      const answer = await client.delete<{ removed?: DecisionView }>(paths.decision(id));
      return { data: answer, text: () => `removed ${answer.removed?.id ?? id}\n` };
    }),
  );
}

export function decisionsCommand(): Command {
  return new Command('decisions').summary('what is blocked, why, and manual blocks and unblocks').addCommand(listCommand()).addCommand(addCommand()).addCommand(deleteCommand());
}
