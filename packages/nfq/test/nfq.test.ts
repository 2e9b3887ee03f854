/**
 * The addon against the real kernel: a queue in a network namespace of its own (p2pwnq-*), UDP
 * over its loopback queued by an OUTPUT rule, and a consumer process inside the namespace
 * (test/fixtures/scenario.mjs) that reports what it saw. Needs root; skipped with the reason
 * otherwise. Every namespace is deleted after its test, also when the test fails.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCENARIO = fileURLToPath(new URL('./fixtures/scenario.mjs', import.meta.url));
const QUEUE = 7;
const MARK = 0x77;
/** The uid and gid of nobody/nogroup on Debian: a process without CAP_NET_ADMIN. */
const NOBODY = '65534';
const live = new Set<string>();

process.on('exit', () => {
  for (const name of live) execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
});

function skipReason(): string {
  if (process.getuid?.() !== 0) return 'needs root (a network namespace, iptables, NFQUEUE)';
  try {
    execFileSync('iptables', ['--version'], { stdio: 'ignore' });
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs ip (iproute2) and iptables';
  }
  return '';
}
const SKIP = skipReason();

const inNamespace = (name: string, command: string, args: string[]) => execFileSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8' });

/**
 * A namespace whose OUTPUT chain accepts packets carrying MARK (counting them) and queues UDP to
 * ports 9000-9099 on loopback to QUEUE; deleted when `body` ends, however it ends.
 */
async function withQueueNamespace(body: (name: string) => Promise<void>): Promise<void> {
  const name = `p2pwnq-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  live.add(name);
  try {
    inNamespace(name, 'ip', ['link', 'set', 'lo', 'up']);
    inNamespace(name, 'iptables', ['-A', 'OUTPUT', '-o', 'lo', '-m', 'mark', '--mark', String(MARK), '-j', 'ACCEPT']);
    inNamespace(name, 'iptables', ['-A', 'OUTPUT', '-o', 'lo', '-p', 'udp', '--dport', '9000:9099', '-j', 'NFQUEUE', '--queue-num', String(QUEUE)]);
    await body(name);
  } finally {
    execFileSync('ip', ['netns', 'del', name]);
    live.delete(name);
  }
}

function scenarioCommand(name: string, args: Record<string, unknown>, user?: string): string[] {
  const node = [process.execPath, SCENARIO, JSON.stringify({ queue: QUEUE, ...args })];
  return ['netns', 'exec', name, ...(user ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups', ...node] : node)];
}

/** Runs a scenario inside the namespace and returns the JSON it printed last. */
function scenario<T = Record<string, unknown>>(name: string, args: Record<string, unknown>, user?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', scenarioCommand(name, args, user), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`scenario ${String(args['scenario'])} exited ${code}: ${out}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}

/** Packets the mark rule accepted: those answered REPEAT with MARK. */
function markedPackets(name: string): number {
  const listing = inNamespace(name, 'iptables', ['-nvxL', 'OUTPUT']);
  const line = listing.split('\n').find((row) => row.includes(`mark match 0x${MARK.toString(16)}`));
  return Number(line?.trim().split(/\s+/)[0]);
}

interface Stats {
  packets: number;
  batches: number;
  largestBatch: number;
  enobufs: number;
  unanswered: number;
  truncated: number;
  callbackErrors: number;
  verdictErrors: number;
  verdictSendErrors: number;
}

interface Kernel {
  queueTotal: number;
  queueDropped: number;
  userDropped: number;
  idSequence: number;
}

describe.skipIf(SKIP !== '')(`@p2pwall/nfq on a real queue${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('hands a burst over in batches, and drop, accept and repeat-with-mark take effect', async () => {
    await withQueueNamespace(async (name) => {
      const result = await scenario<{ batches: number[]; received: Record<string, number>; lengths: number[]; originalLengths: number[]; stats: Stats; kernel: Kernel }>(name, {
        scenario: 'verdicts',
        copyRange: 201,
        count: 100,
        size: 1001,
        mark: MARK,
      });
      expect(result.received).toEqual({ 9001: 0, 9002: 100, 9003: 100 });
      expect(markedPackets(name)).toBe(100);
      // 300 packets queued before the consumer read any: far fewer calls than packets.
      expect(result.stats.packets).toBe(300);
      expect(Math.max(...result.batches)).toBeGreaterThan(1);
      expect(result.stats.largestBatch).toBeLessThanOrEqual(64);
      expect(result.batches.reduce((a, b) => a + b, 0)).toBe(300);
      // The copy range cut every 1029-byte packet (20 IP + 8 UDP + 1001) to 201 bytes: lengths that are no multiple of 4 leave netlink messages unaligned.
      expect(result.lengths).toEqual([201]);
      expect(result.originalLengths).toEqual([1029]);
      expect(result.stats).toMatchObject({ truncated: 300, unanswered: 0, enobufs: 0, verdictErrors: 0, verdictSendErrors: 0 });
      expect(result.kernel).toMatchObject({ queueTotal: 0, queueDropped: 0, userDropped: 0 });
    });
  });

  it('gives packets the callback left unanswered, or answered by throwing, the default verdict (accept), and counts them', async () => {
    await withQueueNamespace(async (name) => {
      const silent = await scenario<{ received: Record<string, number>; stats: Stats }>(name, { scenario: 'unanswered', count: 50 });
      expect(silent.received).toEqual({ 9002: 50 });
      expect(silent.stats).toMatchObject({ packets: 50, unanswered: 50, callbackErrors: 0 });
      const throwing = await scenario<{ received: Record<string, number>; stats: Stats; uncaught: number }>(name, { scenario: 'unanswered', count: 50, throwing: true });
      expect(throwing.received).toEqual({ 9002: 50 });
      expect(throwing.stats.unanswered).toBe(50);
      expect(throwing.stats.callbackErrors).toBe(throwing.stats.batches);
      expect(throwing.uncaught).toBe(throwing.stats.batches);
    });
  });

  it('with whenFull: accept, the kernel accepts what does not fit in a full queue; with drop, it drops it', async () => {
    await withQueueNamespace(async (name) => {
      type Full = { whilePaused: { received: number; kernel: Kernel }; received: number; stats: Stats };
      const accept = await scenario<Full>(name, { scenario: 'whenFull', maxLength: 8, whenFull: 'accept', count: 100 });
      // 8 wait in the queue; the other 92 pass at once, unjudged and uncounted by the kernel.
      expect(accept.whilePaused.received).toBe(92);
      expect(accept.whilePaused.kernel).toMatchObject({ queueTotal: 8, queueDropped: 0 });
      expect(accept.received).toBe(100);
      expect(accept.stats.packets).toBe(8);

      const drop = await scenario<Full>(name, { scenario: 'whenFull', maxLength: 8, whenFull: 'drop', count: 100 });
      expect(drop.whilePaused.received).toBe(0);
      expect(drop.whilePaused.kernel).toMatchObject({ queueTotal: 8, queueDropped: 92 });
      expect(drop.received).toBe(8);
      expect(drop.stats.packets).toBe(8);
    });
  });

  it('close() frees the queue: the same process opens it again', async () => {
    await withQueueNamespace(async (name) => {
      expect(await scenario(name, { scenario: 'reopen' })).toEqual({ listedOpen: true, listedAfterClose: false, reopened: true });
    });
  });

  it('says another process holds the queue, and that binding needs root or CAP_NET_ADMIN', async () => {
    await withQueueNamespace(async (name) => {
      const holder = spawn('ip', scenarioCommand(name, { scenario: 'hold' }), { stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve, reject) => {
          holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
          holder.on('exit', (code) => reject(new Error(`the holding process exited (${code})`)));
        });
        const taken = await scenario(name, { scenario: 'tryOpen' });
        expect(taken).toMatchObject({ opened: false, name: 'NfqOpenError', reason: 'taken' });
        expect(taken['message']).toMatch(/^cannot bind NFQUEUE 7: another process holds it \(netlink port id \d+ in \/proc\/net\/netfilter\/nfnetlink_queue\)/);
      } finally {
        holder.stdin.end();
        await new Promise((resolve) => (holder.exitCode === null ? holder.once('exit', resolve) : resolve(null)));
      }
      const unprivileged = await scenario(name, { scenario: 'tryOpen' }, NOBODY);
      expect(unprivileged).toMatchObject({ opened: false, reason: 'permission', message: 'cannot bind NFQUEUE 7: permission denied; binding a queue needs root or CAP_NET_ADMIN' });
    });
  });
});
