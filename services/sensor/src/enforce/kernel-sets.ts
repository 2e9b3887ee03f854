import { isIP } from 'node:net';
import { isTransport, type Transport } from '@p2pwall/common';
import { localRunner, type CommandResult, type CommandRunner } from './command-runner.js';
import { IPSET_MAX_TIMEOUT, restoreSets } from './ipset.js';
import { kernelNames, networkSet, peerAddressSet, peerEndpointProtocols, type FamilySetNames, type IpFamily } from './rules.js';

export interface KernelSetsOptions {
  /** Same prefix the rules were installed with. */
  prefix: string;
  /** false: IPv6 sets do not exist; IPv6 entries are skipped (counted, not errors). */
  ipv6: boolean;
  runner?: CommandRunner;
  /** Least time between two `ipset restore` children (default 20 ms). */
  flushIntervalMs?: number;
  /** Commands pending that start a child at once, and the most one child carries (default 20,000). */
  maxBatch?: number;
  /**
   * Distinct entries with a command waiting (a newer command for an entry replaces the older);
   * beyond this new ones are shed, counted and reported. Default 1,048,576: a shared blocklist
   * of half a million ip:port peers loaded at once; about 250 bytes of heap each while they wait.
   */
  maxPending?: number;
  /** Where failures are reported (the sensor's logger); default: stderr. */
  onError?: (message: string) => void;
  /** Lines of one kind of failure logged per interval before the rest are only counted (default 5 per 10 s). */
  errorBurst?: number;
  errorIntervalMs?: number;
}

/** One set's entries against its maxelem, as the kernel reports them. */
export interface SetFill {
  name: string;
  entries: number;
  maxEntries: number;
}

export interface KernelSetsStats {
  /** Commands waiting for a child. */
  pending: number;
  /** Commands the kernel took. */
  applied: number;
  /** Commands refused: invalid arguments, or ipset rejected them. */
  failed: number;
  /** IPv6 commands while IPv6 is off. */
  skipped: number;
  /** Commands dropped because maxPending were already waiting. */
  shed: number;
  /** Error lines not logged because their kind had been logged often in the interval (still counted in failed/shed). */
  errorLinesSuppressed: number;
  /** `ipset restore` children spawned, retries included. */
  children: number;
  /** Batches that failed and were re-run without their bad lines. */
  retries: number;
}

/** A line ipset refused, and why. */
export interface RejectedLine {
  line: string;
  reason: string;
}

/** Lines ipset refuses for a reason that holds for the whole set, not just the one entry. */
const SET_WIDE_ERRORS: ReadonlyArray<{ pattern: RegExp; commands: ReadonlySet<string> }> = [
  { pattern: /set with the given name does not exist/i, commands: new Set(['add', 'del']) },
  { pattern: /hash is full/i, commands: new Set(['add']) },
];

/**
 * After a failed `ipset restore`: which lines to give up on and which to run again. ipset names
 * the first bad line ("Error in line N: ...") and then stops, so the retry runs every other line
 * again (with -exist, re-applying an add or del changes nothing), until one child succeeds.
 * When the error holds for the whole set (missing set, full hash) every later line of that kind
 * for that set is given up at once: otherwise a missing set would cost one child per line.
 * Returns null when stderr names no line: the caller then falls back to one child per line.
 */
export function planRetry(lines: readonly string[], stderr: string): { rejected: RejectedLine[]; remaining: string[] } | null {
  const match = /Error in line (\d+):\s*(.*)/.exec(stderr);
  const index = match ? Number(match[1]) - 1 : -1;
  const bad = lines[index];
  if (!match || bad === undefined) return null;
  const reason = match[2]!.trim();
  const [badCommand, badSet] = bad.split(' ');
  const setWide = SET_WIDE_ERRORS.find((error) => error.pattern.test(reason) && error.commands.has(badCommand ?? ''));
  const rejected: RejectedLine[] = [];
  const remaining: string[] = [];
  lines.forEach((line, i) => {
    const [command, set] = line.split(' ');
    // ipset ran the lines before the bad one; from it on, every line of that kind for that set fails alike.
    const sameFault = setWide !== undefined && i > index && set === badSet && setWide.commands.has(command ?? '');
    if (i === index || sameFault) rejected.push({ line: line.trimEnd(), reason });
    else remaining.push(line);
  });
  return { rejected, remaining };
}

/** A waiting command that removes its entry (adds carry their timeout, at least 1 s). */
const DELETE = 0;

/** `SET ENTRY` for each set entry that blocks a peer for `transport` at ip:port (port 0: the whole address). */
function peerEntries(sets: FamilySetNames, ip: string, port: number, transport: Transport): string[] {
  if (port === 0) return [`${peerAddressSet(sets, transport)} ${ip}`];
  return peerEndpointProtocols(transport).map((protocol) => `${sets.peerEndpoints} ${ip},${protocol}:${port}`);
}

/** `SET ENTRY` for each exception entry of an allowed address (port 0) or endpoint (both transports: allow entries hold for every transport). */
function networkExceptionEntries(sets: FamilySetNames, ip: string, port: number): string[] {
  if (port === 0) return [`${sets.networkExceptions} ${ip}`];
  return peerEndpointProtocols('both').map((protocol) => `${sets.networkExceptionEndpoints} ${ip},${protocol}:${port}`);
}

/**
 * Error lines by kind, at most `burst` of each kind per interval: a full set or a stuck ipset must
 * not write one line per entry. The next line of a kind after a quiet spell says how many were
 * left out; every failure is counted in the stats whether logged or not.
 */
export class ErrorLines {
  private readonly kinds = new Map<string, { since: number; logged: number; suppressed: number }>();
  suppressed = 0;

  constructor(
    private readonly sink: (message: string) => void,
    private readonly burst: number,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  report(kind: string, message: string, count = 1): void {
    const now = this.now();
    let entry = this.kinds.get(kind);
    if (entry === undefined || now - entry.since >= this.intervalMs) {
      const left = entry?.suppressed ?? 0;
      entry = { since: now, logged: 0, suppressed: 0 };
      this.kinds.set(kind, entry);
      if (left > 0) message += ` (${left.toLocaleString('en-US')} more like it were not logged in the ${this.intervalMs / 1000} s before)`;
    }
    if (entry.logged >= this.burst) {
      entry.suppressed += count;
      this.suppressed++;
      return;
    }
    entry.logged++;
    this.sink(message);
  }
}

/** `ipset list -t` output (every set, terse) as each set's fill; sets not named in `names` are left out. */
export function parseSetFill(text: string, names: ReadonlySet<string>): SetFill[] {
  const fills: SetFill[] = [];
  for (const block of text.split(/\n(?=Name:)/)) {
    const name = /^Name:\s*(\S+)/m.exec(block)?.[1];
    if (name === undefined || !names.has(name)) continue;
    const maxEntries = Number(/^Header:.*\bmaxelem (\d+)/m.exec(block)?.[1] ?? NaN);
    const entries = Number(/^Number of entries:\s*(\d+)/m.exec(block)?.[1] ?? NaN);
    if (Number.isFinite(maxEntries) && Number.isFinite(entries)) fills.push({ name, entries, maxEntries });
  }
  return fills;
}

/**
 * The sensor's way into the kernel sets: learned peers and time-locked clients. Called on the
 * per-packet path, so calls only queue text; one `ipset restore -exist` child applies a whole batch
 * (ipset applies nothing until its stdin closes, so a long-lived child would not help). Never more
 * than one child at a time, at most one per flushIntervalMs unless maxBatch commands are waiting.
 *
 * Waiting commands are kept per entry: a newer add or del of the same entry replaces the older
 * one (only the last says what the kernel should hold), so what waits is bounded by the distinct
 * entries, and a whole shared blocklist loaded in one turn waits whole, in batches of maxBatch.
 */
export class KernelSets {
  private readonly runner: CommandRunner;
  private readonly sets: Record<IpFamily, FamilySetNames>;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly onError: (message: string) => void;
  /** `set entry` → the timeout of the add it waits for, or DELETE; in the order entries were queued. */
  private pending = new Map<string, number>();
  /**
   * Entries meant to outlive ipset's longest timeout (about 24.8 days: a manual block of 30 days,
   * an allow entry that never ends) → when they end (ms). rearmLongLived adds them again.
   */
  private readonly longLived = new Map<string, number>();
  private readonly errors: ErrorLines;
  private readonly setNames: ReadonlySet<string>;
  private running: Promise<unknown> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastStart = Number.NEGATIVE_INFINITY;
  private readonly counters = { applied: 0, failed: 0, skipped: 0, shed: 0, children: 0, retries: 0 };

  constructor(private readonly options: KernelSetsOptions) {
    this.runner = options.runner ?? localRunner;
    this.sets = kernelNames(options.prefix).sets;
    this.flushIntervalMs = options.flushIntervalMs ?? 20;
    this.maxBatch = options.maxBatch ?? 20_000;
    this.maxPending = options.maxPending ?? 1_048_576;
    this.onError = options.onError ?? ((message) => process.stderr.write(`p2pwall kernel sets: ${message}\n`));
    this.errors = new ErrorLines(this.onError, options.errorBurst ?? 5, options.errorIntervalMs ?? 10_000);
    this.setNames = new Set(Object.values(this.sets).flatMap((family) => Object.values(family)));
  }

  /**
   * Blocks a learned peer for the transport its protocol module named: at ip:port (port 0: the
   * whole address). `both` blocks TCP and UDP, `tcp` or `udp` only that one, so the other
   * protocol's traffic to the same endpoint passes.
   *
   * At ip:port the entries themselves carry the protocol (ip,tcp:port, ip,udp:port), so a peer
   * known for both and also for one transport shares that entry: the last add sets its timeout,
   * and removing either removes it. Whole addresses go to one set per transport, so those keep
   * their timeouts apart, as the engine's peer table keeps its entries apart.
   */
  addPeer(ip: string, port: number, transport: Transport, timeoutSeconds: number): void {
    const family = this.family(ip, 'addPeer');
    if (family === null || !this.checkPort(port, ip) || !this.checkTransport(transport, ip)) return;
    const timeout = this.timeout(timeoutSeconds, ip);
    if (timeout === null) return;
    for (const entry of peerEntries(this.sets[family], ip, port, transport)) this.enqueueAdd(entry, timeoutSeconds, timeout);
  }

  /** Unblocks what addPeer(ip, port, transport) blocked. */
  removePeer(ip: string, port: number, transport: Transport): void {
    const family = this.family(ip, 'removePeer');
    if (family === null || !this.checkPort(port, ip) || !this.checkTransport(transport, ip)) return;
    for (const entry of peerEntries(this.sets[family], ip, port, transport)) this.enqueue(entry, DELETE);
  }

  /** Blocks an outside network (`198.51.100.0/24`, host bits zero: the brain checks) for `transport`. */
  addNetwork(network: string, transport: Transport, timeoutSeconds: number): void {
    const family = this.family(network.split('/')[0] ?? '', 'addNetwork');
    if (family === null || !this.checkTransport(transport, network)) return;
    const timeout = this.timeout(timeoutSeconds, network);
    if (timeout === null) return;
    this.enqueueAdd(`${networkSet(this.sets[family], transport)} ${network}`, timeoutSeconds, timeout);
  }

  /** Unblocks what addNetwork(network, transport) blocked. */
  removeNetwork(network: string, transport: Transport): void {
    const family = this.family(network.split('/')[0] ?? '', 'removeNetwork');
    if (family === null || !this.checkTransport(transport, network)) return;
    this.enqueue(`${networkSet(this.sets[family], transport)} ${network}`, DELETE);
  }

  /**
   * Lets an allowed address (port 0) or endpoint through every blocked network, for both
   * transports, until the allow entry ends. Harmless where no network covers it: the exception
   * sets are read only by packets a network set matched.
   */
  exceptFromNetworks(ip: string, port: number, timeoutSeconds: number): void {
    const family = this.family(ip, 'exceptFromNetworks');
    if (family === null || !this.checkPort(port, ip)) return;
    const timeout = this.timeout(timeoutSeconds, ip);
    if (timeout === null) return;
    for (const entry of networkExceptionEntries(this.sets[family], ip, port)) this.enqueueAdd(entry, timeoutSeconds, timeout);
  }

  /** Ends what exceptFromNetworks(ip, port) made. */
  endNetworkException(ip: string, port: number): void {
    const family = this.family(ip, 'endNetworkException');
    if (family === null || !this.checkPort(port, ip)) return;
    for (const entry of networkExceptionEntries(this.sets[family], ip, port)) this.enqueue(entry, DELETE);
  }

  /** Time-locks an inside client for the remaining lock time; called again, it re-arms the timeout. */
  lockClient(ip: string, timeoutSeconds: number): void {
    const family = this.family(ip, 'lockClient');
    if (family === null) return;
    const timeout = this.timeout(timeoutSeconds, ip);
    if (timeout === null) return;
    this.enqueueAdd(`${this.sets[family].locks} ${ip}`, timeoutSeconds, timeout);
  }

  unlockClient(ip: string): void {
    const family = this.family(ip, 'unlockClient');
    if (family === null) return;
    this.enqueue(`${this.sets[family].locks} ${ip}`, DELETE);
  }

  /**
   * Adds again, with the time they have left (at most ipset's longest), the entries meant to last
   * longer than ipset's longest timeout; forgets those that have ended. Call it well within that
   * timeout (the live sensor: every 6 hours), or such entries leave the kernel before their decision ends.
   */
  rearmLongLived(nowMs = Date.now()): void {
    for (const [entry, endsMs] of this.longLived) {
      const seconds = (endsMs - nowMs) / 1000;
      if (seconds <= 0) this.longLived.delete(entry);
      else this.enqueue(entry, Math.min(IPSET_MAX_TIMEOUT, Math.ceil(seconds)));
    }
  }

  /** Entries rearmLongLived keeps in the kernel. */
  get longLivedEntries(): number {
    return this.longLived.size;
  }

  /** Resolves once every command queued so far (and any queued meanwhile) has been applied or has failed. */
  async flush(): Promise<void> {
    while (this.running !== null || this.pending.size > 0) {
      if (this.running === null) this.start();
      await this.running;
    }
  }

  get stats(): KernelSetsStats {
    return { pending: this.pending.size, ...this.counters, errorLinesSuppressed: this.errors.suppressed };
  }

  /** This prefix's sets, each with its entries and maxelem, read from the kernel (one `ipset list -t`). */
  async readFill(): Promise<SetFill[]> {
    const result = await this.runner.run('ipset', ['list', '-t']);
    if (result.code !== 0) throw new Error(`ipset list -t: ${result.stderr.trim()}`);
    return parseSetFill(result.stdout, this.setNames);
  }

  private family(ip: string, what: string): IpFamily | null {
    const version = isIP(ip);
    if (version === 0) return this.reject('address', `${what}: '${ip}' is not an IP address`);
    if (version === 6 && !this.options.ipv6) {
      // IPv6 is off here, yet the shared blocklist may carry IPv6 peers learned at other sites.
      this.counters.skipped++;
      return null;
    }
    return version === 4 ? 4 : 6;
  }

  private checkPort(port: number, ip: string): boolean {
    if (Number.isInteger(port) && port >= 0 && port <= 65535) return true;
    this.reject('port', `${ip}: port ${port} is not 0 (whole address) or a port number`);
    return false;
  }

  /** Transports arrive from the storefile and the shared blocklist as text: only the three known ones make entries. */
  private checkTransport(transport: Transport, ip: string): boolean {
    if (isTransport(transport)) return true;
    this.reject('transport', `${ip}: transport '${String(transport)}' is not tcp, udp or both`);
    return false;
  }

  /** Whole seconds, at least 1 (ipset's 0 would mean "never expires") and at most ipset's maximum. */
  private timeout(seconds: number, ip: string): number | null {
    if (!(seconds > 0)) return this.reject('timeout', `${ip}: timeout ${seconds} s must be > 0`);
    return Math.min(IPSET_MAX_TIMEOUT, Math.ceil(seconds));
  }

  /** Counts `count` failed commands and reports them as one line of `kind`. */
  private reject(kind: string, message: string, count = 1): null {
    this.counters.failed += count;
    this.errors.report(kind, message, count);
    return null;
  }

  /** Queues the add of an entry asked to last `seconds`, with the timeout ipset can take (`timeout`), remembering it when it must outlive that. */
  private enqueueAdd(entry: string, seconds: number, timeout: number): void {
    if (seconds > IPSET_MAX_TIMEOUT) this.longLived.set(entry, Date.now() + seconds * 1000);
    else this.longLived.delete(entry);
    this.enqueue(entry, timeout);
  }

  /** Queues `add entry timeout T` (T >= 1) or, for DELETE, `del entry`. */
  private enqueue(entry: string, timeout: number): void {
    if (timeout === DELETE) this.longLived.delete(entry);
    const pending = this.pending;
    if (pending.size >= this.maxPending && !pending.has(entry)) {
      this.counters.shed++;
      this.errors.report('shed', `${pending.size.toLocaleString('en-US')} entries already wait for ipset (limit ${this.maxPending.toLocaleString('en-US')}); shed ${this.counters.shed.toLocaleString('en-US')} commands so far`);
      return;
    }
    // Deleted first, so a newer command for a waiting entry goes to the back, after what came before it.
    pending.delete(entry);
    pending.set(entry, timeout);
    this.schedule();
  }

  private schedule(): void {
    if (this.running !== null || this.pending.size === 0) return;
    if (this.pending.size >= this.maxBatch) {
      this.start();
      return;
    }
    if (this.timer !== null) return;
    // Even when idle, wait for the next turn of the event loop: the caller is processing packets,
    // and whatever else it learns in this turn should go in the same child.
    const wait = Math.max(0, this.lastStart + this.flushIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, wait);
    // A pending flush alone must not keep the process alive; shutdown calls flush().
    this.timer.unref();
  }

  private start(): void {
    if (this.running !== null || this.pending.size === 0) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch: string[] = [];
    for (const [entry, timeout] of this.pending) {
      if (batch.length >= this.maxBatch) break;
      batch.push(timeout === DELETE ? `del ${entry}\n` : `add ${entry} timeout ${timeout}\n`);
      this.pending.delete(entry);
    }
    this.lastStart = Date.now();
    this.running = this.apply(batch)
      // apply() handles every ipset failure itself; only a throwing onError can land here, and a
      // timer has nobody to hand the rejection to.
      .catch((error: unknown) => process.stderr.write(`p2pwall kernel sets: onError threw: ${String(error)}\n`))
      .finally(() => {
        this.running = null;
        this.schedule();
      });
  }

  private async restore(lines: readonly string[]): Promise<CommandResult> {
    this.counters.children++;
    try {
      return await restoreSets(lines.join(''), this.runner);
    } catch (error) {
      // ipset could not be started at all: report it as a failed child.
      return { code: 127, stdout: '', stderr: (error as Error).message };
    }
  }

  private async apply(batch: readonly string[]): Promise<void> {
    let lines = batch;
    let result = await this.restore(lines);
    if (result.code === 0) {
      this.counters.applied += lines.length;
      return;
    }
    this.counters.retries++;
    this.errors.report('retry', `ipset restore failed for a batch of ${lines.length} commands (${result.stderr.trim()}); retrying without the rejected lines`);
    while (result.code !== 0) {
      const plan = planRetry(lines, result.stderr);
      if (plan === null) {
        await this.applyOneByOne(lines);
        return;
      }
      this.rejectLines(plan.rejected);
      lines = plan.remaining;
      if (lines.length === 0) return;
      result = await this.restore(lines);
    }
    this.counters.applied += lines.length;
  }

  /** The fallback when ipset's error names no line: one child per command, so each fails alone. */
  private async applyOneByOne(lines: readonly string[]): Promise<void> {
    for (const line of lines) {
      const result = await this.restore([line]);
      if (result.code === 0) this.counters.applied++;
      else this.reject('ipset', `ipset rejected '${line.trimEnd()}': ${result.stderr.trim()}`);
    }
  }

  /** Lines ipset gave up on, one report per set and reason (a full set refuses thousands at once). */
  private rejectLines(rejected: readonly RejectedLine[]): void {
    const groups = new Map<string, RejectedLine[]>();
    for (const line of rejected) {
      const key = `${line.line.split(' ')[1] ?? ''} ${line.reason}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = []));
      group.push(line);
    }
    for (const [key, lines] of groups) {
      const first = lines[0]!;
      if (lines.length === 1) this.reject(`ipset ${key}`, `ipset rejected '${first.line}': ${first.reason}`);
      else this.reject(`ipset ${key}`, `ipset rejected ${lines.length.toLocaleString('en-US')} commands for ${first.line.split(' ')[1]}: ${first.reason} (first: '${first.line}')`, lines.length);
    }
  }
}
