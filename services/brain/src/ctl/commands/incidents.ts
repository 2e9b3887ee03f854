import { Argument, Command } from 'commander';
import type { IncidentView } from '../../api/views.js';
import { act } from '../action.js';
import { allOption, cursorOption, limitOption, withConnection } from '../options.js';
import { fetchListing, moreHint } from '../pages.js';
import { incidentBlock, incidentsTable } from '../render/incidents.js';
import { incidentsQuery, paths, type IncidentFilters } from '../requests.js';
import { ipArgument, peerArgument } from '../target.js';

type ListOptions = IncidentFilters & { all?: boolean };

/** Page size with --all: the brain's largest, so few requests fetch everything. */
const ALL_PAGE_SIZE = 1000;

function listCommand(): Command {
  return withConnection(
    new Command('list')
      .summary('list incidents, newest first')
      .description('Lists incidents: one inside host seen running a P2P client at one site, with its evidence. Times: ISO 8601 or relative (30s, 10m, 24h, 7d ago).')
      .option('--since <time>', 'last seen at or after (e.g. 10m, 24h, 2026-11-25T10:00:00Z)')
      .option('--until <time>', 'first seen at or before')
      .option('--site <site>', 'only this site')
      .option('--gateway <gateway>', 'only incidents seen at this gateway')
      .option('--host <ip>', 'only this inside host', ipArgument)
      .option('--protocol <name>', 'only this protocol (fasttrack, ...)')
      .option('--peer <ip[:port]>', 'only incidents that contacted this outside peer', peerArgument)
      .option('--range <cidr>', 'only inside hosts in this network, e.g. 192.168.1.0/24')
      .option('--rule <rule>', 'only incidents with this rule among their evidence: a rule id (bittorrent/dht-query) or a protocol (bittorrent)')
      .option('--sensor <site/gateway>', 'only incidents this sensor saw')
      .addOption(limitOption())
      .addOption(cursorOption())
      .addOption(allOption()),
  ).action(
    act<ListOptions>(async ({ client, options }) => {
      const limit = options.limit ?? (options.all ? ALL_PAGE_SIZE : undefined);
      const page = await fetchListing<IncidentView>(client, paths.incidents, incidentsQuery({ ...options, limit }), Boolean(options.all));
      return { data: page, text: (now, width) => incidentsTable(page.items, now, width) + moreHint(page) };
    }),
  );
}

function showCommand(): Command {
  return withConnection(
    new Command('show')
      .summary('one incident with its evidence, peers, decisions and sample flows')
      .addArgument(new Argument('<id>', 'incident id (from incidents list)')),
  ).action(
    act(async ({ client, args }) => {
      const incident = await client.get<IncidentView>(paths.incident(args[0]!));
      return { data: incident, text: (now) => incidentBlock(incident, now) };
    }),
  );
}

export function incidentsCommand(): Command {
  return new Command('incidents').summary('what inside hosts did: P2P clients found, with evidence').addCommand(listCommand()).addCommand(showCommand());
}
