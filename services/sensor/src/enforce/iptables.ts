import { checkKernelTools, EnforceError, localRunner, runChecked, type CommandRunner, type IptablesVariant } from './command-runner.js';
import { destroySets, ensureSets, kernelSetSpecs, summarizeSets, type KernelSetSpec } from './ipset.js';
import { readQueueStats, type QueueStats } from './queue-stats.js';
import {
  allSetNames,
  DEFAULT_KERNEL_TABLE,
  DEFAULT_MAX_SET_ENTRIES,
  generateFamilyRuleset,
  kernelNames,
  policyFamilies,
  validateKernelPolicy,
  type FamilyRuleset,
  type HookChain,
  type IpFamily,
  type KernelNames,
  type KernelPolicy,
  type KernelTable,
} from './rules.js';

const TABLES: readonly KernelTable[] = ['security', 'filter'];
const HOOKS: readonly HookChain[] = ['FORWARD', 'INPUT', 'OUTPUT'];
const FAMILIES: readonly IpFamily[] = [4, 6];

const iptablesCommand = (family: IpFamily): string => (family === 4 ? 'iptables' : 'ip6tables');
const restoreCommand = (family: IpFamily): string => (family === 4 ? 'iptables-restore' : 'ip6tables-restore');
const familyLabel = (family: IpFamily): string => (family === 4 ? 'IPv4' : 'IPv6');

/** Splits one `iptables -S` line into words; iptables double-quotes words with spaces and backslash-escapes quotes in them. */
export function splitRuleLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quoted) {
      if (char === '\\' && i + 1 < line.length) word += line[++i];
      else if (char === '"') quoted = false;
      else word += char;
    } else if (char === '"') {
      quoted = true;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** One table as `iptables -t TABLE -S` printed it. */
export interface TableSnapshot {
  /** User-defined chains (`-N`). */
  chains: Set<string>;
  /** Rules per chain in order (rule number = index + 1), each as the words after `-A CHAIN`. */
  rules: Map<string, string[][]>;
}

export function parseTableListing(text: string): TableSnapshot {
  const snapshot: TableSnapshot = { chains: new Set(), rules: new Map() };
  for (const line of text.split('\n')) {
    const [option, chain, ...rest] = splitRuleLine(line);
    if (chain === undefined) continue;
    if (option === '-N') snapshot.chains.add(chain);
    if (option === '-A') {
      const rules = snapshot.rules.get(chain) ?? [];
      rules.push(rest);
      snapshot.rules.set(chain, rules);
    }
  }
  return snapshot;
}

/** The chain a rule jumps or goes to, if any. */
function ruleTarget(rule: readonly string[]): string | undefined {
  for (let i = rule.length - 2; i >= 0; i--) if (rule[i] === '-j' || rule[i] === '-g') return rule[i + 1];
  return undefined;
}

interface Reference {
  chain: string;
  /** 1-based rule number. */
  number: number;
  rule: string[];
}

/** Rules outside our own chains that jump or go to one of them. */
function referencesTo(snapshot: TableSnapshot, ours: ReadonlySet<string>): Reference[] {
  const references: Reference[] = [];
  for (const [chain, rules] of snapshot.rules) {
    if (ours.has(chain)) continue;
    rules.forEach((rule, index) => {
      const target = ruleTarget(rule);
      if (target !== undefined && ours.has(target)) references.push({ chain, number: index + 1, rule });
    });
  }
  return references;
}

const ownChains = (names: KernelNames): Set<string> => new Set([names.chain, names.peerChain, names.acceptedChain, names.networkChain]);
const isBuiltIn = (chain: string): boolean => (HOOKS as readonly string[]).includes(chain);

/** `-D CHAIN N` lines deleting the given rules, highest number first within a chain so numbers stay valid. */
function deleteLines(references: readonly Reference[]): string[] {
  return [...references].sort((a, b) => a.chain.localeCompare(b.chain) || b.number - a.number).map((ref) => `-D ${ref.chain} ${ref.number}`);
}

function foreignReferenceError(table: KernelTable, family: IpFamily, references: readonly Reference[]): EnforceError {
  const where = references.map((ref) => `${ref.chain} rule ${ref.number}`).join(', ');
  return new EnforceError(`${iptablesCommand(family)} -t ${table}: p2pwall chains are still used by rules p2pwall does not own (${where}); delete those rules first`);
}

/**
 * `iptables-restore --noflush` input that makes the table hold exactly our ruleset, in one
 * transaction: declaring a chain (`:NAME - [0:0]`) creates it or empties it, the rules refill it,
 * and the jumps are fixed up. Nothing else in the table is touched.
 *
 * Each enabled hook ends with exactly one jump (the first one of our own form is kept, any other
 * rule in a built-in chain that enters our chains is deleted; missing jumps are inserted first in
 * the chain). Exactly one matters: our accepted path clears its mark bits before returning, so a
 * second jump in the same hook would queue the packet again, and NF_REPEAT would loop it for ever.
 */
export function installScript(ruleset: FamilyRuleset, names: KernelNames, snapshot: TableSnapshot): string {
  const references = referencesTo(snapshot, ownChains(names)).filter((ref) => isBuiltIn(ref.chain));
  const wanted = new Map(ruleset.jumps.map((jump) => [jump.hook as string, jump.rule.join(' ')]));
  const kept = new Set<string>();
  const stale: Reference[] = [];
  for (const ref of references) {
    if (wanted.get(ref.chain) === ref.rule.join(' ') && !kept.has(ref.chain)) kept.add(ref.chain);
    else stale.push(ref);
  }
  return [
    `*${ruleset.table}`,
    ...ruleset.chains.map((chain) => `:${chain.name} - [0:0]`),
    ...ruleset.chains.flatMap((chain) => chain.rules.map((rule) => `-A ${chain.name} ${rule.join(' ')}`)),
    ...deleteLines(stale),
    ...ruleset.jumps.filter((jump) => !kept.has(jump.hook)).map((jump) => `-I ${jump.hook} 1 ${jump.rule.join(' ')}`),
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * `iptables-restore --noflush` input removing our jumps (all copies) and chains from one table,
 * or null when the table holds nothing of ours. Works on any leftover: jumps without chains,
 * chains without jumps, one chain of two.
 */
export function removeScript(table: KernelTable, family: IpFamily, names: KernelNames, snapshot: TableSnapshot): string | null {
  const ours = ownChains(names);
  const references = referencesTo(snapshot, ours);
  const foreign = references.filter((ref) => !isBuiltIn(ref.chain));
  const present = [...ours].filter((chain) => snapshot.chains.has(chain));
  if (foreign.length > 0 && present.length > 0) throw foreignReferenceError(table, family, foreign);
  const jumps = references.filter((ref) => isBuiltIn(ref.chain));
  if (jumps.length === 0 && present.length === 0) return null;
  // Flush every chain of ours before deleting any: the main chain refers to the accepted chain.
  return [`*${table}`, ...deleteLines(jumps), ...present.map((chain) => `-F ${chain}`), ...present.map((chain) => `-X ${chain}`), 'COMMIT', ''].join('\n');
}

export interface KernelCommandOptions {
  runner?: CommandRunner;
}

async function listTable(runner: CommandRunner, family: IpFamily, table: KernelTable, verbose = false): Promise<string> {
  const result = await runChecked(runner, iptablesCommand(family), ['-w', '-t', table, '-S', ...(verbose ? ['-v'] : [])]);
  return result.stdout;
}

async function snapshotTable(runner: CommandRunner, family: IpFamily, table: KernelTable): Promise<TableSnapshot> {
  return parseTableListing(await listTable(runner, family, table));
}

async function restore(runner: CommandRunner, family: IpFamily, script: string): Promise<void> {
  await runChecked(runner, restoreCommand(family), ['-w', '--noflush'], { input: script });
}

/** Whether ip6tables can be run at all (IPv6 leftovers are cleaned only where it can). */
async function hasIp6tables(runner: CommandRunner): Promise<boolean> {
  try {
    return (await runner.run('ip6tables', ['-V'])).code === 0;
  } catch {
    return false;
  }
}

async function removeFromTable(runner: CommandRunner, family: IpFamily, table: KernelTable, names: KernelNames): Promise<boolean> {
  const script = removeScript(table, family, names, await snapshotTable(runner, family, table));
  if (script === null) return false;
  await restore(runner, family, script);
  return true;
}

export interface InstallReport {
  table: KernelTable;
  families: IpFamily[];
  iptables: IptablesVariant;
  sets: string[];
  /** Our chain was in none of the installed families before: this call put the rules there. */
  fresh: boolean;
}

/**
 * Installs (or updates to) the policy: sets first (rules refer to them), then for each family our
 * chains and jumps in one `iptables-restore --noflush` transaction. Idempotent, and converges
 * from an install made with other settings: hooks no longer enabled lose their jump, the other
 * table and a disabled IPv6 lose our chains, IPv6 sets go when IPv6 is off. Set entries survive.
 */
export async function installRules(policy: KernelPolicy, options: KernelCommandOptions = {}): Promise<InstallReport> {
  const runner = options.runner ?? localRunner;
  validateKernelPolicy(policy);
  const names = kernelNames(policy.prefix);
  const table = policy.table ?? DEFAULT_KERNEL_TABLE;
  const families = policyFamilies(policy);
  const tools = await checkKernelTools(runner, { ipv6: policy.ipv6 });
  const specs: KernelSetSpec[] = kernelSetSpecs(policy.prefix, families, policy.maxSetEntries ?? DEFAULT_MAX_SET_ENTRIES);
  await ensureSets(specs, runner);
  let fresh = true;
  for (const family of families) {
    const ruleset = generateFamilyRuleset(policy, family);
    const before = await snapshotTable(runner, family, table);
    if (before.chains.has(names.chain)) fresh = false;
    await restore(runner, family, installScript(ruleset, names, before));
    // Only after the new table enforces: a switch of tables leaves no gap.
    for (const other of TABLES) if (other !== table) await removeFromTable(runner, family, other, names);
  }
  if (!policy.ipv6) {
    if (await hasIp6tables(runner)) for (const other of TABLES) await removeFromTable(runner, 6, other, names);
    await destroySets(kernelSetSpecs(policy.prefix, [6]).map((set) => set.name), runner);
  }
  return { table, families, iptables: tools.iptables, sets: specs.map((set) => set.name), fresh };
}

export interface RemoveReport {
  /** "IPv4 security", ... where something of ours was removed. */
  tables: string[];
  sets: string[];
}

/**
 * Removes everything a prefix owns: jumps (all copies), chains in both tables and both families,
 * then the sets. Whatever part exists is removed, whatever settings installed it.
 */
export async function removeRules(target: Pick<KernelPolicy, 'prefix'>, options: KernelCommandOptions = {}): Promise<RemoveReport> {
  const runner = options.runner ?? localRunner;
  const names = kernelNames(target.prefix);
  await checkKernelTools(runner, { ipv6: false });
  const families = (await hasIp6tables(runner)) ? FAMILIES : [4 as IpFamily];
  const tables: string[] = [];
  for (const family of families) {
    for (const table of TABLES) if (await removeFromTable(runner, family, table, names)) tables.push(`${familyLabel(family)} ${table}`);
  }
  const sets = await destroySets(allSetNames(target.prefix), runner);
  return { tables, sets };
}

export interface ShowOptions extends KernelCommandOptions {
  /** Where queue counters come from; default: this namespace's /proc/net/netfilter/nfnetlink_queue. */
  readQueueStats?: () => QueueStats[] | Promise<QueueStats[]>;
}

/**
 * `iptables -S -v` puts the counters as `-c PKTS BYTES` between the matches and the target;
 * moved to the end, the rule reads as plain `iptables -S`.
 */
function withCountersAtEnd(line: string): string {
  const match = /^(-A \S+.*?) -c (\d+) (\d+)(.*)$/.exec(line);
  return match ? `${match[1]}${match[4]}   [${match[2]} packets, ${match[3]} bytes]` : line;
}

async function showFamily(runner: CommandRunner, family: IpFamily, names: KernelNames): Promise<string[]> {
  const ours = ownChains(names);
  const lines: string[] = [];
  for (const table of TABLES) {
    const listing = (await listTable(runner, family, table, true)).split('\n');
    const snapshot = parseTableListing(listing.join('\n'));
    const mine = listing.filter((line) => {
      const [option, chain, ...rest] = splitRuleLine(line);
      if (chain === undefined) return false;
      if (ours.has(chain)) return option === '-N' || option === '-A';
      const target = ruleTarget(rest);
      return option === '-A' && target !== undefined && ours.has(target);
    });
    if (mine.length === 0) continue;
    const missing = [...ours].filter((chain) => !snapshot.chains.has(chain));
    lines.push(`${familyLabel(family)} (${iptablesCommand(family)} -t ${table}):`);
    // Jumps first, as an operator reads them: the way in, then where it leads.
    const jumps = mine.filter((line) => !ours.has(splitRuleLine(line)[1] ?? ''));
    const chains = mine.filter((line) => ours.has(splitRuleLine(line)[1] ?? ''));
    for (const line of [...jumps, ...chains]) lines.push(`  ${withCountersAtEnd(line)}`);
    if (jumps.length === 0) lines.push('  (no jump into the chain: nothing reaches it)');
    for (const chain of missing) lines.push(`  (chain ${chain} missing)`);
  }
  if (lines.length === 0) lines.push(`${familyLabel(family)}: no p2pwall chains or jumps`);
  return lines;
}

/** What each chain of ours is for, in the words of the README, under the listing. */
function chainLegend(names: KernelNames): string[] {
  return [
    'Chains:',
    `  ${names.chain}: blocked networks to ${names.networkChain}; learned peers to ${names.peerChain}; locked clients' new TCP to high ports dropped; accepted packets to ${names.acceptedChain};`,
    '    clean connections skip the queue; the first packets of each direction of the rest go to the sensor.',
    `  ${names.peerChain}: attempts to or from a learned peer: opening packets (conntrack NEW) go to the sensor, which drops and`,
    '    reports them (no --queue-bypass: dropped by the kernel while no sensor listens); every other packet is dropped here.',
    `  ${names.acceptedChain}: packets the sensor accepted: clean connections are marked to skip the queue; our mark bits are cleared.`,
    `  ${names.networkChain}: packets to or from a blocked network: dropped, except addresses and endpoints an allow entry names (back to ${names.chain}).`,
  ];
}

function describeQueue(stats: QueueStats): string {
  return (
    `  queue ${stats.queue}: listener port ${stats.portId}, ${stats.queueTotal} waiting, ` +
    `${stats.queueDropped} dropped (queue full), ${stats.userDropped} dropped (socket buffer full), ${stats.idSequence} packets queued since bound`
  );
}

/** A readable report: our chains and jumps (`iptables -S`, with counters), each set, the queue counters. */
export async function showRules(target: Pick<KernelPolicy, 'prefix'>, options: ShowOptions = {}): Promise<string> {
  const runner = options.runner ?? localRunner;
  const names = kernelNames(target.prefix);
  await checkKernelTools(runner, { ipv6: false });
  const families = (await hasIp6tables(runner)) ? FAMILIES : [4 as IpFamily];
  const lines: string[] = [];
  for (const family of families) lines.push(...(await showFamily(runner, family, names)));
  lines.push(...chainLegend(names));
  lines.push('Sets:');
  const setNames = allSetNames(target.prefix);
  const summaries = await summarizeSets(setNames, runner);
  const width = Math.max(...setNames.map((name) => name.length));
  summaries.forEach((summary, i) => {
    const name = setNames[i]!.padEnd(width);
    lines.push(summary ? `  ${name}  ${summary.type.padEnd(12)}  ${summary.entries} entries  (${summary.header})` : `  ${name}  absent`);
  });
  const queues = await (options.readQueueStats ?? readQueueStats)();
  lines.push('Queues (nfnetlink_queue):');
  if (queues.length === 0) lines.push('  none bound: no sensor is listening');
  for (const stats of queues) lines.push(describeQueue(stats));
  return `${lines.join('\n')}\n`;
}
