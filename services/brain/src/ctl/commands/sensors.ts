import { Command } from 'commander';
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
      .description('Lists the sensors that sent a heartbeat (a sensor silent for longer than the brain\'s ingest.sensorRetentionSeconds is forgotten). STALE: no heartbeat for longer than the brain\'s api.sensorStaleSeconds (default 30 s). BLOCKLIST LAG: versions of the shared blocklist the sensor has not applied yet.')
      .addOption(limitOption())
      .addOption(cursorOption())
      .addOption(allOption()),
  ).action(
    act<{ limit?: number; cursor?: string; all?: boolean }>(async ({ client, options }) => {
      const version = await client.get<SensorsAnswer>(paths.sensors, { limit: 1 });
      const page = await fetchListing<SensorView>(client, paths.sensors, { limit: options.limit, cursor: options.cursor }, Boolean(options.all));
      const answer = { ...page, blocklistVersion: version.blocklistVersion };
      return { data: answer, text: (now, width) => `${sensorsTable(answer.items, now, width)}${moreHint(page)}shared blocklist version: ${answer.blocklistVersion}\n` };
    }),
  );
}
