import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { ipTool, nsArgs, run } from './netns/run.js';

/** A JSON log line of the sensor (pino), with the engine event fields when it is an event. */
export interface SensorLogLine {
  level: string;
  time: number;
  msg: string;
  event?: string;
  letter?: string;
  [key: string]: unknown;
}

export interface SensorProcessOptions {
  /** The gateway namespace to run in. */
  namespace: string;
  /**
   * sensor.yaml keys (site and gateway at least); storefile defaults to a file in a private temp
   * dir, and telemetry to a free port (port 0), so that several sensors in one gateway never
   * collide; the port chosen is `telemetryPort`.
   */
  config: Record<string, unknown>;
  /** Extra arguments to `run` (e.g. ['--queue', '1', '--no-rules']). */
  args?: string[];
  /** Called for each log line as it arrives. */
  onLine?: (line: SensorLogLine) => void;
}

export function sensorCliPath(): string {
  const manifest = createRequire(import.meta.url).resolve('@p2pwall/sensor/package.json');
  return join(dirname(manifest), 'dist', 'cli.js');
}

/**
 * The Node flags of the sensor's shebang (`#!/usr/bin/env -S node FLAGS`), for running it as
 * `node FLAGS cli.js` as the sensor's own command would: the shebang is their one definition.
 */
export function sensorNodeFlags(): string[] {
  const shebang = readFileSync(sensorCliPath(), 'utf8').split('\n', 1)[0]!;
  const match = /^#!\/usr\/bin\/env (?:-S )?node((?: --[a-z-]+(?:=\S+)?)*)$/.exec(shebang);
  if (!match) throw new Error(`${sensorCliPath()}: unexpected first line ${JSON.stringify(shebang)}`);
  return match[1]!.split(' ').filter((flag) => flag !== '');
}

/**
 * The real `p2pwall-sensor run` inside a gateway namespace, for the demo and the end-to-end
 * tests: writes its config, follows its JSON log, stops it with a signal or kills it.
 */
export class SensorProcess {
  readonly lines: SensorLogLine[] = [];
  readonly configPath: string;
  readonly workDir: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private readonly waiters: { predicate: (line: SensorLogLine) => boolean; resolve: (line: SensorLogLine) => void }[] = [];
  private stderrTail = '';

  private constructor(private readonly options: SensorProcessOptions, workDir: string) {
    this.workDir = workDir;
    this.configPath = join(workDir, 'sensor.yaml');
    const config = { storefile: join(workDir, 'peers.store'), telemetry: { listen: { port: 0 } }, ...options.config };
    writeFileSync(this.configPath, stringify(config));
    this.child = spawn('ip', ['netns', 'exec', options.namespace, process.execPath, ...sensorNodeFlags(), sensorCliPath(), 'run', '--config', this.configPath, ...(options.args ?? [])], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let pending = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        this.take(text);
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Starts the sensor and waits until it says it is running (or fails). */
  static async start(options: SensorProcessOptions, timeoutMs = 15_000): Promise<SensorProcess> {
    const workDir = mkdtempSync(join(tmpdir(), 'p2pwall-sensor-'));
    const sensor = new SensorProcess(options, workDir);
    const started = sensor.waitFor((line) => line.msg === 'sensor started', timeoutMs);
    const failed = sensor.exited.then((code) => {
      throw new Error(`sensor exited (code ${code}) before starting: ${sensor.stderrTail.trim()}`);
    });
    await Promise.race([started, failed]);
    return sensor;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The port of /metrics and /health/* as the sensor logged it at start; null when telemetry is off. */
  get telemetryPort(): number | null {
    const port = this.lines.find((line) => line.msg === 'sensor started')?.['telemetryPort'];
    return typeof port === 'number' ? port : null;
  }

  /**
   * GET of a telemetry path (/metrics, /health/ready, ...) from inside the sensor's namespace,
   * where its port is (the caller's namespace cannot reach it). `host` is an address of the gateway.
   */
  async telemetry(path: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
    const port = this.telemetryPort;
    if (port === null) throw new Error('sensor: telemetry is off (or the sensor has not started)');
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
    const script = `const r = await fetch(${JSON.stringify(url)}); process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));`;
    const result = await run(ipTool(), nsArgs(this.options.namespace, process.execPath, ['--input-type=module', '-e', script]), { timeoutMs: 15_000, check: false });
    if (result.code !== 0) throw new Error(`sensor: GET ${url} failed: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as { status: number; body: string };
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitFor(predicate: (line: SensorLogLine) => boolean, timeoutMs = 10_000): Promise<SensorLogLine> {
    const seen = this.lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sensor: no matching log line within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  events(kind: string): SensorLogLine[] {
    return this.lines.filter((line) => line.event === kind);
  }

  /** SIGTERM (or another signal) and wait for the exit; returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exited, timeout]);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      return this.exited;
    }
    return result;
  }

  /** SIGKILL: the crash case (no shutdown work at all). */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Removes the private temp dir (config, storefile). */
  cleanup(): void {
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private take(text: string): void {
    let line: SensorLogLine;
    try {
      line = JSON.parse(text) as SensorLogLine;
    } catch {
      this.stderrTail = `${this.stderrTail}${text}\n`.slice(-4000);
      return;
    }
    this.lines.push(line);
    this.options.onLine?.(line);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.predicate(line)) {
        this.waiters.splice(i, 1);
        waiter.resolve(line);
      }
    }
  }
}
