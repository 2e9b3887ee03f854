/**
 * A real DNS server in the lab's internet (Debian's dnsmasq, from dnsmasq-base: no service, no
 * configuration file), answering fixed names, and the inside hosts' glibc resolver pointed at it
 * (`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../netns/lab.js';
import { hasCommand } from '../netns/run.js';
import { until } from '../waiting.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export function dnsServerUnavailableReason(): string {
  return hasCommand('dnsmasq') || hasCommand(DNSMASQ) ? '' : 'dnsmasq is not installed (scripts/setup installs dnsmasq-base)';
}

export interface DnsServerOptions {
  /** The address it answers on; added to `ns`'s loopback when `addAddress` (the lab's internet routes 198.51.100.0/24 and 203.0.113.0/24 to inet). */
  address: string;
  /** name → IPv4 addresses it answers (host-record: that name only, not the names below it). */
  records: Readonly<Record<string, readonly string[]>>;
  addAddress?: boolean;
}

export interface LabDnsServer {
  readonly address: string;
  readonly process: LabProcess;
  /** The queries it logged, `query[A] name from ip` lines. */
  queries(): string[];
  stop(): Promise<void>;
}

/** Starts dnsmasq in `ns`; resolves once it logged that it started (it binds its socket before). */
export async function startDnsServer(lab: Lab, ns: string, options: DnsServerOptions): Promise<LabDnsServer> {
  if (options.addAddress ?? true) await lab.exec(ns, 'ip', ['addr', 'add', `${options.address}/32`, 'dev', 'lo'], { check: false });
  const hostRecords = Object.entries(options.records).map(([name, addresses]) => `--host-record=${name},${addresses.join(',')}`);
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--bind-interfaces',
    `--listen-address=${options.address}`,
    '--port=53',
    '--user=root',
    '--pid-file',
    '--log-queries',
    '--log-facility=-',
    ...hostRecords,
  ];
  // Its log goes to a file: dnsmasq logs to stderr (--log-facility=-), one line a query.
  const logFile = join(lab.logsDir, `dnsmasq-${ns}-${options.address}-${Date.now()}.log`);
  const process = lab.spawn(ns, hasCommand('dnsmasq') ? 'dnsmasq' : DNSMASQ, args, { role: 'dns-server', detached: true, output: logFile });
  const output = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  await until(`dnsmasq on ${options.address}`, 10_000, () => {
    if (/started, version/.test(output())) return true;
    if (!process.running) throw new Error(`dnsmasq exited: ${output().slice(-500)}`);
    return undefined;
  }, 50);
  return {
    address: options.address,
    process,
    queries: () => output().split('\n').filter((line) => /query\[/.test(line)),
    async stop() {
      await process.stop();
    },
  };
}

/**
 * Points `ns`'s glibc resolver at `server` (a resolv.conf in /etc/netns/<ns>/, which `ip netns
 * exec` mounts): returns the function that removes it again.
 */
export function useResolver(ns: string, server: string): () => void {
  const dir = join('/etc/netns', ns);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolv.conf'), `nameserver ${server}\noptions timeout:1 attempts:2\n`);
  return () => rmSync(dir, { recursive: true, force: true });
}

/** `getent ahostsv4 name` in `ns` (the real glibc resolver): the addresses, [] when it resolves nothing. */
export async function resolveIpv4(lab: Lab, ns: string, name: string): Promise<string[]> {
  const result = await lab.exec(ns, 'getent', ['ahostsv4', name], { check: false });
  if (result.code !== 0) return [];
  return [...new Set(result.stdout.split('\n').map((line) => line.split(/\s+/)[0]!).filter((ip) => ip !== ''))];
}
