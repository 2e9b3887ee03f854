import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonLines, type Lab, type LabProcess } from './netns/lab.js';
import { until } from './waiting.js';

/** The built brain CLI; from lab/src and lab/dist alike. */
export const BRAIN_CLI = fileURLToPath(new URL('../../services/brain/dist/cli.js', import.meta.url));

export interface LabBrainOptions {
  natsUrl: string;
  redisUrl: string;
  /** Where its config and log go (the caller removes it). */
  workDir: string;
  /** Extra top-level config sections (JSON is YAML), e.g. { blocklist: { sweepSeconds: 5 } }. */
  config?: Record<string, unknown>;
}

export interface LabBrain {
  process: LabProcess;
  /** Its log file (pino JSON lines). */
  output: string;
  /** The JSON lines of its log so far. */
  lines(): Record<string, unknown>[];
}

/**
 * The built `p2pwall-brain serve` inside a lab namespace (usually the internet, beside nats-server
 * and redis-server), with the API off and the blocklist swept every second, so that decisions
 * reach the sensors at once. Resolves when it logs "brain serving"; `lab.down()` kills it.
 */
export async function startLabBrain(lab: Lab, namespace: string, options: LabBrainOptions): Promise<LabBrain> {
  const stamp = `${Date.now()}-${Math.random().toString(16).slice(2, 6)}`;
  const configPath = join(options.workDir, `brain-${stamp}.yaml`);
  const config = { nats: { servers: [options.natsUrl] }, redis: { url: options.redisUrl }, blocklist: { sweepSeconds: 1 }, api: { enabled: false }, telemetry: { listen: { port: 0 } }, ...options.config };
  // JSON is YAML.
  writeFileSync(configPath, JSON.stringify(config));
  const output = join(options.workDir, `brain-${stamp}.log`);
  const process = lab.spawn(namespace, globalThis.process.execPath, [BRAIN_CLI, 'serve', '--config', configPath], { detached: true, output, role: 'brain' });
  // pino's JSON lines; anything else it or node prints (a warning) is left out.
  const lines = (): Record<string, unknown>[] => readJsonLines(output);
  await until('brain serving', 15_000, () => (lines().some((line) => line['msg'] === 'brain serving') ? true : undefined), 50).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${lines().slice(-5).map((line) => JSON.stringify(line)).join('\n')}`, { cause: error });
  });
  return { process, output, lines };
}
