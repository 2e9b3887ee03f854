import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transport } from '@p2pwall/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installRules, installScript, parseTableListing, removeRules, removeScript, showRules, splitRuleLine } from '../../src/enforce/iptables.js';
import { KernelSets } from '../../src/enforce/kernel-sets.js';
import {
  allSetNames,
  DEFAULT_KERNEL_POLICY,
  KernelPolicyError,
  formatRuleset,
  generateFamilyRuleset,
  generateRules,
  kernelNames,
  type KernelPolicy,
} from '../../src/enforce/rules.js';
import {
  createNetns,
  createRoutedLab,
  LAB,
  netnsSkipReason,
  reachability,
  startEchoServer,
  startUdpEchoServer,
  titleWithSkipReason,
  tryConnect,
  tryUdpEcho,
  type Netns,
} from '../support/netns.js';

const policy = (changes: Partial<KernelPolicy> = {}): KernelPolicy => ({ ...structuredClone(DEFAULT_KERNEL_POLICY), ...changes });
const lines = (changes: Partial<KernelPolicy> = {}, family: 4 | 6 = 4): string[] => formatRuleset(generateFamilyRuleset(policy(changes), family));

/** The defaults, exactly as `iptables -t security -S` prints them back. */
const DEFAULT_IPV4 = [
  '-N P2PWALL',
  '-A P2PWALL -m mark --mark 0x10000000/0x50000000 -g P2PWALL-ACCEPTED',
  '-A P2PWALL -m connmark --mark 0x20000000/0x20000000 -m statistic --mode random --probability 0.75000000000 -j RETURN',
  '-A P2PWALL -m set --match-set p2pwall-net4 dst -j P2PWALL-NET',
  '-A P2PWALL -m set --match-set p2pwall-net4 src -j P2PWALL-NET',
  '-A P2PWALL -p tcp -m set --match-set p2pwall-nett4 dst -j P2PWALL-NET',
  '-A P2PWALL -p tcp -m set --match-set p2pwall-nett4 src -j P2PWALL-NET',
  '-A P2PWALL -p udp -m set --match-set p2pwall-netu4 dst -j P2PWALL-NET',
  '-A P2PWALL -p udp -m set --match-set p2pwall-netu4 src -j P2PWALL-NET',
  '-A P2PWALL -m set --match-set p2pwall-peer-ep4 dst,dst -j P2PWALL-PEER',
  '-A P2PWALL -m set --match-set p2pwall-peer-ep4 src,src -j P2PWALL-PEER',
  '-A P2PWALL -m set --match-set p2pwall-peer-ip4 dst -j P2PWALL-PEER',
  '-A P2PWALL -m set --match-set p2pwall-peer-ip4 src -j P2PWALL-PEER',
  '-A P2PWALL -p tcp -m set --match-set p2pwall-peer-ipt4 dst -j P2PWALL-PEER',
  '-A P2PWALL -p tcp -m set --match-set p2pwall-peer-ipt4 src -j P2PWALL-PEER',
  '-A P2PWALL -p udp -m set --match-set p2pwall-peer-ipu4 dst -j P2PWALL-PEER',
  '-A P2PWALL -p udp -m set --match-set p2pwall-peer-ipu4 src -j P2PWALL-PEER',
  '-A P2PWALL -p tcp -m conntrack --ctstate NEW -m set --match-set p2pwall-lock4 src -m tcp --dport 1024:65535 -j DROP',
  '-A P2PWALL -m connmark --mark 0x20000000/0x20000000 -j RETURN',
  '-A P2PWALL -m conntrack --ctdir ORIGINAL -m connbytes --connbytes 0:8 --connbytes-mode packets --connbytes-dir original -j NFQUEUE --queue-num 0 --queue-bypass',
  '-A P2PWALL -m conntrack --ctdir REPLY -m connbytes --connbytes 0:8 --connbytes-mode packets --connbytes-dir reply -j NFQUEUE --queue-num 0 --queue-bypass',
  '-N P2PWALL-PEER',
  '-A P2PWALL-PEER -m conntrack --ctstate NEW -m mark --mark 0x0/0x50000000 -j MARK --set-xmark 0x40000000/0x40000000',
  '-A P2PWALL-PEER -m conntrack --ctstate NEW -m mark --mark 0x40000000/0x50000000 -j NFQUEUE --queue-num 0',
  '-A P2PWALL-PEER -j CONNMARK --set-xmark 0x0/0x20000000',
  '-A P2PWALL-PEER -j DROP',
  '-N P2PWALL-ACCEPTED',
  '-A P2PWALL-ACCEPTED -m mark --mark 0x20000000/0x20000000 -j CONNMARK --set-xmark 0x20000000/0x20000000',
  '-A P2PWALL-ACCEPTED -j MARK --set-xmark 0x0/0x30000000',
  '-N P2PWALL-NET',
  '-A P2PWALL-NET -m set --match-set p2pwall-netx4 dst -j RETURN',
  '-A P2PWALL-NET -m set --match-set p2pwall-netx4 src -j RETURN',
  '-A P2PWALL-NET -m set --match-set p2pwall-netxep4 dst,dst -j RETURN',
  '-A P2PWALL-NET -m set --match-set p2pwall-netxep4 src,src -j RETURN',
  '-A P2PWALL-NET -j CONNMARK --set-xmark 0x0/0x20000000',
  '-A P2PWALL-NET -j DROP',
  '-A FORWARD -m comment --comment p2pwall -j P2PWALL',
];

/** A line of the IPv4 ruleset as the IPv6 one has it: the same sets of family 6. */
const asIpv6 = (line: string): string => line.replace(/(peer-ep|peer-ip[tu]?|lock|netxep|netx|net[tu]?)4/, '$16');

describe('rule generation', () => {
  it('generates the default ruleset for IPv4 and IPv6 in the security table', () => {
    expect(lines()).toEqual(DEFAULT_IPV4);
    expect(lines({}, 6)).toEqual(DEFAULT_IPV4.map(asIpv6));
    expect(generateRules(policy()).map((ruleset) => [ruleset.family, ruleset.table])).toEqual([[4, 'security'], [6, 'security']]);
    expect(generateRules(policy({ ipv6: false })).map((ruleset) => ruleset.family)).toEqual([4]);
  });

  it('has no DROP rule at all in monitor mode, and still queues', () => {
    const monitor = lines({ monitor: true });
    expect(monitor.filter((line) => line.includes('DROP'))).toEqual([]);
    expect(monitor.filter((line) => line.includes('NFQUEUE'))).toHaveLength(2);
    expect(monitor.some((line) => line.includes('-g P2PWALL-ACCEPTED'))).toBe(true);
  });

  it('matches TCP only in the set rules under -n (dropUdp false)', () => {
    const setRules = lines({ dropUdp: false }).filter((line) => line.startsWith('-A P2PWALL ') && line.includes('--match-set'));
    // Networks for both and for TCP, endpoints, whole addresses for both, whole addresses for TCP (two directions each), the lock.
    expect(setRules).toHaveLength(11);
    for (const line of setRules) expect(line).toMatch(/^-A P2PWALL -p tcp /);
    expect(setRules.some((line) => line.includes('udp') || line.includes('peer-ipu4') || line.includes('netu4'))).toBe(false);
  });

  it('looks at the whole-address sets of one transport only for packets of that protocol', () => {
    const wholeAddress = lines().filter((line) => /peer-ip[tu]?4/.test(line));
    expect(wholeAddress).toEqual([
      // Blocked for both: every IP protocol, as a whole address always was.
      '-A P2PWALL -m set --match-set p2pwall-peer-ip4 dst -j P2PWALL-PEER',
      '-A P2PWALL -m set --match-set p2pwall-peer-ip4 src -j P2PWALL-PEER',
      '-A P2PWALL -p tcp -m set --match-set p2pwall-peer-ipt4 dst -j P2PWALL-PEER',
      '-A P2PWALL -p tcp -m set --match-set p2pwall-peer-ipt4 src -j P2PWALL-PEER',
      '-A P2PWALL -p udp -m set --match-set p2pwall-peer-ipu4 dst -j P2PWALL-PEER',
      '-A P2PWALL -p udp -m set --match-set p2pwall-peer-ipu4 src -j P2PWALL-PEER',
    ]);
    expect(lines({ monitor: true }).some((line) => /peer-ip[tu]4/.test(line))).toBe(false);
  });

  it('keeps every set name within ipset\'s 31 characters, even with the longest prefix', () => {
    const longest = 'p'.repeat(16);
    const names = allSetNames(longest);
    expect(names).toHaveLength(20);
    expect(names).toContain(`${longest}-netxep6`);
    expect(names).toContain(`${longest}-peer-ipt4`);
    expect(names).toContain(`${longest}-peer-ipu6`);
    expect(Math.max(...names.map((name) => name.length))).toBeLessThanOrEqual(31);
    expect(kernelNames(longest).sets[6]).toEqual({
      peerEndpoints: `${longest}-peer-ep6`,
      peerAddresses: `${longest}-peer-ip6`,
      peerTcpAddresses: `${longest}-peer-ipt6`,
      peerUdpAddresses: `${longest}-peer-ipu6`,
      locks: `${longest}-lock6`,
      networks: `${longest}-net6`,
      tcpNetworks: `${longest}-nett6`,
      udpNetworks: `${longest}-netu6`,
      networkExceptions: `${longest}-netx6`,
      networkExceptionEndpoints: `${longest}-netxep6`,
    });
  });

  it('sends opening packets to and from learned peers to the sensor without --queue-bypass, then drops the rest', () => {
    const peer = lines().filter((line) => line.includes('P2PWALL-PEER'));
    expect(peer).toEqual([
      '-A P2PWALL -m set --match-set p2pwall-peer-ep4 dst,dst -j P2PWALL-PEER',
      '-A P2PWALL -m set --match-set p2pwall-peer-ep4 src,src -j P2PWALL-PEER',
      '-A P2PWALL -m set --match-set p2pwall-peer-ip4 dst -j P2PWALL-PEER',
      '-A P2PWALL -m set --match-set p2pwall-peer-ip4 src -j P2PWALL-PEER',
      '-A P2PWALL -p tcp -m set --match-set p2pwall-peer-ipt4 dst -j P2PWALL-PEER',
      '-A P2PWALL -p tcp -m set --match-set p2pwall-peer-ipt4 src -j P2PWALL-PEER',
      '-A P2PWALL -p udp -m set --match-set p2pwall-peer-ipu4 dst -j P2PWALL-PEER',
      '-A P2PWALL -p udp -m set --match-set p2pwall-peer-ipu4 src -j P2PWALL-PEER',
      '-N P2PWALL-PEER',
      // Queued with the peer bit, which no verdict takes away: not again once the sensor
      // accepted it (it comes back with both bits), and dropped.
      '-A P2PWALL-PEER -m conntrack --ctstate NEW -m mark --mark 0x0/0x50000000 -j MARK --set-xmark 0x40000000/0x40000000',
      '-A P2PWALL-PEER -m conntrack --ctstate NEW -m mark --mark 0x40000000/0x50000000 -j NFQUEUE --queue-num 0',
      // The connection is clean no more: its later packets all meet the sets.
      '-A P2PWALL-PEER -j CONNMARK --set-xmark 0x0/0x20000000',
      '-A P2PWALL-PEER -j DROP',
    ]);
    // Fail-open or fail-closed, a learned peer is never let through by a queue nobody listens on.
    expect(lines({ failOpen: false }).filter((line) => line.startsWith('-A P2PWALL-PEER'))).toEqual(peer.filter((line) => line.startsWith('-A P2PWALL-PEER')));
    expect(lines({ queues: [2, 3] })).toContain('-A P2PWALL-PEER -m conntrack --ctstate NEW -m mark --mark 0x40000000/0x50000000 -j NFQUEUE --queue-balance 2:3');
    // Monitor mode: the chain exists (so a mode switch converges) but nothing jumps to it.
    const monitor = lines({ monitor: true });
    expect(monitor).toContain('-N P2PWALL-PEER');
    expect(monitor.filter((line) => line.includes('P2PWALL-PEER'))).toEqual(['-N P2PWALL-PEER']);
  });

  it('lets most packets of clean connections skip the set rules, and makes a connection a DROP of ours met clean no more', () => {
    const skipRule = (changes: Partial<KernelPolicy> = {}): string[] => lines(changes).filter((line) => line.includes('-m statistic'));
    // Before every set rule, right after the accepted packets' goto.
    expect(lines()[2]).toBe('-A P2PWALL -m connmark --mark 0x20000000/0x20000000 -m statistic --mode random --probability 0.75000000000 -j RETURN');
    expect(lines().findIndex((line) => line.includes('--match-set'))).toBe(3);
    expect(skipRule({ cleanCheckPercent: 10 })).toEqual(['-A P2PWALL -m connmark --mark 0x20000000/0x20000000 -m statistic --mode random --probability 0.89999999991 -j RETURN']);
    expect(skipRule({ cleanCheckPercent: 99, marks: { accepted: 0x1, clean: 0x2, peer: 0x4 } })).toEqual(['-A P2PWALL -m connmark --mark 0x2/0x2 -m statistic --mode random --probability 0.00999999978 -j RETURN']);
    // 100: every packet meets the sets, as before; monitor mode has no set rules to skip.
    expect(skipRule({ cleanCheckPercent: 100 })).toEqual([]);
    expect(skipRule({ monitor: true })).toEqual([]);
    for (const chain of ['P2PWALL-PEER', 'P2PWALL-NET']) {
      const rules = lines().filter((line) => line.startsWith(`-A ${chain} `));
      expect(rules.slice(-2)).toEqual([`-A ${chain} -j CONNMARK --set-xmark 0x0/0x20000000`, `-A ${chain} -j DROP`]);
    }
    expect(() => generateRules(policy({ cleanCheckPercent: 0 }))).toThrow(/cleanCheckPercent: must be a whole number from 1 to 100, got 0/);
    expect(() => generateRules(policy({ cleanCheckPercent: 12.5 }))).toThrow(/cleanCheckPercent/);
  });

  it('leaves the time-lock rules out when the time-lock is off', () => {
    expect(lines({ timeLock: false }).some((line) => line.includes('lock4'))).toBe(false);
  });

  it('queues to one queue with --queue-num and to consecutive queues with --queue-balance', () => {
    const connbytesQueues = (changes: Partial<KernelPolicy>) => lines(changes).filter((line) => line.includes('NFQUEUE') && line.includes('--connbytes'));
    expect(connbytesQueues({ queues: [2] })).toHaveLength(2);
    expect(connbytesQueues({ queues: [2] }).every((line) => line.endsWith('-j NFQUEUE --queue-num 2 --queue-bypass'))).toBe(true);
    expect(connbytesQueues({ queues: [0, 1, 2] }).every((line) => line.endsWith('-j NFQUEUE --queue-balance 0:2 --queue-bypass'))).toBe(true);
  });

  it('fails closed without --queue-bypass when failOpen is false', () => {
    const queued = lines({ failOpen: false }).filter((line) => line.includes('NFQUEUE'));
    expect(queued).toHaveLength(3);
    for (const line of queued) expect(line).toMatch(/-j NFQUEUE --queue-num 0$/);
  });

  it('exempts open ports above 1023 from the time-lock with multiport, once each', () => {
    const lock = lines({ openPorts: [53, 80, 1214, 443, 3531, 1214] }).filter((line) => line.includes('lock4'));
    expect(lock[0]).toBe('-A P2PWALL -p tcp -m conntrack --ctstate NEW -m set --match-set p2pwall-lock4 src -m tcp --dport 1024:65535 -m multiport ! --dports 1214,3531 -j DROP');
    // The sensor judges a locked client's UDP itself, so its ping flood still teaches peers.
    expect(lock).toHaveLength(1);
  });

  it('uses the prefix, the marks, connbytes and the hooks it is given', () => {
    const custom = lines({ prefix: 'gw2', marks: { accepted: 0x1, clean: 0x80000000, peer: 0x4 }, connbytes: 3, hooks: { forward: true, input: true, output: true } });
    expect(custom[1]).toBe('-A GW2 -m mark --mark 0x1/0x5 -g GW2-ACCEPTED');
    expect(custom).toContain('-A GW2-PEER -m conntrack --ctstate NEW -m mark --mark 0x0/0x5 -j MARK --set-xmark 0x4/0x4');
    expect(custom).toContain('-A GW2-ACCEPTED -j MARK --set-xmark 0x0/0x80000001');
    expect(custom).toContain('-A GW2-ACCEPTED -m mark --mark 0x80000000/0x80000000 -j CONNMARK --set-xmark 0x80000000/0x80000000');
    expect(custom.filter((line) => line.includes('--connbytes 0:3 '))).toHaveLength(2);
    expect(custom.filter((line) => line.includes('-m comment --comment gw2 -j GW2'))).toEqual([
      '-A FORWARD -m comment --comment gw2 -j GW2',
      '-A INPUT -m comment --comment gw2 -j GW2',
      '-A OUTPUT -m comment --comment gw2 -j GW2',
    ]);
  });

  it('rejects more than 15 open ports above 1023 (the multiport limit)', () => {
    const ports = Array.from({ length: 16 }, (_, i) => 2000 + i);
    expect(() => generateRules(policy({ openPorts: ports }))).toThrow(KernelPolicyError);
    expect(() => generateRules(policy({ openPorts: ports }))).toThrow(/at most 15 ports above 1023/);
    expect(() => generateRules(policy({ openPorts: [...ports.slice(0, 15), 22, 80] }))).not.toThrow();
  });

  it('rejects queue numbers that are not consecutive, and other bad policies, with clear messages', () => {
    expect(() => generateRules(policy({ queues: [0, 2] }))).toThrow(/queues: must be one number or consecutive ascending numbers for --queue-balance, got \[0, 2\]/);
    expect(() => generateRules(policy({ queues: [2, 1] }))).toThrow(/consecutive/);
    expect(() => generateRules(policy({ queues: [] }))).toThrow(/at least one queue/);
    expect(() => generateRules(policy({ marks: { accepted: 3, clean: 4, peer: 8 } }))).toThrow(/marks.accepted: must be a single bit/);
    expect(() => generateRules(policy({ marks: { accepted: 4, clean: 4, peer: 8 } }))).toThrow(/different bits/);
    expect(() => generateRules(policy({ marks: { accepted: 4, clean: 2, peer: 6 } }))).toThrow(/marks.peer: must be a single bit/);
    expect(() => generateRules(policy({ marks: { accepted: 4, clean: 2, peer: 2 } }))).toThrow(/different bits/);
    expect(() => generateRules(policy({ prefix: 'P2P wall' }))).toThrow(/prefix/);
    expect(() => generateRules(policy({ prefix: 'a-very-long-prefix-name' }))).toThrow(/prefix/);
    expect(() => generateRules(policy({ hooks: { forward: false, input: false, output: false } }))).toThrow(/hooks/);
    expect(() => generateRules(policy({ connbytes: 0 }))).toThrow(/connbytes/);
  });
});

describe('restore scripts', () => {
  const names = kernelNames('p2pwall');

  it('splits iptables -S lines, quotes included', () => {
    expect(splitRuleLine('-A FORWARD -m comment --comment "operator: \\"keep\\" me" -j ACCEPT')).toEqual(['-A', 'FORWARD', '-m', 'comment', '--comment', 'operator: "keep" me', '-j', 'ACCEPT']);
  });

  it('keeps one jump per enabled hook, deletes the others and inserts missing ones, in one transaction', () => {
    const snapshot = parseTableListing(
      [
        '-P FORWARD ACCEPT',
        '-N P2PWALL',
        '-A INPUT -m comment --comment p2pwall -j P2PWALL',
        '-A FORWARD -p icmp -j ACCEPT',
        '-A FORWARD -m comment --comment p2pwall -j P2PWALL',
        '-A FORWARD -m comment --comment "operator" -j P2PWALL',
        '-A FORWARD -m comment --comment p2pwall -j P2PWALL',
      ].join('\n'),
    );
    const script = installScript(generateFamilyRuleset(policy({ hooks: { forward: true, input: false, output: true } }), 4), names, snapshot).split('\n');
    expect(script[0]).toBe('*security');
    expect(script.slice(1, 5)).toEqual([':P2PWALL - [0:0]', ':P2PWALL-PEER - [0:0]', ':P2PWALL-ACCEPTED - [0:0]', ':P2PWALL-NET - [0:0]']);
    expect(script.filter((line) => line.startsWith('-D') || line.startsWith('-I'))).toEqual(['-D FORWARD 4', '-D FORWARD 3', '-D INPUT 1', '-I OUTPUT 1 -m comment --comment p2pwall -j P2PWALL']);
    expect(script.at(-2)).toBe('COMMIT');
  });

  it('removes whatever part exists, and nothing when nothing of ours is there', () => {
    expect(removeScript('security', 4, names, parseTableListing('-P FORWARD ACCEPT\n-A FORWARD -j ACCEPT\n'))).toBeNull();
    expect(removeScript('security', 4, names, parseTableListing('-N P2PWALL-ACCEPTED\n-A P2PWALL-ACCEPTED -j MARK --set-xmark 0x0/0x30000000\n'))).toBe(
      '*security\n-F P2PWALL-ACCEPTED\n-X P2PWALL-ACCEPTED\nCOMMIT\n',
    );
    expect(() => removeScript('security', 4, names, parseTableListing('-N P2PWALL\n-N MINE\n-A MINE -j P2PWALL\n'))).toThrow(/MINE rule 1/);
  });
});

/** iptables-save without its timestamped comment lines and counters. */
async function save(netns: Netns, family: 4 | 6): Promise<string> {
  const { stdout } = await netns.exec(family === 4 ? 'iptables-save' : 'ip6tables-save', []);
  return stdout
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');
}

async function setNames(netns: Netns): Promise<string[]> {
  const { stdout } = await netns.exec('ipset', ['list', '-n']);
  return stdout.split('\n').filter(Boolean).sort();
}

/** iptables-save lists our chains by name: P2PWALL, P2PWALL-ACCEPTED, P2PWALL-PEER. */
const chainRules = (chain: string): string[] => DEFAULT_IPV4.filter((line) => line.startsWith(`-A ${chain} `));
const SECURITY_TABLE_WITH_DEFAULTS = (family: 4 | 6): string =>
  [
    '*security',
    ':INPUT ACCEPT',
    ':FORWARD ACCEPT',
    ':OUTPUT ACCEPT',
    ':P2PWALL -',
    ':P2PWALL-ACCEPTED -',
    ':P2PWALL-NET -',
    ':P2PWALL-PEER -',
    '-A FORWARD -m comment --comment p2pwall -j P2PWALL',
    ...['P2PWALL', 'P2PWALL-ACCEPTED', 'P2PWALL-NET', 'P2PWALL-PEER'].flatMap(chainRules).map((line) => (family === 6 ? asIpv6(line) : line)),
    'COMMIT',
    '',
  ].join('\n');

describe.skipIf(netnsSkipReason() !== null)(titleWithSkipReason('rules in a network namespace'), () => {
  let netns: Netns;
  beforeEach(async () => {
    netns = await createNetns('rules');
  });
  afterEach(async () => {
    await netns.dispose();
  });

  it('installs exactly our chains and jumps, and installing twice changes nothing', async () => {
    const report = await installRules(policy(), { runner: netns.runner });
    expect(report).toMatchObject({ table: 'security', families: [4, 6], iptables: 'nf_tables' });
    expect(await save(netns, 4)).toBe(SECURITY_TABLE_WITH_DEFAULTS(4));
    expect(await save(netns, 6)).toBe(SECURITY_TABLE_WITH_DEFAULTS(6));
    expect(await setNames(netns)).toEqual([
      'p2pwall-lock4',
      'p2pwall-lock6',
      'p2pwall-net4',
      'p2pwall-net6',
      'p2pwall-nett4',
      'p2pwall-nett6',
      'p2pwall-netu4',
      'p2pwall-netu6',
      'p2pwall-netx4',
      'p2pwall-netx6',
      'p2pwall-netxep4',
      'p2pwall-netxep6',
      'p2pwall-peer-ep4',
      'p2pwall-peer-ep6',
      'p2pwall-peer-ip4',
      'p2pwall-peer-ip6',
      'p2pwall-peer-ipt4',
      'p2pwall-peer-ipt6',
      'p2pwall-peer-ipu4',
      'p2pwall-peer-ipu6',
    ]);
    const { stdout: udpAddressHeaders } = await netns.exec('ipset', ['list', '-t', 'p2pwall-peer-ipu6']);
    expect(udpAddressHeaders).toMatch(/Type: hash:ip\n/);
    expect(udpAddressHeaders).toMatch(/family inet6 .*maxelem 2097152 timeout 0/);
    const { stdout: setHeaders } = await netns.exec('ipset', ['list', '-t', 'p2pwall-peer-ep6']);
    expect(setHeaders).toMatch(/Type: hash:ip,port/);
    expect(setHeaders).toMatch(/family inet6 .*maxelem 2097152 timeout 0/);

    // Entries survive a second install.
    await netns.exec('ipset', ['add', 'p2pwall-peer-ip4', '203.0.113.9', 'timeout', '600']);
    await installRules(policy(), { runner: netns.runner });
    expect(await save(netns, 4)).toBe(SECURITY_TABLE_WITH_DEFAULTS(4));
    expect(await save(netns, 6)).toBe(SECURITY_TABLE_WITH_DEFAULTS(6));
    expect((await netns.exec('ipset', ['test', 'p2pwall-peer-ip4', '203.0.113.9'])).code).toBe(0);
  });

  it("leaves the operator's own rules and chains alone, on install and on remove", async () => {
    const operator = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD DROP [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':OPERATOR - [0:0]',
      '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A FORWARD -s 198.51.100.0/24 -m comment --comment "inside out" -j OPERATOR',
      '-A OPERATOR -p tcp -m tcp --dport 80 -j ACCEPT',
      'COMMIT',
      '*security',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      '-A FORWARD -p icmp -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n');
    await netns.exec('iptables-restore', [], { input: operator });
    await netns.exec('ip6tables-restore', [], { input: operator.replace('198.51.100.0/24', '2001:db8:1::/64') });
    const before4 = await save(netns, 4);
    const before6 = await save(netns, 6);

    await installRules(policy(), { runner: netns.runner });
    const installed = (await save(netns, 4)).split('\n');
    for (const line of before4.split('\n')) expect(installed).toContain(line);
    // Ours first in FORWARD, the operator's rule after it.
    const forward = installed.filter((line) => line.startsWith('-A FORWARD'));
    expect(forward).toContain('-A FORWARD -m comment --comment p2pwall -j P2PWALL');
    expect(forward.indexOf('-A FORWARD -m comment --comment p2pwall -j P2PWALL')).toBeLessThan(forward.indexOf('-A FORWARD -p icmp -j ACCEPT'));

    const removed = await removeRules({ prefix: 'p2pwall' }, { runner: netns.runner });
    expect(removed.tables).toEqual(['IPv4 security', 'IPv6 security']);
    expect(removed.sets).toHaveLength(20);
    expect(await save(netns, 4)).toBe(before4);
    expect(await save(netns, 6)).toBe(before6);
  });

  it('removes every trace, and again after a crash left only part of an install', async () => {
    await installRules(policy({ hooks: { forward: true, input: true, output: true } }), { runner: netns.runner });
    // A second, stray jump: remove deletes all copies.
    await netns.exec('iptables', ['-t', 'security', '-A', 'FORWARD', '-m', 'comment', '--comment', 'p2pwall', '-j', 'P2PWALL']);
    await removeRules({ prefix: 'p2pwall' }, { runner: netns.runner });
    for (const family of [4, 6] as const) expect(await save(netns, family)).not.toMatch(/p2pwall/i);
    expect(await setNames(netns)).toEqual([]);

    // Sets but no chain (the crash came between the two).
    await netns.exec('ipset', ['create', 'p2pwall-peer-ep4', 'hash:ip,port', 'timeout', '0']);
    await netns.exec('ipset', ['create', 'p2pwall-peer-ipu4', 'hash:ip', 'timeout', '0']);
    await netns.exec('ipset', ['create', 'p2pwall-lock6', 'hash:ip', 'family', 'inet6', 'timeout', '0']);
    // And an accepted chain with no main chain, in the other table.
    await netns.exec('iptables', ['-t', 'filter', '-N', 'P2PWALL-ACCEPTED']);
    const report = await removeRules({ prefix: 'p2pwall' }, { runner: netns.runner });
    expect(report).toEqual({ tables: ['IPv4 filter'], sets: ['p2pwall-peer-ep4', 'p2pwall-peer-ipu4', 'p2pwall-lock6'] });
    expect(await save(netns, 4)).not.toMatch(/p2pwall/i);
    expect(await setNames(netns)).toEqual([]);

    // Nothing at all: still fine.
    expect(await removeRules({ prefix: 'p2pwall' }, { runner: netns.runner })).toEqual({ tables: [], sets: [] });
  });

  it('converges an install made with other settings: hooks, IPv6 and table', async () => {
    await installRules(policy({ hooks: { forward: true, input: true, output: false } }), { runner: netns.runner });
    await installRules(policy({ ipv6: false }), { runner: netns.runner });
    expect(await save(netns, 4)).toBe(SECURITY_TABLE_WITH_DEFAULTS(4));
    expect(await save(netns, 6)).not.toMatch(/p2pwall/i);
    expect(await setNames(netns)).toEqual(['p2pwall-lock4', 'p2pwall-net4', 'p2pwall-nett4', 'p2pwall-netu4', 'p2pwall-netx4', 'p2pwall-netxep4', 'p2pwall-peer-ep4', 'p2pwall-peer-ip4', 'p2pwall-peer-ipt4', 'p2pwall-peer-ipu4']);

    await installRules(policy({ ipv6: false, table: 'filter', monitor: true }), { runner: netns.runner });
    const saved = await save(netns, 4);
    expect(saved).toContain('*filter\n:INPUT ACCEPT\n:FORWARD ACCEPT\n:OUTPUT ACCEPT\n:P2PWALL -\n:P2PWALL-ACCEPTED -\n:P2PWALL-NET -\n:P2PWALL-PEER -\n-A FORWARD -m comment --comment p2pwall -j P2PWALL\n');
    expect(saved).not.toMatch(/DROP/);
    expect(saved.split('*filter')[0]).not.toMatch(/P2PWALL/);
    await removeRules({ prefix: 'p2pwall' }, { runner: netns.runner });
    expect(await save(netns, 4)).not.toMatch(/p2pwall/i);
  });

  it('shows the chains with counters, the jumps, the sets and the queues', async () => {
    await installRules(policy(), { runner: netns.runner });
    await netns.exec('ipset', ['add', 'p2pwall-peer-ep4', '203.0.113.9,tcp:1214', 'timeout', '600']);
    const text = await showRules({ prefix: 'p2pwall' }, { runner: netns.runner, readQueueStats: () => [] });
    expect(text).toContain('IPv4 (iptables -t security):\n  -A FORWARD -m comment --comment p2pwall -j P2PWALL   [0 packets, 0 bytes]\n  -N P2PWALL\n');
    expect(text).toContain('IPv6 (ip6tables -t security):');
    expect(text).toContain('-A P2PWALL-ACCEPTED -j MARK --set-xmark 0x0/0x30000000   [0 packets, 0 bytes]');
    expect(text).toMatch(/p2pwall-peer-ep4 +hash:ip,port +1 entries/);
    expect(text).toMatch(/p2pwall-lock6 +hash:ip +0 entries/);
    expect(text).toMatch(/p2pwall-peer-ipt4 +hash:ip +0 entries/);
    expect(text).toMatch(/p2pwall-peer-ipu6 +hash:ip +0 entries/);
    expect(text).toContain('Queues (nfnetlink_queue):\n  none bound: no sensor is listening');
    expect(text).toContain('-A P2PWALL-PEER -m conntrack --ctstate NEW -m mark --mark 0x40000000/0x50000000 -j NFQUEUE --queue-num 0   [0 packets, 0 bytes]');
    expect(text).toMatch(/\n {2}P2PWALL-PEER: attempts to or from a learned peer: opening packets \(conntrack NEW\) go to the sensor/);
    await removeRules({ prefix: 'p2pwall' }, { runner: netns.runner });
    const empty = await showRules({ prefix: 'p2pwall' }, { runner: netns.runner, readQueueStats: () => [] });
    expect(empty).toContain('IPv4: no p2pwall chains or jumps');
    expect(empty).toMatch(/p2pwall-lock4 +absent/);
    expect(empty).toMatch(/p2pwall-peer-ipu4 +absent/);
  });
});

describe.skipIf(netnsSkipReason() !== null)(titleWithSkipReason('real packets through a gateway namespace'), () => {
  it('drops learned peers and locked clients, passes the rest with no sensor listening (fail-open)', async () => {
    const lab = await createRoutedLab();
    try {
      await startEchoServer(lab.server, [80, 1214, 8080, 8443]);
      await installRules(policy({ openPorts: [53, 80, 443, 8443] }), { runner: lab.gateway.runner });
      const sets = new KernelSets({ prefix: 'p2pwall', ipv6: true, runner: lab.gateway.runner, onError: (message) => expect.fail(message) });
      const v4 = (port: number): string => `${LAB.server4}:${port}`;
      const v6 = (port: number): string => `[${LAB.server6}]:${port}`;

      // Nobody listens on queue 0: --queue-bypass lets the queued packets through.
      expect(reachability(await tryConnect(lab.client, [v4(8080), v6(8080)]))).toEqual({ [v4(8080)]: true, [v6(8080)]: true });

      sets.addPeer(LAB.server4, 1214, 'both', 600);
      sets.addPeer(LAB.server6, 1214, 'both', 600);
      await sets.flush();
      expect(reachability(await tryConnect(lab.client, [v4(1214), v4(8080), v6(1214), v6(8080)]))).toEqual({
        [v4(1214)]: false,
        [v4(8080)]: true,
        [v6(1214)]: false,
        [v6(8080)]: true,
      });

      // A locked client keeps ports up to 1023 and the open ports, loses new connections to the rest.
      sets.lockClient(LAB.client4, 600);
      await sets.flush();
      expect(reachability(await tryConnect(lab.client, [v4(80), v4(8443), v4(8080), v6(8080)]))).toEqual({
        [v4(80)]: true,
        [v4(8443)]: true,
        [v4(8080)]: false,
        [v6(8080)]: true,
      });
      sets.unlockClient(LAB.client4);
      sets.removePeer(LAB.server4, 1214, 'both');
      await sets.flush();
      expect(reachability(await tryConnect(lab.client, [v4(8080), v4(1214)]))).toEqual({ [v4(8080)]: true, [v4(1214)]: true });
    } finally {
      await lab.dispose();
    }
  });

  it('blocks a peer only for the transport it was learned for, at ip:port and as a whole address', async () => {
    const lab = await createRoutedLab();
    try {
      // Our own prefix (the longest allowed: the set names must still fit ipset's 31 characters).
      const prefix = 'p2pwt-transports';
      // One outside address per case, so a whole-address peer blocks nothing of another case.
      const peers = {
        endpointUdp: '203.0.113.3',
        endpointTcp: '203.0.113.4',
        endpointBoth: '203.0.113.5',
        wholeUdp: '203.0.113.6',
        wholeTcp: '203.0.113.7',
        wholeBoth: '203.0.113.8',
      } as const;
      for (const ip of Object.values(peers)) await lab.server.exec('ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      const v4 = (ip: string, port: number): string => `${ip}:${port}`;
      const v6 = (port: number): string => `[${LAB.server6}]:${port}`;
      const targets = [
        ...Object.values(peers).flatMap((ip) => [v4(ip, 1214), v4(ip, 8080)]),
        v4(LAB.server4, 1214),
        v6(1214),
        v6(8080),
      ];
      await startEchoServer(lab.server, [1214, 8080]);
      await startUdpEchoServer(lab.server, targets);
      const probe = async (): Promise<{ tcp: Record<string, boolean>; udp: Record<string, boolean> }> => {
        const [tcp, udp] = await Promise.all([tryConnect(lab.client, targets), tryUdpEcho(lab.client, targets)]);
        return { tcp: reachability(tcp), udp: reachability(udp) };
      };
      const everywhere = (ok: boolean): Record<string, boolean> => Object.fromEntries(targets.map((target) => [target, ok]));
      const peerChainPackets = async (): Promise<number> => {
        const { stdout } = await lab.gateway.exec('iptables', ['-t', 'security', '-S', `${prefix.toUpperCase()}-PEER`, '-v']);
        return [...stdout.matchAll(/^-A .* -c (\d+) \d+/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
      };

      // Fail-open and no sensor listening: whatever is not a learned peer passes the queue.
      await installRules(policy({ prefix }), { runner: lab.gateway.runner });
      expect(await probe()).toEqual({ tcp: everywhere(true), udp: everywhere(true) });

      const sets = new KernelSets({ prefix, ipv6: true, runner: lab.gateway.runner, onError: (message) => expect.fail(message) });
      const learned: Array<[ip: string, port: number, transport: Transport]> = [
        [peers.endpointUdp, 1214, 'udp'],
        [peers.endpointTcp, 1214, 'tcp'],
        [peers.endpointBoth, 1214, 'both'],
        [peers.wholeUdp, 0, 'udp'],
        [peers.wholeTcp, 0, 'tcp'],
        [peers.wholeBoth, 0, 'both'],
        [LAB.server6, 0, 'udp'],
      ];
      for (const [ip, port, transport] of learned) sets.addPeer(ip, port, transport, 600);
      await sets.flush();
      const blocked = await probe();
      expect(blocked.udp).toEqual({
        ...everywhere(true),
        [v4(peers.endpointUdp, 1214)]: false,
        [v4(peers.endpointBoth, 1214)]: false,
        [v4(peers.wholeUdp, 1214)]: false,
        [v4(peers.wholeUdp, 8080)]: false,
        [v4(peers.wholeBoth, 1214)]: false,
        [v4(peers.wholeBoth, 8080)]: false,
        [v6(1214)]: false,
        [v6(8080)]: false,
      });
      expect(blocked.tcp).toEqual({
        ...everywhere(true),
        [v4(peers.endpointTcp, 1214)]: false,
        [v4(peers.endpointBoth, 1214)]: false,
        [v4(peers.wholeTcp, 1214)]: false,
        [v4(peers.wholeTcp, 8080)]: false,
        [v4(peers.wholeBoth, 1214)]: false,
        [v4(peers.wholeBoth, 8080)]: false,
      });
      // The kernel's peer path dropped them: their opening packets went to a queue nobody listens on.
      expect(await peerChainPackets()).toBeGreaterThan(0);

      // ftwall -n: the kernel no longer looks at UDP; TCP peers stay blocked.
      await installRules(policy({ prefix, dropUdp: false }), { runner: lab.gateway.runner });
      const tcpOnly = await probe();
      expect(tcpOnly.udp).toEqual(everywhere(true));
      expect(tcpOnly.tcp).toEqual(blocked.tcp);

      await installRules(policy({ prefix }), { runner: lab.gateway.runner });
      for (const [ip, port, transport] of learned) sets.removePeer(ip, port, transport);
      await sets.flush();
      expect(await probe()).toEqual({ tcp: everywhere(true), udp: everywhere(true) });
      expect(sets.stats).toMatchObject({ failed: 0, pending: 0 });
    } finally {
      await lab.dispose();
    }
  });

  it('queues only the opening packets of attempts to learned peers, and drops them in the kernel while no sensor listens', async () => {
    const lab = await createRoutedLab();
    try {
      await startEchoServer(lab.server, [1214, 1215]);
      // What reached the server: counting rules (no target) in its own INPUT.
      await lab.server.exec('iptables-restore', [], {
        input: [
          '*filter',
          ':INPUT ACCEPT [0:0]',
          '-A INPUT -p tcp -m tcp --dport 1214 --tcp-flags SYN,ACK SYN',
          '-A INPUT -p udp -m udp --dport 1214',
          '-A INPUT -p tcp -m tcp --dport 1215 --tcp-flags SYN,ACK SYN',
          'COMMIT',
          '',
        ].join('\n'),
      });
      // Fail-open: the connbytes rules carry --queue-bypass, the peer chain must not.
      await installRules(policy({ ipv6: false }), { runner: lab.gateway.runner });
      // Port 1215: as if a sensor had accepted the SYN the peer chain queued (it comes back with
      // the peer bit it was queued with and the accepted bit).
      await lab.gateway.exec('iptables-restore', ['--noflush'], { input: '*mangle\n-A FORWARD -p tcp -m tcp --dport 1215 -j MARK --set-xmark 0x50000000/0x50000000\nCOMMIT\n' });
      const sets = new KernelSets({ prefix: 'p2pwall', ipv6: false, runner: lab.gateway.runner, onError: (message) => expect.fail(message) });
      sets.addPeer(LAB.server4, 1214, 'both', 600);
      sets.addPeer(LAB.server4, 1215, 'both', 600);
      await sets.flush();

      const target = (port: number): string => `${LAB.server4}:${port}`;
      expect(reachability(await tryConnect(lab.client, [target(1214), target(1215)], 1500))).toEqual({ [target(1214)]: false, [target(1215)]: false });
      const datagrams = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
        const next = () => (n++ < 3 ? s.send('p2pwall', 1214, '${LAB.server4}', () => setTimeout(next, 20)) : s.close()); next();`;
      await lab.client.exec(process.execPath, ['-e', datagrams]);

      const counts = async (netns: Netns, table: string, chain: string): Promise<number[]> => {
        const { stdout } = await netns.exec('iptables', ['-t', table, '-S', chain, '-v']);
        return [...stdout.matchAll(/^-A .* -c (\d+) \d+/gm)].map((match) => Number(match[1]));
      };
      // Nothing reached the server: with --queue-bypass the queue would have accepted them.
      expect(await counts(lab.server, 'filter', 'INPUT')).toEqual([0, 0, 0]);
      // Queued: the SYN and its retransmission (one second later) to 1214, and all three
      // datagrams (a dropped datagram never confirms its conntrack entry, so each one is NEW).
      // The SYNs to 1215 carried both bits: not taken for accepted packets, dropped in the
      // kernel, never queued.
      const [queued, dropped] = await counts(lab.gateway, 'security', 'P2PWALL-PEER');
      expect(queued).toBeGreaterThanOrEqual(2 + 3);
      expect(queued).toBeLessThanOrEqual(3 + 3);
      expect(dropped).toBeGreaterThanOrEqual(2);
    } finally {
      await lab.dispose();
    }
  });

  it("keeps the operator's FORWARD policy in force while queued packets bypass an absent sensor", async () => {
    const lab = await createRoutedLab();
    try {
      await startEchoServer(lab.server, [8080, 9000]);
      // The operator allows port 8080 only.
      await lab.gateway.exec('iptables-restore', [], {
        input: '*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -p tcp -m tcp --dport 8080 -j ACCEPT\nCOMMIT\n',
      });
      await installRules(policy({ ipv6: false }), { runner: lab.gateway.runner });
      const target = (port: number): string => `${LAB.server4}:${port}`;
      expect(reachability(await tryConnect(lab.client, [target(8080), target(9000)]))).toEqual({ [target(8080)]: true, [target(9000)]: false });
    } finally {
      await lab.dispose();
    }
  });

  it('cuts off a clean connection once its peer is learned, within a few packets, though most clean packets skip the sets', async () => {
    const lab = await createRoutedLab();
    const signals = mkdtempSync(join(tmpdir(), 'p2pwall-clean-'));
    const go = join(signals, 'peer-learned');
    try {
      await startEchoServer(lab.server, [9000]);
      await installRules(policy({ ipv6: false }), { runner: lab.gateway.runner });
      // Stand-in for the sensor's verdict on the opening SYN: accepted and clean.
      await lab.gateway.exec('iptables-restore', ['--noflush'], {
        input: ['*mangle', '-A FORWARD -p tcp -m tcp --dport 9000 --tcp-flags SYN,ACK SYN -j MARK --set-xmark 0x30000000/0x30000000', 'COMMIT', ''].join('\n'),
      });
      // One connection: 30 echoes while the server is nobody's peer, then (once the test has put
      // the server into the endpoint set) echoes until the first that gets no answer in 0.5 s.
      const script = [
        'import json, os, socket, sys, time',
        `s = socket.create_connection(('${LAB.server4}', 9000), timeout=2)`,
        's.settimeout(0.5)',
        'def echo(i):',
        "    msg = b'm%05d' % i",
        '    s.sendall(msg)',
        "    got = b''",
        '    try:',
        '        while len(got) < len(msg):',
        '            data = s.recv(64)',
        '            if not data: return False',
        '            got += data',
        '        return True',
        '    except socket.timeout:',
        '        return False',
        'before = sum(echo(i) for i in range(30))',
        "print('ready', flush=True)",
        `while not os.path.exists('${go}'): time.sleep(0.01)`,
        'after = 0',
        'while after < 200 and echo(1000 + after): after += 1',
        "print(json.dumps({'before': before, 'after': after}), flush=True)",
      ].join('\n');
      const client = await lab.client.background('python3', ['-c', script], 'ready');
      const { stdout: counted } = await lab.gateway.exec('iptables', ['-t', 'security', '-S', 'P2PWALL', '-v']);
      const skipped = Number(/-m statistic --mode random --probability 0\.75000000000 -c (\d+) \d+ -j RETURN/.exec(counted)?.[1]);
      await lab.gateway.exec('ipset', ['add', 'p2pwall-peer-ep4', `${LAB.server4},tcp:9000`]);
      writeFileSync(go, '');
      const deadline = Date.now() + 10_000;
      while (!client.output().includes('after') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const result = JSON.parse(client.output().split('\n').find((line) => line.startsWith('{')) ?? 'null') as { before: number; after: number } | null;
      // Clean: every echo came back, and most of the connection's 60-odd packets skipped the sets.
      expect(result?.before, client.output()).toBe(30);
      expect(skipped).toBeGreaterThan(0);
      // Each echo is at least two packets, each meeting the sets with probability 1/4: more than
      // 20 echoes pass with probability below 0.5625^20 (1 in 100,000).
      expect(result!.after).toBeLessThanOrEqual(20);
      // The DROP cleared the clean bit, so every later packet meets the sets.
      const { stdout: conntrack } = await lab.gateway.exec('cat', ['/proc/net/nf_conntrack']);
      expect(conntrack.split('\n').find((line) => line.includes('dport=9000 '))).toMatch(/ mark=0 /);
    } finally {
      rmSync(signals, { recursive: true, force: true });
      await lab.dispose();
    }
  });

  it('fails closed, returns packets the sensor accepted, and lets clean connections skip the queue', async () => {
    const lab = await createRoutedLab();
    try {
      await startEchoServer(lab.server, [8080, 9000, 9001]);
      await installRules(policy({ ipv6: false, failOpen: false }), { runner: lab.gateway.runner });
      // Stand-in for the sensor's NF_REPEAT verdict: the opening SYN arrives marked as accepted
      // (port 9000: and clean; port 9001: accepted only), the operator's own bit 0x1 kept alongside.
      await lab.gateway.exec('iptables-restore', ['--noflush'], {
        input: [
          '*mangle',
          '-A FORWARD -p tcp -m tcp --dport 9000 --tcp-flags SYN,ACK SYN -j MARK --set-xmark 0x30000001/0x30000001',
          '-A FORWARD -p tcp -m tcp --dport 9001 --tcp-flags SYN,ACK SYN -j MARK --set-xmark 0x10000001/0x10000001',
          '-A POSTROUTING -p tcp -m tcp --dport 9000 --tcp-flags SYN,ACK SYN -m mark --mark 0x1/0x30000001',
          '-A POSTROUTING -m mark ! --mark 0x0/0x30000000',
          'COMMIT',
          '',
        ].join('\n'),
      });
      const target = (port: number): string => `${LAB.server4}:${port}`;
      // 8080: queued, nobody listens, fail-closed: gone. 9000: the SYN returns through the
      // accepted path and marks the connection clean, so the SYN-ACK and the rest skip the
      // queue. 9001: accepted but not clean: the SYN-ACK is queued and lost.
      expect(reachability(await tryConnect(lab.client, [target(8080), target(9000), target(9001)]))).toEqual({
        [target(8080)]: false,
        [target(9000)]: true,
        [target(9001)]: false,
      });
      const { stdout: conntrack } = await lab.gateway.exec('cat', ['/proc/net/nf_conntrack']);
      const clean = conntrack.split('\n').find((line) => line.includes('dport=9000 '));
      expect(clean).toMatch(/ mark=536870912 /); // 0x20000000: the clean bit, nothing else
      // After our chain the packet mark holds the operator's bit only.
      const { stdout: counters } = await lab.gateway.exec('iptables', ['-t', 'mangle', '-S', 'POSTROUTING', '-v']);
      expect(counters).toMatch(/-A POSTROUTING -p tcp -m tcp --dport 9000 .* -c 1 \d+\n/);
      expect(counters).toMatch(/-A POSTROUTING -m mark ! --mark 0x0\/0x30000000 -c 0 0\n/);
    } finally {
      await lab.dispose();
    }
  });
});
