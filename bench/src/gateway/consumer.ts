/**
 * The queue consumers bench/gateway runs in the gateway namespace, as tracked lab processes
 * (the Node ones under `node --trace-gc`, so each step can say how long the consumer's main
 * thread stood still for garbage collection while packets waited in the kernel queue):
 *
 *   - the sensor: the real `p2pwall-sensor run --config FILE` (as SensorProcess runs it, plus the
 *     flag); ready when it logs "sensor started"; its counters come from its "sensor stopped" line;
 *   - the bare consumers (the `nfqueue` binding, gateway/bare-consumer.js; the p2pwall addon,
 *     gateway/bare-addon-consumer.js) and the compiled C reference (gateway/c-consumer.c): ready
 *     when their log says so; each prints its final counters as JSON on SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import { lastJsonObject, sensorCliPath, sensorNodeFlags, type Lab, type LabProcess, type SpawnOptions } from '@p2pwall/lab';

export interface GcPause {
  /** Wall-clock ms when the trace line arrived (the pause ended just before). */
  at: number;
  kind: string;
  /** Main-thread pause, ms. */
  ms: number;
  /** Heap in use after the collection, MB (what a soak watches for growth). */
  heapAfterMB: number;
}

export interface GcWindow {
  count: number;
  /** Mark-Compact / Mark-sweep pauses (the long ones). */
  major: number;
  maxMs: number;
  totalMs: number;
}

export interface StoppedConsumer {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The sensor's JSON log lines (stderr); empty for the bare consumer. */
  logLines: Record<string, unknown>[];
  /** The bare consumer's final `{"packets": n}`. */
  summary: Record<string, unknown> | undefined;
  stderrTail: string;
}

/**
 * lab.spawn, pinned to one CPU with taskset when `cpu` is given (taskset execs the command, so
 * the pid is still the command's).
 */
export function spawnPinned(lab: Lab, ns: string, cpu: number | undefined, cmd: string, args: readonly string[], options: SpawnOptions = {}): LabProcess {
  return cpu === undefined ? lab.spawn(ns, cmd, args, options) : lab.spawn(ns, 'taskset', ['-c', String(cpu), cmd, ...args], options);
}

/** The bare Node consumers, by the binding they stand on. */
const BARE_SCRIPTS = {
  nfqueue: fileURLToPath(new URL('./bare-consumer.js', import.meta.url)),
  addon: fileURLToPath(new URL('./bare-addon-consumer.js', import.meta.url)),
};
/** `[pid:0x…]   9125 ms: Mark-Compact 133.4 (164.6) -> 108.1 (162.1) MB, 45.37 / 0.01 ms …` */
const GC_LINE = /\d+ ms: ([A-Za-z][A-Za-z() -]*?) [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms/;

export class ConsumerProcess {
  readonly gc: GcPause[] = [];
  private readonly logLines: Record<string, unknown>[] = [];
  private stdoutRest = '';
  private stderrRest = '';

  private constructor(
    readonly name: string,
    readonly child: LabProcess,
  ) {
    child.child.stdout?.on('data', (chunk: string | Buffer) => {
      const lines = (this.stdoutRest + chunk.toString()).split('\n');
      this.stdoutRest = lines.pop() ?? '';
      const now = Date.now();
      for (const line of lines) {
        const match = GC_LINE.exec(line);
        if (match) this.gc.push({ at: now, kind: match[1]!.trim(), ms: Number(match[3]), heapAfterMB: Number(match[2]) });
      }
    });
    child.child.stderr?.on('data', (chunk: string | Buffer) => {
      const lines = (this.stderrRest + chunk.toString()).split('\n');
      this.stderrRest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.logLines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** `p2pwall-sensor run --config FILE` in the namespace; resolves once it logged "sensor started". */
  static async sensor(lab: Lab, ns: string, configFile: string, cpu: number | undefined, name = 'sensor', timeoutMs = 15_000): Promise<ConsumerProcess> {
    // P2PWALL_BENCH_SENSOR_NODE_ARGS: extra Node flags for the sensor (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`), to see where its time goes under a bench's load.
    const extra = (process.env['P2PWALL_BENCH_SENSOR_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
    const child = spawnPinned(lab, ns, cpu, process.execPath, ['--trace-gc', ...sensorNodeFlags(), ...extra, sensorCliPath(), 'run', '--config', configFile], { role: `bench-${name}` });
    const consumer = new ConsumerProcess(name, child);
    const deadline = Date.now() + timeoutMs;
    while (!consumer.logLines.some((line) => line.msg === 'sensor started')) {
      if (!child.running) {
        const exit = await child.exited;
        throw new Error(`the sensor exited (${exit.code ?? exit.signal}) before starting: ${exit.stderr.trim().slice(-800)}`);
      }
      if (Date.now() > deadline) {
        await child.stop(2000);
        throw new Error(`the sensor did not log "sensor started" within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return consumer;
  }

  /** A bare Node consumer (`binding`: which one it stands on) in the namespace; resolves once the queue is bound. */
  static bare(lab: Lab, ns: string, binding: keyof typeof BARE_SCRIPTS, verdict: 'accept' | 'repeat', logFile: string, cpu: number | undefined, extraArgs: readonly string[] = []): Promise<ConsumerProcess> {
    const args = ['--trace-gc', BARE_SCRIPTS[binding], '--log', logFile, '--verdict', verdict, ...extraArgs];
    return ConsumerProcess.program(lab, ns, `${binding}-${verdict}`, process.execPath, args, logFile, cpu);
  }

  /** Any consumer program that logs {"event":"ready"} to `logFile` once bound (the C reference); resolves then. */
  static async program(lab: Lab, ns: string, name: string, cmd: string, args: readonly string[], logFile: string, cpu: number | undefined): Promise<ConsumerProcess> {
    const child = spawnPinned(lab, ns, cpu, cmd, args, { role: `bench-${name}`, log: logFile });
    await child.ready(10_000);
    return new ConsumerProcess(name, child);
  }

  /** Asks the consumer to print its counters now (the C reference answers SIGUSR1). */
  signal(signal: NodeJS.Signals): void {
    if (this.child.running) this.child.child.kill(signal);
  }

  /** GC pauses whose trace arrived within [from, to] (wall-clock ms). */
  pausesBetween(from: number, to: number): GcWindow {
    const window = this.gc.filter((pause) => pause.at >= from && pause.at <= to);
    return {
      count: window.length,
      major: window.filter((pause) => /Mark/.test(pause.kind) && !/Minor/.test(pause.kind)).length,
      maxMs: window.reduce((max, pause) => Math.max(max, pause.ms), 0),
      totalMs: Math.round(window.reduce((sum, pause) => sum + pause.ms, 0) * 100) / 100,
    };
  }

  /** Its state and last log lines, for an error message when the queue went missing under it. */
  describe(): string {
    const last = this.logLines.slice(-3).map((line) => JSON.stringify(line));
    return `${this.name} (pid ${this.pid}) ${this.running ? 'running' : 'exited'}${last.length > 0 ? `; last log lines: ${last.join(' ')}` : ''}`;
  }

  get running(): boolean {
    return this.child.running;
  }

  /** SIGTERM (the sensor drains and logs its counters), SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<StoppedConsumer> {
    const exit = await this.child.stop(graceMs);
    const logLines = [...this.logLines];
    if (this.stderrRest.startsWith('{')) {
      try {
        logLines.push(JSON.parse(this.stderrRest) as Record<string, unknown>);
      } catch {
        // torn
      }
    }
    const summary = lastJsonObject(exit.stdout);
    return { code: exit.code, signal: exit.signal, logLines, summary, stderrTail: exit.stderr.trim().slice(-500) };
  }
}
