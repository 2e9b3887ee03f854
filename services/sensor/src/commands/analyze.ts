import { collect, createLogger, integerInRange, portList } from '@p2pwall/common';
import { Command, Option } from 'commander';
import { CaptureError } from '../capture/source.js';
import { mergeByTime } from '../capture/merge.js';
import { openCapture } from '../capture/open.js';
import { CidrError, CidrSet, DEFAULT_INSIDE_NETWORKS, parseCidr, parseNetwork } from '../decode/cidr.js';
import { ModuleRegistryError, activeModules, protocolModules, type ModuleSelection } from '../detect/registry.js';
import { DEFAULT_OPEN_PORTS } from '../engine-config.js';
import { Engine } from '../engine.js';
import { EventLettersError, eventLogger, parseEventLetters } from '../event-log.js';
import type { EngineEvent } from '../events.js';
import { Storefile } from '../enforce/storefile.js';
import { eveEvent } from '../analyze/eve.js';
import { LineWriter } from '../analyze/line-writer.js';
import { replay } from '../analyze/replay.js';
import { textReport } from '../analyze/report.js';
import { AnalysisCollector } from '../analyze/summary.js';
import { CaptureCorrelation } from '../analyze/correlation.js';
import type { PacketSource } from '../capture/source.js';

interface AnalyzeOptions {
  inside?: string[];
  protect?: string[];
  detectors?: ModuleSelection;
  format: 'text' | 'jsonl' | 'eve';
  timeLock: number;
  udpDrop: boolean;
  monitor: boolean;
  openPorts: number[];
  storefile?: string;
  maxFlows: number;
  progress: boolean;
  log?: Set<string>;
  correlate: boolean;
}

function invalidArgument(error: Error): Error {
  return Object.assign(new Error(error.message), { code: 'commander.invalidArgument' });
}

function eventLetters(text: string): Set<string> {
  try {
    return parseEventLetters(text);
  } catch (error) {
    if (error instanceof EventLettersError) throw invalidArgument(error);
    throw error;
  }
}

function checkedWith(parse: (text: string) => unknown): (text: string) => string {
  return (text) => {
    try {
      parse(text);
    } catch (error) {
      if (error instanceof CidrError) throw invalidArgument(error);
      throw error;
    }
    return text;
  };
}

/** --inside: a network with its prefix length. */
const network = checkedWith(parseNetwork);
/** --protect: a network, or one address. */
const cidr = checkedWith(parseCidr);

/**
 * `fasttrack,bittorrent=8`: the protocol modules to run (the others are off), each with an
 * optional inspection depth. `all`: every module with its defaults.
 */
export function parseDetectorList(text: string): ModuleSelection {
  if (text === 'all') return Object.fromEntries(protocolModules.map((module) => [module.name, {}]));
  const selection: Record<string, { inspectPackets?: number }> = {};
  for (const item of text.split(',')) {
    const match = /^([a-z0-9-]+)(?:=(\d{1,4}))?$/.exec(item.trim());
    if (!match) throw invalidArgument(new Error(`"${item}" is not <protocol> or <protocol>=<packets>`));
    const [, name, depth] = match;
    if (name! in selection) throw invalidArgument(new Error(`"${name}" is named twice`));
    selection[name!] = depth === undefined ? {} : { inspectPackets: Number(depth) };
  }
  try {
    activeModules(selection, Number.MAX_SAFE_INTEGER, { onlyNamed: true });
  } catch (error) {
    if (error instanceof ModuleRegistryError) throw invalidArgument(new Error(error.message.replace(/^detectors\./, '')));
    throw error;
  }
  return selection;
}

export function analyzeCommand(): Command {
  return new Command('analyze')
    .summary('run the detection engine over packet captures')
    .description(
      'Runs the sensor\'s engine over pcap/pcapng captures in time order, as if the packets had crossed the gateway: ' +
        'identifies P2P clients, learns their peers and judges every packet as the live sensor would. ' +
        'Prints a report (text) or one JSON object a line (jsonl): client, peer and flow events, then a summary; ' +
        'or (eve) Suricata EVE JSON: clients and peers as alerts, flows as flow events, linked by flow_id.',
    )
    .argument('<capture...>', 'pcap or pcapng files (Ethernet, raw IP, Linux cooked SLL/SLL2, VLAN tags)')
    .addOption(
      new Option('--inside <cidr>', `an inside network, repeatable (default: ${DEFAULT_INSIDE_NETWORKS.join(', ')})`).argParser(collect(network)),
    )
    .addOption(new Option('--protect <cidr>', 'infrastructure never learned as a peer (resolvers, proxies, servers), repeatable').argParser(collect(cidr)))
    .addOption(
      new Option('--detectors <list>', `protocol modules to run, comma-separated, each optionally =<packets> of depth (known: ${protocolModules.map((module) => module.name).join(', ')})`)
        .argParser(parseDetectorList)
        .default(undefined, 'all'),
    )
    .addOption(new Option('--format <format>', 'text: a readable report; jsonl: one JSON event a line; eve: Suricata EVE JSON, one event a line').choices(['text', 'jsonl', 'eve']).default('text'))
    .addOption(new Option('-t, --time-lock <seconds>', 'how long an identified client\'s new outbound connections to high ports stay blocked; 0 disables').argParser(integerInRange(0, 86_400)).default(120))
    .addOption(new Option('-n, --no-udp-drop', 'never drop UDP (ftwall -n): UDP to peers is reported, not dropped'))
    .addOption(new Option('--monitor', 'judge and report everything, drop nothing').default(false))
    .addOption(new Option('--open-ports <ports>', 'ports a locked client may still reach, comma-separated').argParser(portList).default([...DEFAULT_OPEN_PORTS], DEFAULT_OPEN_PORTS.join(',')))
    .addOption(new Option('-f, --storefile <file>', 'peer storefile: its peers are known from the start, and learned peers are appended to it'))
    .addOption(new Option('--max-flows <n>', 'bound of the flow table (least recently active flows are ended first)').argParser(integerInRange(1, 16_777_216)).default(262_144))
    .addOption(new Option('-L, --log <letters>', 'log these events to standard error as JSON lines, by ftwall letter: c client, p peer, t/T TCP dropped/accepted, u/U UDP dropped/accepted').argParser(eventLetters))
    .addOption(new Option('--correlate', 'also run the brain\'s payload-free rules (UDP fan-out, TCP+UDP pairs, blocked peers reached, peer-cache fan-out) over the flow summaries, with the brain\'s code and default thresholds').default(false))
    .addOption(new Option('--no-progress', 'no progress line on standard error (shown only when it is a terminal)'))
    .action((captures: string[], options: AnalyzeOptions) => {
      process.exitCode = runAnalyze(captures, options);
    });
}

function runAnalyze(paths: string[], options: AnalyzeOptions): number {
  const sources: PacketSource[] = [];
  try {
    for (const path of paths) sources.push(openCapture(path));
  } catch (error) {
    for (const source of sources) source.close();
    if (error instanceof CaptureError) {
      process.stderr.write(`p2pwall-sensor analyze: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const out = new LineWriter(1);
  const collector = new AnalysisCollector();
  const jsonl = options.format === 'jsonl';
  const eve = options.format === 'eve';
  let storefile: Storefile | null = null;
  const log = options.log ? eventLogger(createLogger({ name: 'sensor', sync: true }), options.log) : null;
  const inside = new CidrSet(options.inside ?? DEFAULT_INSIDE_NETWORKS);
  const correlation = options.correlate ? new CaptureCorrelation(inside) : null;
  const eveContext = { inside, monitor: options.monitor };
  const sink = (event: EngineEvent): void => {
    collector.sink(event);
    correlation?.sink(event);
    log?.(event);
    if (storefile && (event.event === 'peer' || event.event === 'peer-refresh')) {
      storefile.append({ ip: event.ip, port: event.port, transport: event.transport, protocol: event.protocol, via: event.via, learnedFrom: event.learnedFrom, learnedAt: event.ts, expiresAt: event.expiresAt });
    }
    if (jsonl && event.event !== 'lock' && event.event !== 'peer-refresh') out.line(JSON.stringify(event));
    if (eve) {
      const line = eveEvent(event, eveContext);
      if (line) out.line(JSON.stringify(line));
    }
  };
  const engine = new Engine(
    {
      inside,
      protect: new CidrSet(options.protect ?? []),
      modules: activeModules(options.detectors ?? {}, 16, { onlyNamed: options.detectors !== undefined }),
      timeLockMs: options.timeLock * 1000,
      dropUdp: options.udpDrop,
      monitor: options.monitor,
      openPorts: options.openPorts,
      maxFlows: options.maxFlows,
    },
    sink,
  );

  if (options.storefile !== undefined) {
    storefile = new Storefile(options.storefile);
    // Capture time, not wall time, decides what has expired: the replay's clock is the capture's.
    const loaded = storefile.open(0);
    for (const peer of loaded.peers) engine.loadPeer(peer.ip, peer.port, peer.transport, { ...peer, via: `storefile:${peer.via}` });
    if (loaded.invalidLines > 0) process.stderr.write(`p2pwall-sensor analyze: ${options.storefile}: ignored ${loaded.invalidLines} damaged line(s)\n`);
  }

  const showProgress = options.progress && process.stderr.isTTY === true;
  const source = sources.length === 1 ? sources[0]! : mergeByTime(sources);
  try {
    replay(source, engine, showProgress ? ({ packets }) => process.stderr.write(`\r${packets.toLocaleString('en-US')} packets…`) : undefined);
  } catch (error) {
    out.flush();
    if (error instanceof CaptureError) {
      process.stderr.write(`${showProgress ? '\n' : ''}p2pwall-sensor analyze: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    source.close();
    storefile?.close();
  }
  if (showProgress) process.stderr.write('\r\x1b[K');

  // A capture copied while still being written ends inside a record: what came before the cut
  // is analysed, and the person is told, since the report then covers less than the file claims.
  const cutShort = sources.filter((capture) => capture.truncatedRecords > 0).map((capture) => capture.path);
  const findings = correlation?.finish();
  const summary = collector.summary(engine, paths, cutShort, findings && { findings, unsendable: correlation!.unsendable });
  if (jsonl) {
    for (const finding of findings ?? []) out.line(JSON.stringify({ event: 'finding', ...finding }));
    out.line(JSON.stringify(summary));
  }
  else if (!eve) out.line(textReport(summary, collector, engine.config, findings).trimEnd());
  out.flush();
  for (const path of cutShort) process.stderr.write(`p2pwall-sensor analyze: warning: ${path} ends inside a record (cut short, or still being written); the packets before the cut were analysed\n`);
  return cutShort.length > 0 ? 3 : 0;
}
