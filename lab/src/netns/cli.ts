/** `p2pwall-lab up | down | status`: the namespace lab from the command line. */
import { readdirSync } from 'node:fs';
import { integerInRange, InvalidValueError } from '@p2pwall/common';
import { Command, Option } from 'commander';
import { LAB_HOSTS, KAZAA_SUPERNODE, KAZAA_UPLOADER, formatEndpoint } from './addresses.js';
import { Lab, type LabStatus } from './lab.js';
import { labUnavailableReason, listNamespaces } from './run.js';
import { stateRoot } from './state.js';
import { DEFAULT_PREFIX, planLab, siteNames, validatePrefix, type LabPlan } from './topology.js';

/** Commander's parser for a lab prefix option. */
export function prefixValue(text: string): string {
  try {
    return validatePrefix(text);
  } catch (error) {
    throw new InvalidValueError((error as Error).message);
  }
}

function sitesValue(text: string): string[] {
  try {
    return /^\d+$/.test(text) ? siteNames(Number(text)) : siteNames(text.split(',').map((s) => s.trim()));
  } catch (error) {
    throw new InvalidValueError((error as Error).message);
  }
}

/** The topology as a table: namespace, role, addresses. */
export function formatPlan(plan: LabPlan): string {
  const rows: [string, string, string][] = [['namespace', 'role', 'addresses']];
  const inet = plan.inet;
  rows.push([inet.ns, 'internet', `br0 ${inet.routerIpv4}/24 ${inet.routerIpv6}/64; lo: ${inet.ipv4.length} outside addresses + IPv6 twins`]);
  for (const site of plan.sites) {
    rows.push([site.gateway, `gateway ${site.name}`, `wan0 ${site.wan.ipv4}/24 ${site.wan.ipv6}/64; br-lan ${site.lan.gatewayIpv4}/24 ${site.lan.gatewayIpv6}/64`]);
    for (const client of site.clients) rows.push([client.ns, `client ${client.name} (${client.role})`, `eth0 ${client.ipv4}/24 ${client.ipv6}/64 via ${site.lan.gatewayIpv4}`]);
  }
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => `${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2]}`).join('\n');
  return [
    table,
    '',
    `peers: peerCache(${plan.peers}) on 203.0.113.1-${Math.ceil(plan.peers / 2)} and 198.51.100.1-${Math.floor(plan.peers / 2)}; uploader ${formatEndpoint(KAZAA_UPLOADER)}, supernode ${formatEndpoint(KAZAA_SUPERNODE)}`,
    `services: web ${LAB_HOSTS.web}:80 (bulk :5001), DNS ${LAB_HOSTS.dns}:53, NTP ${LAB_HOSTS.ntp}:123; IPv6 twins 2001:db8:0:113::d / 2001:db8:0:100::d`,
  ].join('\n');
}

export function formatStatus(status: LabStatus): string {
  if (!status.exists) return `no lab with prefix "${status.prefix}"`;
  const lines = [`lab "${status.prefix}" (state ${status.stateDir})`];
  for (const ns of status.namespaces) {
    lines.push(`${ns.ns}${ns.pids.length > 0 ? `  (processes: ${ns.pids.join(' ')})` : ''}`);
    for (const address of ns.addresses) lines.push(`  ${address}`);
  }
  if (status.namespaces.length === 0) lines.push('(no namespaces: run down to clear the state)');
  lines.push(status.processes.length > 0 ? 'processes started by the lab:' : 'processes started by the lab: none');
  for (const p of status.processes) lines.push(`  ${p.alive ? 'running' : 'gone   '} pid ${p.pid} in ${p.ns}: ${p.role ?? p.cmd}${p.log ? ` (log ${p.log})` : ''}`);
  return lines.join('\n');
}

/** Prefixes of the labs this tool made: each has a state directory, written before any namespace. */
export function madeLabPrefixes(): string[] {
  try {
    return readdirSync(stateRoot())
      .filter((name) => /^[a-z][a-z0-9]{0,7}$/.test(name))
      .sort();
  } catch {
    return []; // no state root yet
  }
}

/**
 * Prefixes of every lab in view, for `status --all`: the labs this tool made, and namespaces of a
 * lab's shape (`<prefix>-inet`) whose state is gone. Only the first kind is ever removed by `--all`.
 */
export async function labPrefixes(): Promise<string[]> {
  const prefixes = new Set<string>(madeLabPrefixes());
  for (const ns of await listNamespaces()) {
    const match = /^([a-z][a-z0-9]{0,7})-inet$/.exec(ns);
    if (match) prefixes.add(match[1]!);
  }
  return [...prefixes].sort();
}

function requireLab(): void {
  const why = labUnavailableReason();
  if (why) {
    process.stderr.write(`p2pwall-lab: ${why}\n`);
    process.exit(1);
  }
}

export function registerLabCommands(program: Command): void {
  program
    .command('up')
    .description('build a namespace lab: an internet namespace with peers and servers, per site a gateway and clients')
    .addOption(new Option('--prefix <name>', 'namespace prefix (1-8 letters/digits)').argParser(prefixValue).default(DEFAULT_PREFIX))
    .addOption(new Option('--sites <n|list>', 'a number of sites (a, b, …) or names, e.g. a,b').argParser(sitesValue).default(['a'], 'a'))
    .addOption(new Option('--clients <n>', 'client hosts per site (c1 Kazaa, c2 second P2P, c3 benign)').argParser(integerInRange(0, 50)).default(3))
    .addOption(new Option('--peers <n>', 'peer-cache addresses in the internet').argParser(integerInRange(0, 240)).default(200))
    .option('--servers', 'also start fasttrack-peers and benign-servers in the internet namespace (logs in the state directory)')
    .addOption(new Option('--servers-duration <s>', 'how long the servers run').argParser(integerInRange(0, 7 * 86400)).default(86400))
    .option('--json', 'print the plan as JSON')
    .action(async (options: { prefix: string; sites: string[]; clients: number; peers: number; servers?: boolean; serversDuration: number; json?: boolean }) => {
      requireLab();
      const started = Date.now();
      let lab: Lab;
      try {
        lab = await Lab.up({ prefix: options.prefix, sites: options.sites, clientsPerSite: options.clients, peers: options.peers });
      } catch (error) {
        process.stderr.write(`p2pwall-lab up: ${(error as Error).message}\n`);
        process.exit(1);
      }
      if (options.servers) {
        const args = ['--duration', String(options.serversDuration)];
        const peers = lab.emulate(lab.inet, 'fasttrack-peers', [...args, '--cache-size', String(options.peers)], { detached: true });
        const servers = lab.emulate(lab.inet, 'benign-servers', args, { detached: true });
        await Promise.all([peers.ready(20_000), servers.ready(20_000)]);
      }
      if (options.json) process.stdout.write(`${JSON.stringify(lab.plan, null, 2)}\n`);
      else {
        process.stdout.write(`${formatPlan(lab.plan)}\n`);
        process.stdout.write(`\nlab "${lab.prefix}" up in ${Date.now() - started} ms${options.servers ? ', servers running' : ''}; state in ${lab.stateDir}\n`);
        process.stdout.write(`run a command inside: ip netns exec ${lab.site(lab.sites[0]!.name).gateway} <cmd>; tear down: p2pwall-lab down --prefix ${lab.prefix}\n`);
      }
      process.exit(0);
    });

  program
    .command('down')
    .description('remove a lab: its processes, namespaces (with every veth and bridge) and state; works after a crash')
    .addOption(new Option('--prefix <name>', 'namespace prefix').argParser(prefixValue).default(DEFAULT_PREFIX))
    .option('--all', `every lab this tool made (those with a state directory under ${stateRoot()}); other namespaces are left alone, whatever their names`)
    .action(async (options: { prefix: string; all?: boolean }) => {
      requireLab();
      const prefixes = options.all ? madeLabPrefixes() : [options.prefix];
      let failed = false;
      for (const prefix of prefixes) {
        const report = await Lab.down(prefix);
        process.stdout.write(`lab "${prefix}": removed ${report.namespaces.length} namespaces, signalled ${report.killed.length} processes\n`);
        if (report.leftover.length > 0) {
          failed = true;
          process.stderr.write(`p2pwall-lab down: still present: ${report.leftover.join(', ')}\n`);
        }
      }
      if (prefixes.length === 0) process.stdout.write('no labs\n');
      process.exit(failed ? 1 : 0);
    });

  program
    .command('status')
    .description('show a lab: namespaces, addresses, processes it started')
    .addOption(new Option('--prefix <name>', 'namespace prefix').argParser(prefixValue).default(DEFAULT_PREFIX))
    .option('--all', 'every lab found (any prefix)')
    .option('--json', 'as JSON')
    .action(async (options: { prefix: string; all?: boolean; json?: boolean }) => {
      const prefixes = options.all ? await labPrefixes() : [options.prefix];
      const statuses = await Promise.all(prefixes.map((prefix) => Lab.status(prefix)));
      if (options.json) process.stdout.write(`${JSON.stringify(options.all ? statuses : statuses[0], null, 2)}\n`);
      else process.stdout.write(`${statuses.length > 0 ? statuses.map(formatStatus).join('\n\n') : 'no labs'}\n`);
    });

  program
    .command('plan')
    .description('print the topology a lab would have, without building it')
    .addOption(new Option('--prefix <name>', 'namespace prefix').argParser(prefixValue).default(DEFAULT_PREFIX))
    .addOption(new Option('--sites <n|list>', 'a number of sites or names').argParser(sitesValue).default(['a'], 'a'))
    .addOption(new Option('--clients <n>', 'client hosts per site').argParser(integerInRange(0, 50)).default(3))
    .addOption(new Option('--peers <n>', 'peer-cache addresses').argParser(integerInRange(0, 240)).default(200))
    .option('--json', 'as JSON')
    .action((options: { prefix: string; sites: string[]; clients: number; peers: number; json?: boolean }) => {
      const plan = planLab({ prefix: options.prefix, sites: options.sites, clientsPerSite: options.clients, peers: options.peers });
      process.stdout.write(options.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n`);
    });
}
