import { Argument, Command } from 'commander';
import type { HostView } from '../../api/views.js';
import { act } from '../action.js';
import { withConnection } from '../options.js';
import { hostBlock } from '../render/hosts.js';
import { paths } from '../requests.js';
import { ipArgument } from '../target.js';

function showCommand(): Command {
  return withConnection(
    new Command('show')
      .summary('what one inside host did: incidents, decisions, current lock, allow entries')
      .addArgument(new Argument('<ip>', 'the inside host').argParser(ipArgument))
      .option('--site <site>', 'only at this site (default: every site)'),
  ).action(
    act<{ site?: string }>(async ({ client, options, args }) => {
      const host = await client.get<HostView>(paths.host(args[0]!), { site: options.site });
      return { data: host, text: (now) => hostBlock(host, now) };
    }),
  );
}

export function hostsCommand(): Command {
  return new Command('hosts').summary('inside hosts').addCommand(showCommand());
}
