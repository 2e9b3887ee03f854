/**
 * What crossed a lab interface, as tcpdump saw it: one line per IPv4 packet with its time, ends,
 * transport and payload length. Used to count what a real client got through a gateway: packets
 * it sent that reached the internet's side of the WAN link, bytes that reached the client.
 *
 *   const log = WireLog.start(lab, lab.inet, 'wan-a', 'src host 192.168.1.5');
 *   … the client runs …
 *   const packets = await log.stop();
 */
import type { Lab, LabProcess } from '../netns/lab.js';
import { sleep } from '../waiting.js';

export interface WirePacket {
  /** Milliseconds since the epoch (the capture's clock: the machine's, as the sensor's). */
  time: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  transport: 'tcp' | 'udp';
  /** Transport payload bytes. */
  length: number;
}

/** `1733555555.123456 IP 192.168.1.5.4672 > 203.0.113.181.4672: UDP, length 2` or `… : tcp 1448` (tcpdump -tt -q -n). */
const LINE = /^(\d+)\.(\d{6}) IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): (?:(tcp) (\d+)|(UDP), length (\d+))/;

export function parseWireLine(line: string): WirePacket | undefined {
  const match = LINE.exec(line);
  if (!match) return undefined;
  const tcp = match[7] === 'tcp';
  return {
    time: Number(match[1]) * 1000 + Math.floor(Number(match[2]) / 1000),
    src: match[3]!,
    srcPort: Number(match[4]),
    dst: match[5]!,
    dstPort: Number(match[6]),
    transport: tcp ? 'tcp' : 'udp',
    length: Number(tcp ? match[8] : match[10]),
  };
}

export class WireLog {
  private stopped: Promise<WirePacket[]> | undefined;

  private constructor(private readonly capture: LabProcess) {}

  /** tcpdump on `ifname` in `ns` with a capture filter; resolves once it listens. */
  static async start(lab: Lab, ns: string, ifname: string, filter: string): Promise<WireLog> {
    const capture = lab.spawn(ns, 'tcpdump', ['-l', '-n', '-tt', '-q', '-i', ifname, `ip and (${filter})`], { role: 'tcpdump' });
    // tcpdump says "listening on …" on stderr once its socket is open; give it a moment either way.
    await sleep(300);
    if (!capture.running) throw new Error(`tcpdump on ${ifname} in ${ns} ended: ${(await capture.exited).stderr.trim()}`);
    return new WireLog(capture);
  }

  /** Stops the capture and returns every packet it saw (the same list when called again). */
  stop(): Promise<WirePacket[]> {
    this.stopped ??= (async () => {
      // What tcpdump read but has not printed yet comes out on SIGTERM.
      await sleep(200);
      const exit = await this.capture.stop();
      return exit.stdout.split('\n').flatMap((line) => parseWireLine(line) ?? []);
    })();
    return this.stopped;
  }
}
