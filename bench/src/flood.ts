/**
 * A flow flood: every packet a UDP datagram that opens a flow nobody saw before (a scan, a
 * P2P client spraying its peer cache, or an attack on the sensor's memory). One template frame
 * from the lab's builders, copied and patched per packet straight into one buffer.
 */
import { SYNTHETIC_EPOCH, ethernet, seededRandom, udp } from '@p2pwall/lab';
import type { InMemoryCapture } from './frames.js';

export interface FloodOptions {
  packets: number;
  /** Inside hosts the datagrams come from (10.2.0.0/16); each sends from sequential ports. */
  insideHosts: number;
  /** Simulated packet rate, which sets the capture's time span (packets / rate). */
  packetsPerSecond: number;
  seed: number;
}

export const DEFAULT_FLOOD: FloodOptions = { packets: 1_000_000, insideHosts: 1000, packetsPerSecond: 100_000, seed: 7 };

const ETHERNET_HEADER = 14;
const IP_CHECKSUM = ETHERNET_HEADER + 10;
const IP_SRC = ETHERNET_HEADER + 12;
const IP_DST = ETHERNET_HEADER + 16;
const UDP_HEADER = ETHERNET_HEADER + 20;

function ipv4HeaderChecksum(frame: Uint8Array, offset: number): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) sum += (frame[offset + i]! << 8) | frame[offset + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * `packets` datagrams, each from a distinct (inside host, source port) pair to a random
 * address in 198.18.0.0/15 and a random high port: every one starts a new flow.
 */
export function buildFlowFlood(options: FloodOptions = DEFAULT_FLOOD): InMemoryCapture {
  if (options.packets > options.insideHosts * 64_000) throw new RangeError('flood: too few inside hosts for that many distinct flows');
  const random = seededRandom(options.seed);
  const payload = new Uint8Array(32).fill(0x5a);
  const template = ethernet(udp({ src: '10.2.1.1', dst: '198.18.0.1', sport: 1024, dport: 1024, payload }));
  const size = template.length;
  const buffer = new Uint8Array(size * options.packets);
  const frames: Uint8Array[] = new Array<Uint8Array>(options.packets);
  const ts = new Float64Array(options.packets);
  const step = 1000 / options.packetsPerSecond;
  for (let i = 0; i < options.packets; i++) {
    const offset = i * size;
    buffer.set(template, offset);
    const host = i % options.insideHosts;
    const sport = 1024 + Math.floor(i / options.insideHosts);
    const k = Math.floor(random() * 131_072);
    const dport = 1024 + Math.floor(random() * 64_512);
    buffer[offset + IP_SRC + 2] = 1 + Math.floor(host / 250);
    buffer[offset + IP_SRC + 3] = 1 + (host % 250);
    buffer[offset + IP_DST + 1] = 18 + (k >> 16);
    buffer[offset + IP_DST + 2] = (k >> 8) & 255;
    buffer[offset + IP_DST + 3] = k & 255;
    const checksum = ipv4HeaderChecksum(buffer, offset + ETHERNET_HEADER);
    buffer[offset + IP_CHECKSUM] = checksum >> 8;
    buffer[offset + IP_CHECKSUM + 1] = checksum & 0xff;
    buffer[offset + UDP_HEADER] = sport >> 8;
    buffer[offset + UDP_HEADER + 1] = sport & 0xff;
    buffer[offset + UDP_HEADER + 2] = dport >> 8;
    buffer[offset + UDP_HEADER + 3] = dport & 0xff;
    // A zero UDP checksum means "none" over IPv4: valid, and nothing to recompute.
    buffer[offset + UDP_HEADER + 6] = 0;
    buffer[offset + UDP_HEADER + 7] = 0;
    frames[i] = buffer.subarray(offset, offset + size);
    ts[i] = SYNTHETIC_EPOCH + i * step;
  }
  return { frames, ts, chunks: [buffer], bytes: buffer.length };
}
