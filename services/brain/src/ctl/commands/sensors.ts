import { Argument, Command } from 'commander';
import type { SensorView } from '../../api/views.js';
import { act } from '../action.js';
import { allOption, cursorOption, limitOption, withConnection } from '../options.js';
import { fetchListing, moreHint } from '../pages.js';
import { sensorsTable } from '../render/sensors.js';
import { paths } from '../requests.js';

export interface SensorsAnswer {
  items: SensorView[];
  nextCursor: string | null;
  blocklistVersion: number;
}

export function sensorsCommand(): Command {
  return withConnection(
    new Command('sensors')
      .summary('sensors by name: last heartbeat, version, mode, kernel queue drops, blocklist lag, backlog')
      .description('Lists the sensors that sent a heartbeat (a sensor silent for longer than the brain\'s ingest.sensorRetentionSeconds is forgotten; `sensors forget` retires one at once). STATE: running; STOPPED: its last heartbeat said it was stopping cleanly; STALE: no heartbeat for longer than the brain\'s api.sensorStaleSeconds (default 30 s) without saying so (crashed or cut off). BLOCKLIST LAG: versions of the shared blocklist the sensor has not applied yet.')
      .addOption(limitOption())
      .addOption(cursorOption())
      .addOption(allOption()),
  )
    .addCommand(forgetCommand())
    .action(
    act<{ limit?: number; cursor?: string; all?: boolean }>(async ({ client, options }) => {
      const version = await client.get<SensorsAnswer>(paths.sensors, { limit: 1 });
      const page = await fetchListing<SensorView>(client, paths.sensors, { limit: options.limit, cursor: options.cursor }, Boolean(options.all));
      const answer = { ...page, blocklistVersion: version.blocklistVersion };
      return { data: answer, text: (now, width) => `${sensorsTable(answer.items, now, width)}${moreHint(page)}shared blocklist version: ${answer.blocklistVersion}\n` };
    }),
  );
}

function forgetCommand(): Command {
  return withConnection(
    new Command('forget')
      .summary('retire a sensor: remove it from the sensors list (admin)')
      .description('Removes a sensor (a stopped or replaced one) from the sensors list at once, rather than after ingest.sensorRetentionSeconds. A sensor still running comes back with its next heartbeat. Needs an admin token.')
      .addArgument(new Argument('<name>', 'site/gateway/queue, as `p2pwall sensors` shows it, e.g. hq/gw1/0')),
  ).action(
    act(async ({ client, args }) => {
      const answer = await client.delete<{ removed?: SensorView }>(paths.sensor(args[0]!));
      return { data: answer, text: () => `forgot sensor ${answer.removed?.name ?? args[0]} (it was ${answer.removed?.state ?? 'listed'})\n` };
    }),
  );
}
