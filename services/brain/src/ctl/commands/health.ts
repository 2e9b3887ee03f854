import { Command } from 'commander';
import { act } from '../action.js';
import { EXIT } from '../client.js';
import { withConnection } from '../options.js';
import { healthLine } from '../render/health.js';
import { paths } from '../requests.js';

/** The body as JSON when it is JSON (the brain's checks), else the text. */
function parsed(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

export function healthCommand(): Command {
  return withConnection(
    new Command('health')
      .summary('exit 0 when the brain is ready (connected to NATS and Redis)')
      .description('Asks GET /health/ready, which needs no token, and prints the status; with --json, the brain\'s answer as it came ({"status", "checks"}). Exit 0: ready; 5: not ready (the failing checks are printed); 3: no answer.'),
  ).action(
    act(async ({ client }) => {
      const answer = await client.raw('GET', paths.ready, undefined, undefined, false);
      const body = parsed(answer.body);
      const ready = answer.status === 200;
      // --json prints the API's answer unchanged, as every other command does; the exit code says ready or not.
      return { data: body, text: () => healthLine(answer.status, body), exitCode: ready ? EXIT.ok : EXIT.server };
    }),
  );
}
