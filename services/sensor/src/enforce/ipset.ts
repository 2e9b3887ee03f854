import { CommandError, EnforceError, localRunner, runChecked, type CommandResult, type CommandRunner } from './command-runner.js';
import { DEFAULT_MAX_SET_ENTRIES, kernelNames, type IpFamily } from './rules.js';

/** ipset refuses larger per-entry timeouts (seconds). */
export const IPSET_MAX_TIMEOUT = 2_147_483;

export type SetType = 'hash:ip' | 'hash:ip,port' | 'hash:net';

export interface KernelSetSpec {
  name: string;
  type: SetType;
  family: IpFamily;
  maxEntries: number;
}

/** The sets of each family a policy uses: peer endpoints, whole-address peers (both, tcp, udp), locks, blocked networks (both, tcp, udp) and their exceptions. */
export function kernelSetSpecs(prefix: string, families: readonly IpFamily[], maxEntries = DEFAULT_MAX_SET_ENTRIES): KernelSetSpec[] {
  const { sets } = kernelNames(prefix);
  return families.flatMap((family): KernelSetSpec[] => [
    { name: sets[family].peerEndpoints, type: 'hash:ip,port', family, maxEntries },
    { name: sets[family].peerAddresses, type: 'hash:ip', family, maxEntries },
    { name: sets[family].peerTcpAddresses, type: 'hash:ip', family, maxEntries },
    { name: sets[family].peerUdpAddresses, type: 'hash:ip', family, maxEntries },
    { name: sets[family].locks, type: 'hash:ip', family, maxEntries },
    { name: sets[family].networks, type: 'hash:net', family, maxEntries },
    { name: sets[family].tcpNetworks, type: 'hash:net', family, maxEntries },
    { name: sets[family].udpNetworks, type: 'hash:net', family, maxEntries },
    { name: sets[family].networkExceptions, type: 'hash:net', family, maxEntries },
    { name: sets[family].networkExceptionEndpoints, type: 'hash:ip,port', family, maxEntries },
  ]);
}

/**
 * `ipset restore` input creating the sets. `timeout 0` enables per-entry timeouts without a
 * default (an entry added without one would never expire; KernelSets always gives one).
 */
export function createSetsScript(specs: readonly KernelSetSpec[]): string {
  return specs.map((set) => `create ${set.name} ${set.type} family ${set.family === 4 ? 'inet' : 'inet6'} timeout 0 maxelem ${set.maxEntries}\n`).join('');
}

/** Runs `ipset restore -exist` with `script`; never throws for a non-zero exit (the caller decides). */
export function restoreSets(script: string, runner: CommandRunner = localRunner): Promise<CommandResult> {
  return runner.run('ipset', ['restore', '-exist'], { input: script });
}

/**
 * Creates the sets, leaving existing ones (and their entries) alone. A set that exists with other
 * parameters (type, family, maxelem, no timeout) cannot be changed in place: that is an error
 * naming the set, since destroying it would drop what the kernel enforces right now.
 */
export async function ensureSets(specs: readonly KernelSetSpec[], runner: CommandRunner = localRunner): Promise<void> {
  const result = await restoreSets(createSetsScript(specs), runner);
  if (result.code === 0) return;
  const line = /Error in line (\d+)/.exec(result.stderr);
  const set = line ? specs[Number(line[1]) - 1] : undefined;
  if (set && /already exists/.test(result.stderr)) {
    throw new EnforceError(
      `ipset: set ${set.name} exists with other parameters than ${set.type} family ${set.family === 4 ? 'inet' : 'inet6'} timeout 0 maxelem ${set.maxEntries}; ` +
        `run \`p2pwall-sensor rules remove\` (or \`ipset destroy ${set.name}\`) and install again`,
    );
  }
  throw new CommandError('ipset', ['restore', '-exist'], result);
}

/**
 * Destroys the named sets that exist; missing ones are skipped, so this works on whatever a crash
 * left behind. Returns the names destroyed. A set still referenced (by a rule we do not own)
 * makes it throw.
 */
export async function destroySets(names: readonly string[], runner: CommandRunner = localRunner): Promise<string[]> {
  const existing = new Set(await listSetNames(runner));
  const destroyed: string[] = [];
  for (const name of names) {
    if (!existing.has(name)) continue;
    await runChecked(runner, 'ipset', ['destroy', name]);
    destroyed.push(name);
  }
  return destroyed;
}

/** Names of all sets in this namespace (`ipset list -n`). */
export async function listSetNames(runner: CommandRunner = localRunner): Promise<string[]> {
  const result = await runChecked(runner, 'ipset', ['list', '-n']);
  return result.stdout.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
}

export interface SetSummary {
  name: string;
  type: string;
  /** The header line: family, hashsize, maxelem, timeout... */
  header: string;
  entries: number;
}

/** Parses `ipset list -t NAME` output (the terse form: header without members). */
export function parseSetSummary(text: string): SetSummary {
  const field = (label: string): string => new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return { name: field('Name'), type: field('Type'), header: field('Header'), entries: Number(field('Number of entries') || 0) };
}

/** Summaries of the named sets; a set that does not exist gives null. */
export async function summarizeSets(names: readonly string[], runner: CommandRunner = localRunner): Promise<Array<SetSummary | null>> {
  const existing = new Set(await listSetNames(runner));
  return Promise.all(
    names.map(async (name) => {
      if (!existing.has(name)) return null;
      const result = await runChecked(runner, 'ipset', ['list', '-t', name]);
      return parseSetSummary(result.stdout);
    }),
  );
}
