/**
 * The kernel half of the sensor, as data: which chains, rules, jumps and sets p2pwall installs.
 * Pure: a KernelPolicy in, argument lists out. iptables.ts and ipset.ts put them into the kernel.
 *
 * Every rule is written exactly as iptables-nft prints it back with `iptables -S` (option order,
 * `--set-xmark` for `--or-mark`/`--and-mark`), so an installed chain can be compared line by line
 * with what the policy asks for.
 */
import type { Transport } from '@p2pwall/common';
import { EnforceError } from './command-runner.js';

export type IpFamily = 4 | 6;

/** The built-in chains that can jump into ours. */
export type HookChain = 'FORWARD' | 'INPUT' | 'OUTPUT';

/**
 * The table that holds our chains.
 *
 * `security` (the default) is hooked after `filter` on INPUT, FORWARD and OUTPUT (priority 50
 * against 0). That order matters for fail-open: when nobody listens on a queue, `--queue-bypass`
 * *accepts* the packet, which ends the whole table's chain for it. In `filter`, that would skip
 * the operator's own filter rules for the first packets of every connection, so a fail-open
 * gateway without a running sensor would let through connections its firewall forbids (measured:
 * FORWARD policy DROP, a port the operator never allowed, and the connection completed). In
 * `security`, the operator's filter rules have already judged the packet before we queue it.
 * `filter` stays available for hosts whose iptables has no security table (legacy without
 * CONFIG_SECURITY); with it, prefer failOpen = false.
 */
export type KernelTable = 'security' | 'filter';

export interface KernelPolicy {
  /** Names: chains `${PREFIX}`, `${PREFIX}-PEER` and `${PREFIX}-ACCEPTED` (upper case), sets `${prefix}-peer-ep4` etc. */
  prefix: string;
  /** Which built-in chains jump to ours. */
  hooks: { forward: boolean; input: boolean; output: boolean };
  /** Also ip6tables rules and inet6 sets. */
  ipv6: boolean;
  /** [n] queues with --queue-num n; several consecutive numbers spread flows with --queue-balance. */
  queues: number[];
  /** --queue-bypass on the queue rules: traffic passes while no sensor listens (fail-closed if false). */
  failOpen: boolean;
  /**
   * Packets of each direction of a connection that reach the sensor: the first N sent by the side
   * that opened it and the first N sent back (each queue rule pairs `--ctdir` with the same
   * `--connbytes-dir`; see directionQueueRule).
   */
  connbytes: number;
  /**
   * Single-bit masks: the packet mark the sensor sets on packets it accepts, on packets of flows
   * it judged clean, and the one the peer chain sets on an opening packet to or from a learned
   * peer before queueing it (whatever the sensor answers, that packet is dropped).
   */
  marks: { accepted: number; clean: number; peer: number };
  /** Ports a time-locked client may still reach; at most 15 above 1023 (iptables multiport limit). */
  openPorts: number[];
  /** Time-lock rules present (time-lock seconds > 0). */
  timeLock: boolean;
  /** false is ftwall -n: the kernel's peer rules look at TCP only (UDP peers stay in the sets, unenforced). */
  dropUdp: boolean;
  /** No DROP rules at all; sets are still filled and the queue rules stay. */
  monitor: boolean;
  /** Default 'security'; see KernelTable for why. */
  table?: KernelTable;
  /**
   * maxelem of every set. Default 2,097,152. A peer blocked for both transports at ip:port takes
   * two entries of the endpoint set (ip,tcp:port and ip,udp:port), one blocked for one transport
   * takes one; a whole-address peer takes one entry of the address set of its transport.
   */
  maxSetEntries?: number;
  /**
   * Of a clean connection's packets, the percentage that meet the set rules (1-100, default 25);
   * the rest RETURN at once. See cleanSkipRule: 100 checks every packet, as before.
   */
  cleanCheckPercent?: number;
}

export const DEFAULT_KERNEL_TABLE: KernelTable = 'security';
export const DEFAULT_MAX_SET_ENTRIES = 2_097_152;
export const DEFAULT_CLEAN_CHECK_PERCENT = 25;

export const DEFAULT_KERNEL_POLICY: Readonly<KernelPolicy> = Object.freeze({
  prefix: 'p2pwall',
  hooks: { forward: true, input: false, output: false },
  ipv6: true,
  queues: [0],
  failOpen: true,
  connbytes: 8,
  marks: { accepted: 0x10000000, clean: 0x20000000, peer: 0x40000000 },
  openPorts: [53, 80, 443, 123],
  timeLock: true,
  dropUdp: true,
  monitor: false,
});

export class KernelPolicyError extends EnforceError {}

export interface FamilySetNames {
  /** hash:ip,port — learned peers at one port, as ip,tcp:port and/or ip,udp:port (the entry names the transport). */
  peerEndpoints: string;
  /** hash:ip — peers blocked as a whole address for both transports: matches every IP protocol. */
  peerAddresses: string;
  /**
   * hash:ip — peers blocked as a whole address for TCP only, and for UDP only. A hash:ip entry
   * cannot carry a protocol, so each transport has its own set and the rule that looks at it
   * names the protocol (`-p tcp` / `-p udp`).
   */
  peerTcpAddresses: string;
  peerUdpAddresses: string;
  /** hash:ip — time-locked inside clients. */
  locks: string;
  /**
   * hash:net — outside networks an operator blocked (decisions add NET/LEN), for both transports,
   * TCP only and UDP only, like the whole-address sets.
   */
  networks: string;
  tcpNetworks: string;
  udpNetworks: string;
  /**
   * Exceptions inside blocked networks: allow entries of one address (hash:net, so an entry is a
   * /32 or /128) and of one endpoint (hash:ip,port, ip,tcp:port and ip,udp:port). Looked at only
   * by packets a network set matched (see networkChainRules).
   */
  networkExceptions: string;
  networkExceptionEndpoints: string;
}

export interface KernelNames {
  chain: string;
  /** Where packets to or from a learned peer go; see peerChainRules. */
  peerChain: string;
  /** Where packets the sensor accepted (NF_REPEAT with the accepted bit) go; see acceptedChainRules. */
  acceptedChain: string;
  /** Where packets to or from a blocked network go; see networkChainRules. */
  networkChain: string;
  /** The comment on our jumps, so an operator reading FORWARD sees whose rule it is. */
  comment: string;
  sets: Record<IpFamily, FamilySetNames>;
}

/**
 * Same rule as the sensor config's kernel.setPrefix; keeps set names under ipset's 31 characters
 * (the longest, `<16-char prefix>-peer-ipt4`, has 26).
 */
const PREFIX_PATTERN = /^[a-z][a-z0-9-]{0,15}$/;

export function kernelNames(prefix: string): KernelNames {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new KernelPolicyError(`prefix: must be a lower-case letter then up to 15 letters, digits or dashes, got '${prefix}'`);
  }
  const chain = prefix.toUpperCase();
  const sets = (family: IpFamily): FamilySetNames => ({
    peerEndpoints: `${prefix}-peer-ep${family}`,
    peerAddresses: `${prefix}-peer-ip${family}`,
    peerTcpAddresses: `${prefix}-peer-ipt${family}`,
    peerUdpAddresses: `${prefix}-peer-ipu${family}`,
    locks: `${prefix}-lock${family}`,
    networks: `${prefix}-net${family}`,
    tcpNetworks: `${prefix}-nett${family}`,
    udpNetworks: `${prefix}-netu${family}`,
    networkExceptions: `${prefix}-netx${family}`,
    networkExceptionEndpoints: `${prefix}-netxep${family}`,
  });
  return { chain, peerChain: `${chain}-PEER`, acceptedChain: `${chain}-ACCEPTED`, networkChain: `${chain}-NET`, comment: prefix, sets: { 4: sets(4), 6: sets(6) } };
}

/** The whole-address set that blocks a peer for `transport`. */
export function peerAddressSet(sets: FamilySetNames, transport: Transport): string {
  if (transport === 'tcp') return sets.peerTcpAddresses;
  if (transport === 'udp') return sets.peerUdpAddresses;
  return sets.peerAddresses;
}

/** The network set that blocks a network for `transport`. */
export function networkSet(sets: FamilySetNames, transport: Transport): string {
  if (transport === 'tcp') return sets.tcpNetworks;
  if (transport === 'udp') return sets.udpNetworks;
  return sets.networks;
}

/** The protocols of the endpoint-set entries (`ip,PROTO:port`) that block a peer for `transport`. */
export function peerEndpointProtocols(transport: Transport): ReadonlyArray<'tcp' | 'udp'> {
  return transport === 'both' ? ['tcp', 'udp'] : [transport];
}

/** Every set name a prefix can own, both families: what `remove` destroys and `show` lists. */
export function allSetNames(prefix: string): string[] {
  const { sets } = kernelNames(prefix);
  return [4, 6].flatMap((family) => Object.values(sets[family as IpFamily]));
}

const MULTIPORT_LIMIT = 15;
/** The time-lock only concerns destination ports above this (README: "Ports of 1023 and below stay open"). */
const HIGHEST_PRIVILEGED_PORT = 1023;

function isSingleBit(value: number): boolean {
  return Number.isInteger(value) && value > 0 && value <= 0xffffffff && (value & (value - 1)) === 0;
}

const hex = (value: number): string => `0x${(value >>> 0).toString(16)}`;
const maskMatch = (bit: number): string => `${hex(bit)}/${hex(bit)}`;

/** Open ports the multiport match must list: those a lock could block at all (above 1023), once each. */
export function lockExemptPorts(openPorts: readonly number[]): number[] {
  return [...new Set(openPorts.filter((port) => port > HIGHEST_PRIVILEGED_PORT))];
}

/** Throws KernelPolicyError naming the first problem. */
export function validateKernelPolicy(policy: KernelPolicy): void {
  kernelNames(policy.prefix);
  const { queues } = policy;
  if (queues.length === 0) throw new KernelPolicyError('queues: at least one queue number is needed');
  for (const queue of queues) {
    if (!Number.isInteger(queue) || queue < 0 || queue > 65535) throw new KernelPolicyError(`queues: ${queue} is not a queue number (0-65535)`);
  }
  if (queues.some((queue, i) => queue !== queues[0]! + i)) {
    throw new KernelPolicyError(`queues: must be one number or consecutive ascending numbers for --queue-balance, got [${queues.join(', ')}]`);
  }
  if (!Number.isInteger(policy.connbytes) || policy.connbytes < 1) throw new KernelPolicyError(`connbytes: must be a whole number of packets >= 1, got ${policy.connbytes}`);
  const { accepted, clean, peer } = policy.marks;
  if (!isSingleBit(accepted)) throw new KernelPolicyError(`marks.accepted: must be a single bit such as 0x10000000, got ${accepted}`);
  if (!isSingleBit(clean)) throw new KernelPolicyError(`marks.clean: must be a single bit such as 0x20000000, got ${clean}`);
  if (!isSingleBit(peer)) throw new KernelPolicyError(`marks.peer: must be a single bit such as 0x40000000, got ${peer}`);
  if (accepted === clean || accepted === peer || clean === peer) throw new KernelPolicyError('marks: accepted, clean and peer must be different bits');
  for (const port of policy.openPorts) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new KernelPolicyError(`openPorts: ${port} is not a port (1-65535)`);
  }
  const exempt = lockExemptPorts(policy.openPorts);
  if (exempt.length > MULTIPORT_LIMIT) {
    throw new KernelPolicyError(`openPorts: at most ${MULTIPORT_LIMIT} ports above ${HIGHEST_PRIVILEGED_PORT} (the iptables multiport limit), got ${exempt.length}`);
  }
  if (!policy.hooks.forward && !policy.hooks.input && !policy.hooks.output) {
    throw new KernelPolicyError('hooks: enable at least one of forward, input, output, or no packet ever reaches the rules');
  }
  const table = policy.table ?? DEFAULT_KERNEL_TABLE;
  if (table !== 'security' && table !== 'filter') throw new KernelPolicyError(`table: must be 'security' or 'filter', got '${String(table)}'`);
  const maxEntries = policy.maxSetEntries ?? DEFAULT_MAX_SET_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new KernelPolicyError(`maxSetEntries: must be a whole number >= 1, got ${maxEntries}`);
  const checkPercent = policy.cleanCheckPercent ?? DEFAULT_CLEAN_CHECK_PERCENT;
  if (!Number.isInteger(checkPercent) || checkPercent < 1 || checkPercent > 100) throw new KernelPolicyError(`cleanCheckPercent: must be a whole number from 1 to 100, got ${checkPercent}`);
}

/** `--queue-num n` or `--queue-balance a:b`, plus `--queue-bypass` when failing open. */
export function queueTarget(queues: readonly number[], failOpen: boolean): string[] {
  const first = queues[0]!;
  const last = queues[queues.length - 1]!;
  const target = queues.length === 1 ? ['--queue-num', String(first)] : ['--queue-balance', `${first}:${last}`];
  return ['-j', 'NFQUEUE', ...target, ...(failOpen ? ['--queue-bypass'] : [])];
}

export interface ChainRules {
  name: string;
  /** Each rule as the arguments that follow `-A <chain>`. */
  rules: string[][];
}

export interface Jump {
  hook: HookChain;
  /** The arguments that follow `-I <hook> 1` / `-D <hook>`. */
  rule: string[];
}

export interface FamilyRuleset {
  family: IpFamily;
  table: KernelTable;
  /** Our chains, in declaration order. */
  chains: ChainRules[];
  jumps: Jump[];
}

/**
 * Packets to or from a learned peer go to the peer chain, for the transport it is blocked for:
 *
 * - the endpoint set: its entries name the protocol (ip,tcp:port, ip,udp:port), so a peer
 *   blocked for one transport has only that entry and the set itself matches only that protocol;
 * - the whole-address sets: `peer-ip` (both transports) matches every IP protocol, as a whole
 *   address always did; `peer-ipt` and `peer-ipu` are looked at only by TCP and by UDP packets.
 *
 * One set look-up per rule, as a plain DROP would cost; a packet skips the look-ups of the other
 * protocol's rules at the `-p` test. The extra work of the peer chain is paid only by packets
 * that match a set.
 */
function peerJumpRules(policy: KernelPolicy, names: KernelNames, sets: FamilySetNames): string[][] {
  // Under -n (dropUdp false) the sets still hold udp entries; the rules just never look at UDP.
  const anyEnforcedProtocol = policy.dropUdp ? [] : ['-p', 'tcp'];
  const jump = (protocol: string[], set: string, directions: string): string[] => [...protocol, '-m', 'set', '--match-set', set, directions, '-j', names.peerChain];
  const rules = [
    jump(anyEnforcedProtocol, sets.peerEndpoints, 'dst,dst'),
    jump(anyEnforcedProtocol, sets.peerEndpoints, 'src,src'),
    jump(anyEnforcedProtocol, sets.peerAddresses, 'dst'),
    jump(anyEnforcedProtocol, sets.peerAddresses, 'src'),
    jump(['-p', 'tcp'], sets.peerTcpAddresses, 'dst'),
    jump(['-p', 'tcp'], sets.peerTcpAddresses, 'src'),
  ];
  if (policy.dropUdp) rules.push(jump(['-p', 'udp'], sets.peerUdpAddresses, 'dst'), jump(['-p', 'udp'], sets.peerUdpAddresses, 'src'));
  return rules;
}

/**
 * Packets to or from a blocked network go to the network chain, for the transport it is blocked
 * for, as peerJumpRules does for whole addresses (one set per transport; `-p` before the look-up).
 */
function networkJumpRules(policy: KernelPolicy, names: KernelNames, sets: FamilySetNames): string[][] {
  const anyEnforcedProtocol = policy.dropUdp ? [] : ['-p', 'tcp'];
  const jump = (protocol: string[], set: string, direction: string): string[] => [...protocol, '-m', 'set', '--match-set', set, direction, '-j', names.networkChain];
  const rules = [jump(anyEnforcedProtocol, sets.networks, 'dst'), jump(anyEnforcedProtocol, sets.networks, 'src'), jump(['-p', 'tcp'], sets.tcpNetworks, 'dst'), jump(['-p', 'tcp'], sets.tcpNetworks, 'src')];
  if (policy.dropUdp) rules.push(jump(['-p', 'udp'], sets.udpNetworks, 'dst'), jump(['-p', 'udp'], sets.udpNetworks, 'src'));
  return rules;
}

/**
 * A packet to or from a blocked network is dropped by the kernel, unless an allow entry names its
 * outside address or endpoint: then it RETURNs to the main chain and is judged like any packet
 * (peer sets, queue). Why not the peer chain's "queue the opening packet": a network block is an
 * operator's, not evidence the brain correlates, and its attempts are many (a /16 is 65,536
 * addresses); the kernel drops them without a userspace round trip, and the engine never sees them.
 * Why not ipset `nomatch` entries in the network sets for the exceptions: they cannot carry a port
 * (hash:net), and would have to be added to each transport's set; one exception set for addresses
 * and one for endpoints, read only by packets a network set matched, say the same for every case.
 */
function networkChainRules(policy: KernelPolicy, sets: FamilySetNames): string[][] {
  const skip = (set: string, directions: string): string[] => ['-m', 'set', '--match-set', set, directions, '-j', 'RETURN'];
  return [
    skip(sets.networkExceptions, 'dst'),
    skip(sets.networkExceptions, 'src'),
    skip(sets.networkExceptionEndpoints, 'dst,dst'),
    skip(sets.networkExceptionEndpoints, 'src,src'),
    forgetCleanRule(policy),
    ['-j', 'DROP'],
  ];
}

/**
 * A connection that meets a DROP of ours is clean no more: clearing the clean bit of its mark
 * makes every later packet of it meet the sets (no cleanSkipRule), so it stays cut off.
 */
function forgetCleanRule(policy: KernelPolicy): string[] {
  return ['-j', 'CONNMARK', '--set-xmark', `0x0/${hex(policy.marks.clean)}`];
}

/**
 * `--probability` as iptables prints it back: the kernel keeps round(p × 2^31) and
 * `iptables -S` prints that over 2^31 with 11 decimals.
 */
function statisticProbability(probability: number): string {
  return (Math.round(probability * 0x80000000) / 0x80000000).toFixed(11);
}

/**
 * Most packets of a connection judged clean RETURN before the set rules: each meets them with
 * probability cleanCheckPercent / 100, the rest skip a dozen set look-ups (what held bulk
 * throughput to 0.86 of no rules). A peer (or network) learned after its connection was judged
 * clean is still cut off: the first of the connection's packets that meets the sets is dropped
 * and clears the clean bit (forgetCleanRule), after which every packet meets them. At 25%, more
 * than n packets pass after the kernel set holds the peer with probability 0.75^n (10: 5.6%,
 * 20: 0.3%, 40: one in 100,000). Null at 100: every packet meets the sets.
 */
function cleanSkipRule(policy: KernelPolicy): string[] | null {
  const checkPercent = policy.cleanCheckPercent ?? DEFAULT_CLEAN_CHECK_PERCENT;
  if (checkPercent >= 100) return null;
  const skip = statisticProbability((100 - checkPercent) / 100);
  return ['-m', 'connmark', '--mark', maskMatch(policy.marks.clean), '-m', 'statistic', '--mode', 'random', '--probability', skip, '-j', 'RETURN'];
}

/**
 * A packet to or from a learned peer is always dropped; the question is only who drops it.
 *
 * 1. An opening packet (conntrack NEW: a SYN, a first datagram, and each retransmission of
 *    them, since a dropped packet never confirms its conntrack entry) goes to the sensor. The
 *    sensor knows the peer too (storefile, shared blocklist, its own learning), drops the packet
 *    itself and records the attempt as a flow with a drop verdict, which reaches the brain: its
 *    correlation (correlate/blocked-peers) needs to see which inside hosts keep trying blocked peers.
 *    Only the few opening packets of each attempt are queued, never a flow's later packets.
 *
 *    No `--queue-bypass`, whatever failOpen says: with it, a queue nobody listens on *accepts*
 *    the packet (it moves on to the next table, past the DROP below), and a stopped sensor would
 *    open the gateway to every learned peer. Without it the kernel drops the packet when no sensor
 *    listens: known peers stay blocked (fail-closed) while the sensor is away.
 *
 *    The packet is queued carrying the peer bit, which no verdict takes away (a verdict's mark is
 *    the packet's mark with bits added): the sensor answers it with a drop, and a packet it
 *    accepted anyway (a sensor of an older release, or a binding that kept no mark) comes back
 *    with both bits, is not taken for an accepted packet (mainChainRules), meets this chain again
 *    and is not queued again.
 * 2. Everything else to or from the peer is dropped by the kernel, and its connection is clean
 *    no more (forgetCleanRule).
 */
function peerChainRules(policy: KernelPolicy): string[][] {
  const { accepted, peer } = policy.marks;
  return [
    ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'mark', '--mark', `0x0/${hex(accepted | peer)}`, '-j', 'MARK', '--set-xmark', maskMatch(peer)],
    ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'mark', '--mark', `${hex(peer)}/${hex(accepted | peer)}`, ...queueTarget(policy.queues, false)],
    forgetCleanRule(policy),
    ['-j', 'DROP'],
  ];
}

function timeLockRules(policy: KernelPolicy, sets: FamilySetNames): string[][] {
  const exempt = lockExemptPorts(policy.openPorts);
  const multiport = exempt.length > 0 ? ['-m', 'multiport', '!', '--dports', exempt.join(',')] : [];
  // TCP only. A locked client's UDP must still reach the sensor: its node-ping flood to the
  // rest of its peer cache is how the sensor learns those peers (ftwall keeps clients in the UDP
  // mode for this), and the sensor drops those datagrams itself. A dropped datagram never
  // confirms its conntrack entry, so each one is queued again, whatever connbytes says.
  // ctstate NEW: connections open before the lock began are left alone (README, verdict 2). It
  // comes before the set: a packet of an established connection is done after one state test.
  return [
    [
      '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'NEW', '-m', 'set', '--match-set', sets.locks, 'src',
      '-m', 'tcp', '--dport', `${HIGHEST_PRIVILEGED_PORT + 1}:65535`, ...multiport, '-j', 'DROP',
    ],
  ];
}

/**
 * One queue rule per direction: `--ctdir` picks the packets travelling that way and
 * `--connbytes-dir` counts only them, so each direction gets its own first N packets.
 *
 * Why not one `--connbytes-dir both` rule: it counts both directions together, so a side that
 * sends fast (a burst of segments, a UDP reply stream) uses up the budget before the other side's
 * first payload, which detectors need (the encrypted handshake is 12 bytes out, 8 back). And why
 * not `--connbytes-dir original` + `reply` without `--ctdir`: each rule tests its direction's
 * counter whatever way the packet travels, so a one-sided flow (1 packet out, thousands back)
 * would stay queued for ever through the `original` rule.
 */
function directionQueueRule(policy: KernelPolicy, direction: 'ORIGINAL' | 'REPLY'): string[] {
  return [
    '-m', 'conntrack', '--ctdir', direction,
    '-m', 'connbytes', '--connbytes', `0:${policy.connbytes}`, '--connbytes-mode', 'packets', '--connbytes-dir', direction.toLowerCase(),
    ...queueTarget(policy.queues, policy.failOpen),
  ];
}

/**
 * Packets the sensor accepted come back through NF_REPEAT carrying the accepted bit (plus the
 * clean bit when the flow is judged clean). They are sent here with `-g` (goto), so falling off
 * the end of this chain returns straight to the built-in chain that jumped to ours: the packet
 * continues through the rest of it and is never `-j ACCEPT`ed by us.
 *
 * 1. clean: remember it in the connection mark, so the rest of the flow skips the queue
 *    (`--set-xmark C/C` is `--or-mark C`: other connmark bits are kept).
 * 2. clear both bits from the packet mark, so the operator's own mark matches (`--mark 1`, tc,
 *    policy routing, SNAT by mark) see the packet exactly as it came in. The sensor must set the
 *    packet's original mark plus our bits in its verdict, since a verdict mark replaces the mark.
 */
function acceptedChainRules(policy: KernelPolicy): string[][] {
  const { accepted, clean } = policy.marks;
  return [
    ['-m', 'mark', '--mark', maskMatch(clean), '-j', 'CONNMARK', '--set-xmark', maskMatch(clean)],
    ['-j', 'MARK', '--set-xmark', `0x0/${hex(accepted | clean)}`],
  ];
}

function mainChainRules(policy: KernelPolicy, names: KernelNames, family: IpFamily): string[][] {
  const sets = names.sets[family];
  const { accepted, peer } = policy.marks;
  // A packet the sensor accepted met the set and lock rules below on its way to the queue a
  // moment ago: coming back, it goes straight to the accepted chain, so each queued packet is
  // looked up in the sets once, not twice (the second pass cost the verdict more than the
  // re-injection itself). One that also carries the peer bit was queued by the peer chain and
  // goes on to meet it again (peerChainRules).
  const rules: string[][] = [['-m', 'mark', '--mark', `${hex(accepted)}/${hex(accepted | peer)}`, '-g', names.acceptedChain]];
  // Network and peer rules come before the clean mark's RETURN: a peer learned (or a network
  // blocked) after a flow was judged clean is still cut off; most clean packets skip them (cleanSkipRule).
  const skipClean = policy.monitor ? null : cleanSkipRule(policy);
  if (skipClean !== null) rules.push(skipClean);
  if (!policy.monitor) rules.push(...networkJumpRules(policy, names, sets), ...peerJumpRules(policy, names, sets));
  if (!policy.monitor && policy.timeLock) rules.push(...timeLockRules(policy, sets));
  rules.push(['-m', 'connmark', '--mark', maskMatch(policy.marks.clean), '-j', 'RETURN']);
  rules.push(directionQueueRule(policy, 'ORIGINAL'), directionQueueRule(policy, 'REPLY'));
  // Everything else falls off the end of the chain: RETURN to the built-in chain.
  return rules;
}

export function jumpRule(names: KernelNames): string[] {
  return ['-m', 'comment', '--comment', names.comment, '-j', names.chain];
}

export function enabledHooks(policy: KernelPolicy): HookChain[] {
  const hooks: HookChain[] = [];
  if (policy.hooks.forward) hooks.push('FORWARD');
  if (policy.hooks.input) hooks.push('INPUT');
  if (policy.hooks.output) hooks.push('OUTPUT');
  return hooks;
}

export function policyFamilies(policy: KernelPolicy): IpFamily[] {
  return policy.ipv6 ? [4, 6] : [4];
}

/** Our chains and jumps for one address family. Validates the policy. */
export function generateFamilyRuleset(policy: KernelPolicy, family: IpFamily): FamilyRuleset {
  validateKernelPolicy(policy);
  const names = kernelNames(policy.prefix);
  return {
    family,
    table: policy.table ?? DEFAULT_KERNEL_TABLE,
    // The main chain is declared first only for readability; restore declares all before any rule.
    // The peer chain exists in monitor mode too (empty, nothing jumps to it), so the set of chains
    // a prefix owns does not depend on the mode.
    chains: [
      { name: names.chain, rules: mainChainRules(policy, names, family) },
      { name: names.peerChain, rules: policy.monitor ? [] : peerChainRules(policy) },
      { name: names.acceptedChain, rules: acceptedChainRules(policy) },
      { name: names.networkChain, rules: policy.monitor ? [] : networkChainRules(policy, names.sets[family]) },
    ],
    jumps: enabledHooks(policy).map((hook) => ({ hook, rule: jumpRule(names) })),
  };
}

/** One ruleset per family the policy enables (IPv4, and IPv6 when enabled). */
export function generateRules(policy: KernelPolicy): FamilyRuleset[] {
  return policyFamilies(policy).map((family) => generateFamilyRuleset(policy, family));
}

/** A chain as `iptables -t TABLE -S CHAIN` prints it: `-N CHAIN`, then `-A CHAIN ...` per rule. */
export function formatChain(chain: ChainRules): string[] {
  return [`-N ${chain.name}`, ...chain.rules.map((rule) => `-A ${chain.name} ${rule.join(' ')}`)];
}

/** The whole ruleset of a family as `iptables -S` lines (chains, then jumps as `-A HOOK ...`). */
export function formatRuleset(ruleset: FamilyRuleset): string[] {
  return [...ruleset.chains.flatMap(formatChain), ...ruleset.jumps.map((jump) => `-A ${jump.hook} ${jump.rule.join(' ')}`)];
}
