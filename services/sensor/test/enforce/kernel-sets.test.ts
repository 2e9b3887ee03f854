import type { Transport } from '@p2pwall/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/enforce/command-runner.js';
import { ensureSets, kernelSetSpecs, parseSetSummary } from '../../src/enforce/ipset.js';
import { ErrorLines, KernelSets, planRetry } from '../../src/enforce/kernel-sets.js';
import { createNetns, netnsSkipReason, titleWithSkipReason, type Netns } from '../support/netns.js';

/** Stands in for `ipset restore`: records each child's lines, answers with `respond`, takes `delayMs`. */
class FakeIpset implements CommandRunner {
  readonly children: Array<{ lines: string[]; startedAt: number }> = [];
  running = 0;
  maxRunning = 0;
  delayMs = 2;
  respond: (lines: string[]) => CommandResult | Error = () => ({ code: 0, stdout: '', stderr: '' });

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    expect([command, ...args]).toEqual(['ipset', 'restore', '-exist']);
    const lines = (options.input ?? '').split('\n').filter(Boolean);
    this.children.push({ lines, startedAt: performance.now() });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    this.running--;
    const answer = this.respond(lines);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  get lines(): string[] {
    return this.children.flatMap((child) => child.lines);
  }
}

function kernelSets(runner: CommandRunner, options: { ipv6?: boolean; flushIntervalMs?: number; maxBatch?: number; maxPending?: number } = {}): { sets: KernelSets; errors: string[] } {
  const errors: string[] = [];
  const sets = new KernelSets({ prefix: 'p2pwall', ipv6: options.ipv6 ?? true, runner, flushIntervalMs: options.flushIntervalMs ?? 20, maxBatch: options.maxBatch, maxPending: options.maxPending, onError: (message) => errors.push(message) });
  return { sets, errors };
}

describe('KernelSets batching (fake ipset)', () => {
  it('writes peers, whole-address peers, locks and their removal as ipset commands; a newer command for a waiting entry replaces it', async () => {
    const ipset = new FakeIpset();
    const { sets, errors } = kernelSets(ipset);
    sets.addPeer('203.0.113.9', 1214, 'both', 600);
    sets.addPeer('203.0.113.10', 0, 'both', 59.2);
    sets.addPeer('2001:db8::7', 3531, 'both', 10 ** 12);
    sets.lockClient('198.51.100.5', 120);
    sets.unlockClient('198.51.100.5');
    sets.removePeer('203.0.113.9', 1214, 'both');
    sets.removePeer('2001:db8::8', 0, 'both');
    await sets.flush();
    // The lock and the first peer were undone in the same turn: only the removals go to ipset.
    expect(ipset.lines).toEqual([
      'add p2pwall-peer-ip4 203.0.113.10 timeout 60',
      'add p2pwall-peer-ep6 2001:db8::7,tcp:3531 timeout 2147483',
      'add p2pwall-peer-ep6 2001:db8::7,udp:3531 timeout 2147483',
      'del p2pwall-lock4 198.51.100.5',
      'del p2pwall-peer-ep4 203.0.113.9,tcp:1214',
      'del p2pwall-peer-ep4 203.0.113.9,udp:1214',
      'del p2pwall-peer-ip6 2001:db8::8',
    ]);
    expect(ipset.children).toHaveLength(1);
    expect(errors).toEqual([]);
    expect(sets.stats).toEqual({ pending: 0, applied: 7, failed: 0, skipped: 0, shed: 0, children: 1, retries: 0, errorLinesSuppressed: 0 });
  });

  it('writes network blocks per transport and the allow-entry exceptions inside them; re-adds entries that outlive ipset\'s longest timeout', async () => {
    const ipset = new FakeIpset();
    const { sets, errors } = kernelSets(ipset);
    const thirtyDays = 30 * 86_400;
    sets.addNetwork('198.51.100.0/24', 'both', thirtyDays);
    sets.addNetwork('2001:db8:7::/48', 'udp', 600);
    sets.exceptFromNetworks('198.51.100.7', 0, 600);
    sets.exceptFromNetworks('198.51.100.8', 443, thirtyDays);
    sets.removeNetwork('203.0.113.0/28', 'tcp');
    sets.endNetworkException('198.51.100.9', 0);
    await sets.flush();
    expect(ipset.lines).toEqual([
      'add p2pwall-net4 198.51.100.0/24 timeout 2147483',
      'add p2pwall-netu6 2001:db8:7::/48 timeout 600',
      'add p2pwall-netx4 198.51.100.7 timeout 600',
      'add p2pwall-netxep4 198.51.100.8,tcp:443 timeout 2147483',
      'add p2pwall-netxep4 198.51.100.8,udp:443 timeout 2147483',
      'del p2pwall-nett4 203.0.113.0/28',
      'del p2pwall-netx4 198.51.100.9',
    ]);
    // 30 days outlive ipset's 24.8: the three entries are added again, with what they have left
    expect(sets.longLivedEntries).toBe(3);
    const later = Date.now() + 25 * 86_400_000;
    sets.rearmLongLived(later);
    await sets.flush();
    expect(ipset.lines.slice(7)).toEqual([
      expect.stringMatching(/^add p2pwall-net4 198\.51\.100\.0\/24 timeout 43\d{4}$/),
      expect.stringMatching(/^add p2pwall-netxep4 198\.51\.100\.8,tcp:443 timeout 43\d{4}$/),
      expect.stringMatching(/^add p2pwall-netxep4 198\.51\.100\.8,udp:443 timeout 43\d{4}$/),
    ]);
    // once removed, or ended, they are not added again
    sets.removeNetwork('198.51.100.0/24', 'both');
    sets.rearmLongLived(Date.now() + 31 * 86_400_000);
    await sets.flush();
    expect(sets.longLivedEntries).toBe(0);
    expect(ipset.lines.slice(10)).toEqual(['del p2pwall-net4 198.51.100.0/24']);
    expect(errors).toEqual([]);
  });

  it('blocks a peer only for its transport: one endpoint entry, or the whole-address set of that transport', async () => {
    const ipset = new FakeIpset();
    const { sets, errors } = kernelSets(ipset);
    sets.addPeer('203.0.113.11', 1214, 'tcp', 600);
    sets.addPeer('203.0.113.12', 3531, 'udp', 600);
    sets.addPeer('203.0.113.13', 0, 'tcp', 600);
    sets.addPeer('2001:db8::9', 0, 'udp', 600);
    sets.addPeer('203.0.113.14', 0, 'both', 600);
    sets.removePeer('203.0.113.12', 3531, 'udp');
    sets.removePeer('203.0.113.13', 0, 'tcp');
    sets.removePeer('2001:db8::9', 0, 'udp');
    await sets.flush();
    expect(ipset.lines).toEqual([
      'add p2pwall-peer-ep4 203.0.113.11,tcp:1214 timeout 600',
      'add p2pwall-peer-ip4 203.0.113.14 timeout 600',
      'del p2pwall-peer-ep4 203.0.113.12,udp:3531',
      'del p2pwall-peer-ipt4 203.0.113.13',
      'del p2pwall-peer-ipu6 2001:db8::9',
    ]);
    expect(errors).toEqual([]);
  });

  it('sends what one turn queued in one child, at most maxBatch commands per child, one child at a time', async () => {
    const ipset = new FakeIpset();
    const { sets } = kernelSets(ipset, { maxBatch: 1000 });
    for (let i = 0; i < 1200; i++) sets.addPeer(`203.0.${113 + (i >> 8)}.${i & 255}`, 1214, 'both', 600);
    await sets.flush();
    expect(ipset.children.map((child) => child.lines.length)).toEqual([1000, 1000, 400]);
    expect(ipset.maxRunning).toBe(1);
    expect(sets.stats.applied).toBe(2400);
  });

  it('queues commands that arrive while a child runs for the next child, flushIntervalMs later', async () => {
    const ipset = new FakeIpset();
    ipset.delayMs = 10;
    const { sets } = kernelSets(ipset, { flushIntervalMs: 40 });
    sets.lockClient('198.51.100.5', 120);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ipset.running).toBe(1);
    sets.lockClient('198.51.100.6', 120);
    sets.lockClient('198.51.100.7', 120);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ipset.children.map((child) => child.lines.length)).toEqual([1, 2]);
    expect(ipset.children[1]!.startedAt - ipset.children[0]!.startedAt).toBeGreaterThanOrEqual(39);
    expect(ipset.maxRunning).toBe(1);
  });

  it('refuses bad addresses, ports and timeouts without spawning, and skips IPv6 when it is off', async () => {
    const ipset = new FakeIpset();
    const { sets, errors } = kernelSets(ipset, { ipv6: false });
    sets.addPeer('203.0.113.300', 1214, 'both', 600);
    sets.addPeer('203.0.113.9', 70000, 'both', 600);
    sets.lockClient('198.51.100.5', 0);
    sets.addPeer('2001:db8::7', 3531, 'both', 600);
    // A transport is text in the storefile and on the wire; a cast stands for a bad one that got through.
    sets.addPeer('203.0.113.9', 1214, 'sctp' as Transport, 600);
    sets.removePeer('203.0.113.9', 0, 'any' as Transport);
    await sets.flush();
    expect(ipset.children).toHaveLength(0);
    expect(sets.stats).toMatchObject({ failed: 5, skipped: 1, applied: 0 });
    expect(errors).toEqual([
      "addPeer: '203.0.113.300' is not an IP address",
      '203.0.113.9: port 70000 is not 0 (whole address) or a port number',
      '198.51.100.5: timeout 0 s must be > 0',
      "203.0.113.9: transport 'sctp' is not tcp, udp or both",
      "203.0.113.9: transport 'any' is not tcp, udp or both",
    ]);
  });

  it('re-runs a failed batch without the line ipset named, so one bad line loses nothing else', async () => {
    const ipset = new FakeIpset();
    ipset.respond = (lines) => {
      const bad = lines.findIndex((line) => line.includes('203.0.113.2 '));
      return bad < 0 ? { code: 0, stdout: '', stderr: '' } : { code: 1, stdout: '', stderr: `ipset v7.17: Error in line ${bad + 1}: Element cannot be added to the set: it's already added\n` };
    };
    const { sets, errors } = kernelSets(ipset);
    for (let i = 1; i <= 4; i++) sets.addPeer(`203.0.113.${i}`, 0, 'both', 600);
    await sets.flush();
    expect(ipset.children.map((child) => child.lines.length)).toEqual([4, 3]);
    expect(sets.stats).toMatchObject({ applied: 3, failed: 1, retries: 1, children: 2 });
    expect(errors[1]).toBe("ipset rejected 'add p2pwall-peer-ip4 203.0.113.2 timeout 600': Element cannot be added to the set: it's already added");
  });

  it('falls back to one child per command when ipset names no line, and survives ipset not starting', async () => {
    const ipset = new FakeIpset();
    ipset.respond = (lines) => (lines.some((line) => line.includes('.2 ')) ? { code: 1, stdout: '', stderr: 'ipset v7.17: Kernel error received: Operation not permitted\n' } : { code: 0, stdout: '', stderr: '' });
    const { sets } = kernelSets(ipset);
    for (let i = 1; i <= 3; i++) sets.lockClient(`198.51.100.${i}`, 60);
    await sets.flush();
    expect(ipset.children.map((child) => child.lines.length)).toEqual([3, 1, 1, 1]);
    expect(sets.stats).toMatchObject({ applied: 2, failed: 1 });

    ipset.respond = () => new Error('cannot run ipset restore -exist: spawn ipset ENOENT');
    sets.lockClient('198.51.100.9', 60);
    await sets.flush();
    expect(sets.stats).toMatchObject({ applied: 2, failed: 2 });
  });

  it('sheds past maxPending waiting entries, counting every command and logging a few lines with the count', async () => {
    const ipset = new FakeIpset();
    const { sets, errors } = kernelSets(ipset, { maxPending: 100, maxBatch: 1000 });
    for (let i = 0; i < 1000; i++) sets.addPeer(`198.18.${i >> 8}.${i & 255}`, 0, 'both', 600);
    // A waiting entry can still be changed while the queue is full.
    sets.removePeer('198.18.0.5', 0, 'both');
    await sets.flush();
    expect(sets.stats).toMatchObject({ applied: 100, shed: 900, errorLinesSuppressed: 895 });
    expect(ipset.lines).toContain('del p2pwall-peer-ip4 198.18.0.5');
    expect(errors).toHaveLength(5);
    expect(errors[4]).toBe('100 entries already wait for ipset (limit 100); shed 5 commands so far');
  });

  it('logs at most a burst of lines of one kind per interval, then says how many it left out', () => {
    let now = 0;
    const lines: string[] = [];
    const errorLines = new ErrorLines((line) => lines.push(line), 2, 10_000, () => now);
    for (let i = 0; i < 10; i++) errorLines.report('full', `full ${i}`);
    errorLines.report('other', 'other');
    now = 10_000;
    errorLines.report('full', 'full again');
    expect(lines).toEqual(['full 0', 'full 1', 'other', 'full again (8 more like it were not logged in the 10 s before)']);
    expect(errorLines.suppressed).toBe(8);
  });

  it('plans retries: the named line, or every line of a set that is missing', () => {
    const lines = ['add a 1 timeout 1\n', 'add b 2 timeout 1\n', 'del a 3\n', 'add c 4 timeout 1\n'];
    expect(planRetry(lines, 'ipset v7.17: Error in line 4: Syntax error\n')).toEqual({ rejected: [{ line: 'add c 4 timeout 1', reason: 'Syntax error' }], remaining: lines.slice(0, 3) });
    expect(planRetry(lines, 'ipset v7.17: Error in line 1: The set with the given name does not exist\n')).toEqual({
      rejected: [
        { line: 'add a 1 timeout 1', reason: 'The set with the given name does not exist' },
        { line: 'del a 3', reason: 'The set with the given name does not exist' },
      ],
      remaining: [lines[1], lines[3]],
    });
    expect(planRetry(lines, 'ipset v7.17: Error in line 3: Hash is full, cannot add more elements\n')?.remaining).toHaveLength(3);
    expect(planRetry(lines, 'ipset v7.17: Syntax error: bad\n')).toBeNull();
    expect(planRetry(lines, 'ipset v7.17: Error in line 9: ?\n')).toBeNull();
  });
});

/** `ipset list NAME` members as { entry: timeout }. */
async function members(netns: Netns, set: string): Promise<Map<string, number>> {
  const { stdout } = await netns.exec('ipset', ['list', set]);
  const list = stdout.split('Members:\n')[1] ?? '';
  return new Map(
    list
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [entry, word, timeout] = line.split(' ');
        expect(word).toBe('timeout');
        return [entry!, Number(timeout)];
      }),
  );
}

describe.skipIf(netnsSkipReason() !== null)(titleWithSkipReason('KernelSets in a network namespace'), () => {
  let netns: Netns;
  let children: number;
  let runner: CommandRunner;
  beforeEach(async () => {
    netns = await createNetns('sets');
    await ensureSets(kernelSetSpecs('p2pwall', [4, 6]), netns.runner);
    children = 0;
    runner = {
      run: (command, args, options) => {
        children++;
        return netns.runner.run(command, args, options);
      },
    };
  });
  afterEach(async () => {
    await netns.dispose();
  });

  it('puts 300 peers and a lock into the sets, with their timeouts, in a handful of children', async () => {
    const { sets, errors } = kernelSets(runner);
    for (let i = 0; i < 200; i++) sets.addPeer(`203.0.113.${i}`, 1214 + (i % 3), 'both', 3600);
    for (let i = 0; i < 50; i++) sets.addPeer(`198.18.0.${i}`, 0, 'both', 600);
    for (let i = 0; i < 50; i++) sets.addPeer(`2001:db8::${(i + 1).toString(16)}`, 3531, 'both', 7 * 86_400);
    sets.lockClient('198.51.100.5', 120);
    await sets.flush();
    expect(errors).toEqual([]);
    expect(children).toBeLessThanOrEqual(3);
    // 200 + 50 peers as ip:port take two entries each (tcp, udp), 50 whole addresses one, the lock one.
    expect(sets.stats).toMatchObject({ applied: 551, failed: 0, pending: 0 });

    const endpoints = await members(netns, 'p2pwall-peer-ep4');
    expect(endpoints.size).toBe(400);
    expect(endpoints.get('203.0.113.7,udp:1215')).toBeGreaterThan(3590);
    expect((await members(netns, 'p2pwall-peer-ip4')).get('198.18.0.49')).toBeGreaterThan(590);
    const v6 = await members(netns, 'p2pwall-peer-ep6');
    expect(v6.size).toBe(100);
    expect(v6.get('2001:db8::32,tcp:3531')).toBeGreaterThan(7 * 86_400 - 10);
    const locks = await members(netns, 'p2pwall-lock4');
    expect([...locks.keys()]).toEqual(['198.51.100.5']);
    expect(locks.get('198.51.100.5')).toBeGreaterThan(110);

    sets.unlockClient('198.51.100.5');
    sets.removePeer('203.0.113.7', 1215, 'both');
    await sets.flush();
    expect((await members(netns, 'p2pwall-lock4')).size).toBe(0);
    expect((await members(netns, 'p2pwall-peer-ep4')).size).toBe(398);
  });

  it('puts each transport of a peer into its own entries and sets, and removes only those', async () => {
    const { sets, errors } = kernelSets(runner);
    sets.addPeer('203.0.113.21', 1214, 'tcp', 600);
    sets.addPeer('203.0.113.22', 1214, 'udp', 600);
    sets.addPeer('203.0.113.23', 0, 'both', 600);
    sets.addPeer('203.0.113.24', 0, 'tcp', 600);
    sets.addPeer('203.0.113.25', 0, 'udp', 600);
    // One address blocked whole for TCP and for UDP separately: two sets, two timeouts.
    sets.addPeer('198.18.0.1', 0, 'tcp', 600);
    sets.addPeer('198.18.0.1', 0, 'udp', 1200);
    sets.addPeer('2001:db8::21', 0, 'tcp', 600);
    sets.addPeer('2001:db8::22', 3531, 'udp', 600);
    await sets.flush();
    expect(errors).toEqual([]);
    const keys = async (set: string): Promise<string[]> => [...(await members(netns, set)).keys()].sort();
    expect(await keys('p2pwall-peer-ep4')).toEqual(['203.0.113.21,tcp:1214', '203.0.113.22,udp:1214']);
    expect(await keys('p2pwall-peer-ip4')).toEqual(['203.0.113.23']);
    expect(await keys('p2pwall-peer-ipt4')).toEqual(['198.18.0.1', '203.0.113.24']);
    expect(await keys('p2pwall-peer-ipu4')).toEqual(['198.18.0.1', '203.0.113.25']);
    expect((await members(netns, 'p2pwall-peer-ipu4')).get('198.18.0.1')).toBeGreaterThan(1190);
    expect((await members(netns, 'p2pwall-peer-ipt4')).get('198.18.0.1')).toBeLessThanOrEqual(600);
    expect(await keys('p2pwall-peer-ipt6')).toEqual(['2001:db8::21']);
    expect(await keys('p2pwall-peer-ep6')).toEqual(['2001:db8::22,udp:3531']);

    // Removing one transport leaves the other's entry of the same address.
    sets.removePeer('198.18.0.1', 0, 'udp');
    sets.removePeer('203.0.113.22', 1214, 'udp');
    await sets.flush();
    expect(await keys('p2pwall-peer-ipu4')).toEqual(['203.0.113.25']);
    expect(await keys('p2pwall-peer-ipt4')).toEqual(['198.18.0.1', '203.0.113.24']);
    expect(await keys('p2pwall-peer-ep4')).toEqual(['203.0.113.21,tcp:1214']);
    expect(sets.stats).toMatchObject({ failed: 0, pending: 0 });
  });

  it('loses only the bad entries: invalid ones are refused, a line ipset rejects fails alone', async () => {
    // A set gone from under the sensor (someone ran `ipset destroy`): ipset itself refuses the line.
    await netns.exec('ipset', ['destroy', 'p2pwall-lock6']);
    const { sets, errors } = kernelSets(runner);
    sets.addPeer('203.0.113.1', 1214, 'both', 600);
    sets.addPeer('203.0.113.2', 70000, 'both', 600);
    sets.lockClient('2001:db8::5', 600);
    sets.addPeer('not-an-address', 1214, 'both', 600);
    sets.addPeer('203.0.113.3', 0, 'both', 600);
    sets.lockClient('198.51.100.5', 600);
    await sets.flush();
    expect(sets.stats).toMatchObject({ applied: 4, failed: 3, retries: 1 });
    expect(errors.filter((message) => message.startsWith('ipset rejected'))).toEqual(["ipset rejected 'add p2pwall-lock6 2001:db8::5 timeout 600': The set with the given name does not exist"]);
    expect([...(await members(netns, 'p2pwall-peer-ep4')).keys()].sort()).toEqual(['203.0.113.1,tcp:1214', '203.0.113.1,udp:1214']);
    expect([...(await members(netns, 'p2pwall-peer-ip4')).keys()]).toEqual(['203.0.113.3']);
    expect([...(await members(netns, 'p2pwall-lock4')).keys()]).toEqual(['198.51.100.5']);
    expect(children).toBe(2);
  });

  it('loads a shared blocklist of 200,000 peers whole: every entry reaches the kernel, none shed', async () => {
    const { sets, errors } = kernelSets(runner);
    const peers = 200_000;
    const started = performance.now();
    for (let i = 0; i < peers; i++) {
      // 131,072 addresses of the benchmark range 198.18.0.0/15, then the next port.
      const address = i & 0x1ffff;
      sets.addPeer(`198.${18 + (address >> 16)}.${(address >> 8) & 255}.${address & 255}`, 1024 + (i >> 17), 'both', 3600);
    }
    await sets.flush();
    const seconds = (performance.now() - started) / 1000;
    const inKernel = parseSetSummary((await netns.exec('ipset', ['list', '-t', 'p2pwall-peer-ep4'])).stdout).entries;
    console.log(`${peers} peers: ${inKernel} entries in ${seconds.toFixed(1)} s, ${children} children; stats ${JSON.stringify(sets.stats)}; ${errors.length} error lines`);
    expect(inKernel).toBe(2 * peers);
    const endpoints = (await sets.readFill()).find((set) => set.name === 'p2pwall-peer-ep4');
    expect(endpoints).toEqual({ name: 'p2pwall-peer-ep4', entries: 2 * peers, maxEntries: 2_097_152 });
    expect(sets.stats).toMatchObject({ applied: 2 * peers, failed: 0, shed: 0, pending: 0 });
    expect(errors).toEqual([]);
  }, 120_000);

  it('reports a full set in a few lines with counts, and its fill against maxelem', async () => {
    await netns.exec('ipset', ['destroy', 'p2pwall-peer-ip4']);
    await netns.exec('ipset', ['create', 'p2pwall-peer-ip4', 'hash:ip', 'family', 'inet', 'timeout', '0', 'maxelem', '1000']);
    const { sets, errors } = kernelSets(runner);
    for (let i = 0; i < 5000; i++) sets.addPeer(`198.18.${i >> 8}.${i & 255}`, 0, 'both', 600);
    sets.addPeer('203.0.113.1', 1214, 'tcp', 600);
    await sets.flush();
    console.log(`full set: ${errors.length} error lines; stats ${JSON.stringify(sets.stats)}`);
    expect(sets.stats).toMatchObject({ applied: 1001, failed: 4000, shed: 0, pending: 0 });
    expect(errors.length).toBeLessThanOrEqual(3);
    expect(errors.join('\n')).toMatch(/4,?000 .*p2pwall-peer-ip4.*[Hh]ash is full/s);
    expect((await sets.readFill()).find((set) => set.name === 'p2pwall-peer-ip4')).toEqual({ name: 'p2pwall-peer-ip4', entries: 1000, maxEntries: 1000 });
    expect([...(await members(netns, 'p2pwall-peer-ep4')).keys()]).toEqual(['203.0.113.1,tcp:1214']);
  }, 60_000);
});
