/** `p2pwall-lab emulate <role> [options]`: the emulators as commands, for `ip netns exec`. */
import { readFileSync } from 'node:fs';
import { collect, integerInRange, InvalidValueError } from '@p2pwall/common';
import { Command, Option } from 'commander';
import { parseEndpoint, type Endpoint } from '../netns/addresses.js';
import { loadCache, runRole } from './common.js';
import { BENIGN_CHECKS, OPTIONAL_BENIGN_CHECKS, runBenignClient, runBenignServers, type BenignCheck } from './benign.js';
import { runFasttrackPeers } from './fasttrack-peers.js';
import { KAZAA_PHASES, runKazaaClient, type KazaaPhase } from './kazaa-client.js';
import { runProbe } from './probe.js';

export const EMULATOR_ROLES = ['fasttrack-peers', 'kazaa-client', 'benign-servers', 'benign-client', 'probe'] as const;

function endpoint(text: string): Endpoint {
  try {
    return parseEndpoint(text);
  } catch (error) {
    throw new InvalidValueError((error as Error).message);
  }
}

function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 7 * 86400) throw new InvalidValueError('Expected seconds from 0 to 604800 (0: until stopped).');
  return value;
}

function listOf<T extends string>(allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
    for (const item of items) if (!allowed.includes(item as T)) throw new InvalidValueError(`"${item}" is not one of ${allowed.join(', ')}.`);
    return items as T[];
  };
}

function hex(text: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new InvalidValueError('Expected an even number of hex digits.');
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

const ms = (max = 600_000) => integerInRange(1, max);

interface Common {
  log?: string;
  duration: number;
}

function common(command: Command, defaultDuration: number): Command {
  return command
    .option('--log <file>', 'append what it does to this file, one JSON object a line ({"ts": …, "event": …})')
    .addOption(new Option('--duration <s>', 'stop after this many seconds (0: only on SIGTERM)').argParser(seconds).default(defaultDuration));
}

function cacheOptions(command: Command): Command {
  return command
    .addOption(new Option('--cache-size <n>', 'peer-cache size: peerCache(n, seed) of the synthetic scenarios').argParser(integerInRange(0, 400)).default(200))
    .addOption(new Option('--seed <n>', 'peer-cache seed (chooses the ports)').argParser(integerInRange(0, 2 ** 31)).default(1))
    .option('--cache <file.json>', 'the peer cache as a JSON array of {"ip", "port"} (instead of --cache-size/--seed)');
}

const durationMs = (options: Common) => (options.duration > 0 ? options.duration * 1000 : undefined);

export function registerEmulateCommands(program: Command): void {
  const emulate = program.command('emulate').description('run one emulated host role (inside a lab namespace: ip netns exec <ns> p2pwall-lab emulate …)');

  cacheOptions(common(emulate.command('fasttrack-peers').description('FastTrack nodes on every peer-cache address (inet): pings get pongs, hellos get replies, /.hash= downloads are served'), 3600))
    .option('--no-extras', 'do not serve the uploader 203.0.113.200:2121 and supernode 198.51.100.201:1214')
    .option('--no-ipv6', 'do not serve the IPv6 twins (2001:db8:0:113::d, 2001:db8:0:100::d)')
    .addOption(new Option('--answer-every <n>', 'only every n-th cache peer answers pings (0: none)').argParser(integerInRange(0, 400)).default(1))
    .addOption(new Option('--body-bytes <n>', 'size of a served download').argParser(integerInRange(0, 64 * 1024 * 1024)).default(4096))
    .addOption(new Option('--idle-timeout <ms>', 'close idle TCP connections after this long').argParser(ms()).default(10_000))
    .action(async (options: Common & { cache?: string; cacheSize: number; seed: number; extras: boolean; ipv6: boolean; answerEvery: number; bodyBytes: number; idleTimeout: number }) => {
      await runRole('fasttrack-peers', { log: options.log, durationMs: durationMs(options) }, (context) =>
        runFasttrackPeers(
          { cache: loadCache(options), ...(options.extras ? {} : { extras: [] }), ipv6: options.ipv6, answerEvery: options.answerEvery, bodyBytes: options.bodyBytes, idleTimeoutMs: options.idleTimeout },
          context,
        ),
      );
    });

  cacheOptions(common(emulate.command('kazaa-client').description("a Kazaa client's start-up: UDP ping flood, parallel then serial TCP with the 12/8-byte hello, an HTTP /.hash= download"), 120))
    .addOption(new Option('--phases <list>', `phases to run, in order (${KAZAA_PHASES.join(',')})`).argParser(listOf(KAZAA_PHASES)).default([...KAZAA_PHASES]))
    .option('--no-udp', 'skip the UDP flood (start at TCP)')
    .option('--encrypted-only', 'no clear-text download: only handshakes')
    .option('--network <name>', 'network name in pings and headers', 'KaZaA')
    .addOption(new Option('--port <n>', 'local UDP port of the flood (Kazaa listening port)').argParser(integerInRange(1, 65535)).default(3531))
    .addOption(new Option('--rate <n>', 'pings per second').argParser(integerInRange(1, 100_000)).default(1000))
    .addOption(new Option('--pong-wait <ms>', 'keep collecting pongs this long after the last ping').argParser(integerInRange(0, 60_000)).default(1000))
    .addOption(new Option('--parallel <n>', 'targets connected at once: peers that answered, else the cache').argParser(integerInRange(0, 400)).default(20))
    .addOption(new Option('--connect-timeout <ms>', 'connect timeout of the parallel phase').argParser(ms()).default(1500))
    .addOption(new Option('--hello-timeout <ms>', 'wait this long for the 8-byte hello reply').argParser(ms()).default(1500))
    .addOption(new Option('--serial <n>', 'further cache entries tried one at a time').argParser(integerInRange(0, 400)).default(20))
    .addOption(new Option('--serial-timeout <ms>', 'connect timeout of the serial phase').argParser(ms()).default(1000))
    .addOption(new Option('--download-from <ip:port>', 'the uploader (default: the search result 203.0.113.200:2121)').argParser(endpoint))
    .addOption(new Option('--supernode <ip:port>', 'its supernode, sent as X-Kazaa-SupernodeIP (default 198.51.100.201:1214)').argParser(endpoint))
    .addOption(
      new Option('--hash <hex40>', 'the file hash of the download').argParser((text: string) => {
        if (!/^[0-9a-fA-F]{40}$/.test(text)) throw new InvalidValueError('Expected 40 hex digits.');
        return text.toLowerCase();
      }),
    )
    .option('--username <name>', 'X-Kazaa-Username', 'alice')
    .addOption(new Option('--download-timeout <ms>', 'the whole download').argParser(ms()).default(5000))
    .option('--ipv6', 'use the IPv6 twins of every outside address')
    .addOption(new Option('--linger <s>', 'after the phases, keep the UDP port open this long, answering node pings with pongs').argParser(seconds).default(0))
    .action(
      async (
        options: Common & {
          cache?: string;
          cacheSize: number;
          seed: number;
          phases: KazaaPhase[];
          udp: boolean;
          encryptedOnly?: boolean;
          network: string;
          port: number;
          rate: number;
          pongWait: number;
          parallel: number;
          connectTimeout: number;
          helloTimeout: number;
          serial: number;
          serialTimeout: number;
          downloadFrom?: Endpoint;
          supernode?: Endpoint;
          hash?: string;
          username: string;
          downloadTimeout: number;
          ipv6?: boolean;
          linger: number;
        },
      ) => {
        const phases = options.phases.filter((phase) => (phase !== 'udp' || options.udp) && (phase !== 'download' || !options.encryptedOnly));
        await runRole('kazaa-client', { log: options.log, durationMs: durationMs(options) }, (context) =>
          runKazaaClient(
            {
              cache: loadCache(options),
              phases,
              network: options.network,
              port: options.port,
              rate: options.rate,
              pongWaitMs: options.pongWait,
              parallel: options.parallel,
              connectTimeoutMs: options.connectTimeout,
              helloTimeoutMs: options.helloTimeout,
              serial: options.serial,
              serialTimeoutMs: options.serialTimeout,
              ...(options.downloadFrom ? { downloadFrom: options.downloadFrom } : {}),
              ...(options.supernode ? { supernode: options.supernode } : {}),
              ...(options.hash ? { hash: options.hash } : {}),
              username: options.username,
              downloadTimeoutMs: options.downloadTimeout,
              ipv6: options.ipv6 ?? false,
              lingerMs: options.linger * 1000,
            },
            context,
          ),
        );
      },
    );

  common(emulate.command('benign-servers').description('HTTP :80 and TCP bulk :5001 on 203.0.113.250, DNS-like :53 on 198.51.100.153, NTP-like :123 on 198.51.100.123 (inet)'), 3600)
    .option('--web <ip>', 'address of the web and bulk server')
    .option('--dns <ip>', 'address of the DNS-like echo')
    .option('--ntp <ip>', 'address of the NTP-like responder')
    .option('--no-ipv6', 'do not serve the IPv6 twins')
    .option('--tls-cert <file>', 'PEM certificate: also serve the pages over HTTPS on :443 (with --tls-key)')
    .option('--tls-key <file>', 'PEM key of --tls-cert')
    .action(async (options: Common & { web?: string; dns?: string; ntp?: string; ipv6: boolean; tlsCert?: string; tlsKey?: string }) => {
      await runRole('benign-servers', { log: options.log, durationMs: durationMs(options) }, (context) =>
        runBenignServers(
          {
            ...(options.web ? { web: options.web } : {}),
            ...(options.dns ? { dns: options.dns } : {}),
            ...(options.ntp ? { ntp: options.ntp } : {}),
            ipv6: options.ipv6,
            ...(options.tlsCert && options.tlsKey ? { tlsCert: options.tlsCert, tlsKey: options.tlsKey } : {}),
          },
          context,
        ),
      );
    });

  common(emulate.command('benign-client').description('an ordinary host: HTTP GET, a DNS-like and an NTP-like query, a bulk TCP download with its throughput'), 120)
    .addOption(new Option('--checks <list>', `checks to run (default ${BENIGN_CHECKS.join(',')}; also ${OPTIONAL_BENIGN_CHECKS.join(',')})`).argParser(listOf([...BENIGN_CHECKS, ...OPTIONAL_BENIGN_CHECKS])).default([...BENIGN_CHECKS]))
    .addOption(new Option('--bulk-bytes <n>', 'bytes of the bulk download').argParser(integerInRange(0, 4 * 1024 * 1024 * 1024)).default(20_000_000))
    .addOption(new Option('--timeout <ms>', 'timeout of the HTTP, DNS and NTP checks').argParser(ms()).default(5000))
    .addOption(new Option('--bulk-timeout <ms>', 'timeout of the bulk download').argParser(ms(3_600_000)).default(60_000))
    .option('--web <ip>', 'web and bulk server')
    .option('--dns <ip>', 'DNS-like server')
    .option('--ntp <ip>', 'NTP-like server')
    .option('--ipv6', 'use the IPv6 twins of the servers')
    .action(async (options: Common & { checks: BenignCheck[]; bulkBytes: number; timeout: number; bulkTimeout: number; web?: string; dns?: string; ntp?: string; ipv6?: boolean }) => {
      await runRole('benign-client', { log: options.log, durationMs: durationMs(options) }, (context) =>
        runBenignClient(
          {
            checks: options.checks,
            bulkBytes: options.bulkBytes,
            timeoutMs: options.timeout,
            bulkTimeoutMs: options.bulkTimeout,
            ...(options.web ? { web: options.web } : {}),
            ...(options.dns ? { dns: options.dns } : {}),
            ...(options.ntp ? { ntp: options.ntp } : {}),
            ipv6: options.ipv6 ?? false,
          },
          context,
        ),
      );
    });

  common(emulate.command('probe').description('one-shot reachability checks: UDP (a node ping by default), TCP connect (and hello), HTTP GET'), 60)
    .addOption(new Option('--udp <ip:port>', 'send a datagram, expect any reply (repeatable)').argParser(collect(endpoint)))
    .addOption(new Option('--tcp <ip:port>', 'connect (repeatable)').argParser(collect(endpoint)))
    .addOption(new Option('--http <url>', 'GET, ok on 2xx (repeatable)').argParser(collect((text: string) => text)))
    .addOption(new Option('--payload <hex>', 'UDP payload (default: a KaZaA node ping)').argParser(hex))
    .option('--payload-file <file>', 'UDP payload from a file')
    .option('--hello', 'after a TCP connect, send the 12-byte hello and expect 8 bytes')
    .addOption(new Option('--timeout <ms>', 'per check').argParser(ms()).default(2000))
    .action(async (options: Common & { udp?: Endpoint[]; tcp?: Endpoint[]; http?: string[]; payload?: Uint8Array; payloadFile?: string; hello?: boolean; timeout: number }) => {
      const payload = options.payload ?? (options.payloadFile ? Uint8Array.from(readFileSync(options.payloadFile)) : undefined);
      await runRole('probe', { log: options.log, durationMs: durationMs(options) }, (context) =>
        runProbe({ udp: options.udp ?? [], tcp: options.tcp ?? [], http: options.http ?? [], ...(payload ? { payload } : {}), hello: options.hello ?? false, timeoutMs: options.timeout }, context),
      );
    });
}
