import { Argument, Command, Option } from 'commander';
import type { AllowView } from '../../api/views.js';
import { act, defaultAuthor } from '../action.js';
import { allowLine, allowTable } from '../render/decisions.js';
import { allowAddBody, allowQuery, paths, type AllowAddOptions, type AllowFilters } from '../requests.js';
import { allOption, cursorOption, limitOption, withConnection } from '../options.js';
import { fetchListing, moreHint } from '../pages.js';
import { authorOption, expiresOption } from './decisions.js';
import { allowTargetArgument, peerArgument } from '../target.js';

function addCommand(): Command {
  return withConnection(
    new Command('add')
      .summary('never block an address, endpoint or inside host; lifts the blocks it covers at once')
      .description(
        'The scope follows from the target: IP with --site is an inside host at that site; IP alone is an outside address; ' +
          'IP:PORT or [IPv6]:PORT is an outside endpoint. --scope says it explicitly. Needs an admin token. ' +
          'What it lifts: the blocks it covers (a host lock of that host; blocks of that address or endpoint, manual ones too) are suspended, ' +
          'not deleted, and come back when the entry is deleted or expires; the brain blocks nothing it covers meanwhile. ' +
          'Inside a blocked network (decisions add NET/LEN), an entry of one address or endpoint lets that one through at every sensor; the network block stays for the rest. ' +
          'There are no network allow entries: list a network never to block in the brain config allowlist.endpoints.',
      )
      .addArgument(new Argument('<target>', 'IP, IP:PORT or [IPv6]:PORT').argParser(allowTargetArgument))
      .option('--site <site>', 'the site of an inside host')
      .addOption(new Option('--scope <scope>', 'override the scope the target implies').choices(['endpoint', 'ip', 'host']))
      .requiredOption('--reason <text>', 'why (shown to whoever asks later)')
      .addOption(expiresOption('never'))
      .addOption(authorOption()),
  ).action(
    act<AllowAddOptions>(async ({ client, options, args }) => {
      const entry = await client.post<AllowView & { warnings?: string[]; suspended?: string[]; throughNetworks?: string[] }>(paths.allowlist, allowAddBody(args[0]!, options, defaultAuthor()));
      const suspended = entry.suspended ?? [];
      const networks = entry.throughNetworks ?? [];
      const through = networks.length > 0 ? `lets it through ${networks.join(', ')} (the rest of each network stays blocked)\n` : '';
      const lifts = (suspended.length > 0 ? `suspends ${suspended.join(', ')} (back when this entry is deleted or expires)\n` : 'suspends no block\n') + through;
      return { data: entry, text: (now) => `allowed: ${allowLine(entry, now)}\n${lifts}`, warnings: entry.warnings };
    }),
  );
}

function listCommand(): Command {
  return withConnection(
    new Command('list')
      .summary('list allowlist entries, newest first')
      .addOption(new Option('--scope <scope>', 'endpoint, ip or host').choices(['endpoint', 'ip', 'host']))
      .option('--site <site>', 'only host entries of this site')
      .option('--value <value>', 'only this value (ip or ip:port)', peerArgument)
      .addOption(limitOption())
      .addOption(cursorOption())
      .addOption(allOption()),
  ).action(
    act<AllowFilters & { all?: boolean }>(async ({ client, options }) => {
      const page = await fetchListing<AllowView>(client, paths.allowlist, allowQuery(options), Boolean(options.all));
      return { data: page, text: (now, width) => allowTable(page.items, now, width) + moreHint(page) };
    }),
  );
}

function deleteCommand(): Command {
  return withConnection(
    new Command('delete')
      .summary('remove an allowlist entry: the blocks it suspended come back (the brain may block again what it finds)')
      .addArgument(new Argument('<id>', 'entry id, e.g. allow:host:site-a:192.168.1.20')),
  ).action(
    act(async ({ client, args }) => {
      const answer = await client.delete<{ removed?: AllowView; restored?: string[] }>(paths.allow(args[0]!));
      const restored = answer.restored ?? [];
      return { data: answer, text: () => `removed ${answer.removed?.id ?? args[0]}\n${restored.length > 0 ? `restored ${restored.join(', ')}\n` : ''}` };
    }),
  );
}

export function allowCommand(): Command {
  return new Command('allow').summary('the allowlist: addresses, endpoints and hosts never blocked').addCommand(addCommand()).addCommand(listCommand()).addCommand(deleteCommand());
}
