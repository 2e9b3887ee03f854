import { Command } from 'commander';
import type { SensorView } from '../../api/views.js';
import { act } from '../action.js';
import { withConnection } from '../options.js';
import { sensorsTable } from '../render/sensors.js';
import { paths } from '../requests.js';

export interface SensorsAnswer {
  items: SensorView[];
  blocklistVersion: number;
}

export function sensorsCommand(): Command {
  return withConnection(
    new Command('sensors')
      .summary('every sensor: last heartbeat, version, mode, kernel queue drops, blocklist lag, backlog')
      .description('Lists every sensor that sent a heartbeat. STALE: no heartbeat for more than three periods. BLOCKLIST LAG: versions of the shared blocklist the sensor has not applied yet.'),
  ).action(
    act(async ({ client }) => {
      const answer = await client.get<SensorsAnswer>(paths.sensors);
      return { data: answer, text: (now) => `${sensorsTable(answer.items, now)}shared blocklist version: ${answer.blocklistVersion}\n` };
    }),
  );
}
