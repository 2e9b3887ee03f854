import { Argument, Command } from 'commander';
import type { PeerView } from '../../api/views.js';
import { act } from '../action.js';
import { withConnection } from '../options.js';
import { peerBlock } from '../render/peers.js';
import { paths } from '../requests.js';
import { peerArgument } from '../target.js';

function showCommand(): Command {
  return withConnection(
    new Command('show')
      .summary('is an outside peer blocked, by which decisions and why, and who contacted it')
      .addArgument(new Argument('<peer>', 'IP, IP:PORT or [IPv6]:PORT').argParser(peerArgument)),
  ).action(
    act(async ({ client, args }) => {
      const peer = await client.get<PeerView>(paths.peer(args[0]!));
      return { data: peer, text: (now) => peerBlock(peer, now) };
    }),
  );
}

export function peersCommand(): Command {
  return new Command('peers').summary('outside peers').addCommand(showCommand());
}
