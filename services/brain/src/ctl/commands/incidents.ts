import { Argument, Command, Option } from 'commander';
import { incidentsCsv } from '../../api/incidents-csv.js';
import { eveLines, incidentAlert, incidentEve } from '../../api/incidents-eve.js';
import { INCIDENT_STATES, WORKFLOW_ACTIONS, type WorkflowAction } from '../../incidents/workflow.js';
import type { IncidentView } from '../../api/views.js';
import { act, defaultAuthor } from '../action.js';
import { CtlError, EXIT } from '../client.js';
import { allOption, cursorOption, limitOption, withConnection } from '../options.js';
import { fetchListing, moreHint } from '../pages.js';
import { printableJson } from '../printable.js';
import { incidentBlock, incidentsTable } from '../render/incidents.js';
import { incidentsQuery, paths, workflowStepBody, type IncidentFilters } from '../requests.js';
import { ipArgument, peerArgument } from '../target.js';
import { authorOption } from './decisions.js';

type ListOptions = IncidentFilters & { all?: boolean; csv?: boolean; eve?: boolean };

/** --csv, --eve and --json each replace the table: one at a time. */
function oneFormat(options: { csv?: boolean; eve?: boolean; json?: boolean }): void {
  if ([options.csv, options.eve, options.json].filter(Boolean).length > 1) throw new CtlError('give one of --csv, --eve and --json', EXIT.usage);
}

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
      .addOption(new Option('--state <state>', 'only incidents in this workflow state (incidents acknowledge, close and reopen change it)').choices(INCIDENT_STATES))
      .option('--csv', 'print CSV (RFC 4180, a header row) instead of a table; with --all every page')
      .option('--eve', 'print Suricata EVE JSON lines (an alert per incident) instead of a table; with --all every page')
      .addOption(limitOption())
      .addOption(cursorOption())
      .addOption(allOption()),
  ).action(
    act<ListOptions>(async ({ client, options }) => {
      const limit = options.limit ?? (options.all ? ALL_PAGE_SIZE : undefined);
      oneFormat(options);
      const page = await fetchListing<IncidentView>(client, paths.incidents, incidentsQuery({ ...options, limit }), Boolean(options.all));
      // The next page's cursor goes to stderr: stdout stays one CSV document.
      const more = page.nextCursor ? [`more incidents: add --cursor ${page.nextCursor}, or --all`] : [];
      if (options.csv) return { data: page, raw: true, text: () => incidentsCsv(page.items), warnings: more };
      // EVE lines are JSON: printableJson escapes what JSON.stringify leaves (DEL, C1, bidi), still valid JSON.
      if (options.eve) return { data: page, raw: true, text: () => printableJson(eveLines(page.items.map(incidentAlert))), warnings: more };
      return { data: page, text: (now, width) => incidentsTable(page.items, now, width) + moreHint(page) };
    }),
  );
}

function showCommand(): Command {
  return withConnection(
    new Command('show')
      .summary('one incident with its evidence, peers, decisions and sample flows')
      .addArgument(new Argument('<id>', 'incident id (from incidents list)'))
      .option('--eve', 'print Suricata EVE JSON lines: its alert, then its sample flows'),
  ).action(
    act<{ eve?: boolean }>(async ({ client, args, options }) => {
      oneFormat(options);
      const incident = await client.get<IncidentView>(paths.incident(args[0]!));
      if (options.eve) return { data: incident, raw: true, text: () => printableJson(eveLines(incidentEve(incident))) };
      return { data: incident, text: (now) => incidentBlock(incident, now) };
    }),
  );
}

const STEP_SUMMARIES: Record<WorkflowAction, string> = {
  acknowledge: 'acknowledge an open incident, with a note (admin token)',
  close: 'close an incident, with a note (admin token); later evidence of the same episode leaves it closed and is shown',
  reopen: 'reopen an acknowledged or closed incident, with a note (admin token)',
};

/** `incidents acknowledge|close|reopen <id> --note ...` (acknowledge also as `ack`). */
function stepCommand(action: WorkflowAction): Command {
  const command = new Command(action).summary(STEP_SUMMARIES[action]);
  if (action === 'acknowledge') command.alias('ack');
  return withConnection(
    command
      .addArgument(new Argument('<id>', 'incident id (from incidents list)'))
      .requiredOption('--note <text>', 'why (one line, shown with the incident)')
      .addOption(authorOption()),
  ).action(
    act<{ note?: string; author?: string }>(async ({ client, options, args }) => {
      const incident = await client.post<IncidentView>(paths.incidentStep(args[0]!, action), workflowStepBody(options, defaultAuthor()));
      return { data: incident, text: (now) => incidentBlock(incident, now) };
    }),
  );
}

export function incidentsCommand(): Command {
  const command = new Command('incidents').summary('what inside hosts did: P2P clients found, with evidence').addCommand(listCommand()).addCommand(showCommand());
  for (const action of WORKFLOW_ACTIONS) command.addCommand(stepCommand(action));
  return command;
}
