import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, until } from '@p2pwall/lab';

/**
 * Debian's Prometheus (package prometheus, beside promtool), started by a test on a free port of
 * 127.0.0.1 with its own configuration and storage in a temporary folder, and removed by
 * `cleanup` (also after a failed start). It scrapes and evaluates every second, so alerts show
 * within seconds of what they watch.
 */
export const PROMETHEUS = '/usr/bin/prometheus';

export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** GET <url><path> as JSON (the HTTP API's `data`). */
  api<T>(path: string): Promise<T>;
  cleanup(): Promise<void>;
}

export interface ScrapeJob {
  job: string;
  /** host:port */
  target: string;
}

export async function startPrometheus(options: { rules: string; jobs: ScrapeJob[] }): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pwall-prometheus-'));
  let child: ChildProcess | undefined;
  let output = '';
  const cleanup = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await writeFile(join(dir, 'rules.yaml'), options.rules);
    const scrapeConfigs = options.jobs.map(({ job, target }) => ({ job_name: job, static_configs: [{ targets: [target] }] }));
    // JSON is YAML.
    await writeFile(join(dir, 'prometheus.yml'), JSON.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, rule_files: [join(dir, 'rules.yaml')], scrape_configs: scrapeConfigs }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const failed = new Promise<never>((_, reject) => {
      child!.once('error', (error) => reject(new Error(`cannot start ${PROMETHEUS} (${error.message}): install Debian's prometheus package (scripts/setup does)`)));
      child!.once('exit', (code) => reject(new Error(`prometheus exited (${code}): ${output.trim()}`)));
    });
    failed.catch(() => undefined);
    const ready = until('prometheus ready', 20_000, async () => ((await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined), 100);
    await Promise.race([ready, failed]);
    return {
      url,
      async api<T>(path: string): Promise<T> {
        const response = await fetch(`${url}${path}`);
        const body = (await response.json()) as { status: string; data: T; error?: string };
        if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
        return body.data;
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
