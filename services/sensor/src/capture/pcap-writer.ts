/**
 * Writes pcap and pcapng files, for tests (which build captures byte by byte and read them back)
 * and for tools that save packets. Builds the whole file in memory: not meant for live capture.
 */
import { writeFileSync } from 'node:fs';
import { PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS } from './pcap.js';
import { BLOCK_ENHANCED_PACKET, BLOCK_INTERFACE_DESCRIPTION, BLOCK_SECTION_HEADER, BLOCK_SIMPLE_PACKET, BYTE_ORDER_MAGIC } from './pcapng.js';
import { MAX_CAPTURED_LENGTH } from './source.js';
import { msToTicks, splitMs, ticksPerSecondForResolution } from './ticks.js';

export interface PcapRecord {
  /** ms since epoch, fractional */
  ts: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  wireLength?: number;
}

export interface PcapWriteOptions {
  linkType: number;
  nanosecond?: boolean;
  bigEndian?: boolean;
  /** Defaults to 262144. */
  snaplen?: number;
}

export interface PcapngInterfaceDescription {
  linkType: number;
  /** The if_tsresol byte: 6 = µs (the default), 9 = ns, 0x80 | n = 2^-n s. */
  tsresol?: number;
  /** Defaults to 0 (no limit). */
  snaplen?: number;
}

export interface PcapngRecord extends PcapRecord {
  interfaceIndex: number;
  /** Write a Simple Packet Block (no timestamp; interface 0 only) instead of an Enhanced one. */
  simple?: boolean;
}

export interface PcapngWriteOptions {
  bigEndian?: boolean;
}

/** Little helper that appends fixed-width numbers in one byte order. */
class ByteSink {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  constructor(private readonly bigEndian: boolean) {}

  u16(value: number): this {
    const part = Buffer.alloc(2);
    if (this.bigEndian) part.writeUInt16BE(value);
    else part.writeUInt16LE(value);
    return this.bytes(part);
  }

  u32(value: number): this {
    const part = Buffer.alloc(4);
    if (this.bigEndian) part.writeUInt32BE(value >>> 0);
    else part.writeUInt32LE(value >>> 0);
    return this.bytes(part);
  }

  i64(value: bigint): this {
    const part = Buffer.alloc(8);
    if (this.bigEndian) part.writeBigInt64BE(value);
    else part.writeBigInt64LE(value);
    return this.bytes(part);
  }

  bytes(data: Uint8Array): this {
    this.parts.push(data);
    this.length += data.length;
    return this;
  }

  /** Zero bytes up to the next multiple of 4, as pcapng pads every field. */
  pad4(): this {
    const padding = (4 - (this.length % 4)) % 4;
    return padding === 0 ? this : this.bytes(new Uint8Array(padding));
  }

  get size(): number {
    return this.length;
  }

  toBytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts, this.length));
  }
}

function checkRecord(data: Uint8Array): void {
  if (data.length > MAX_CAPTURED_LENGTH) throw new RangeError(`a ${data.length}-byte packet exceeds the ${MAX_CAPTURED_LENGTH}-byte limit of readers`);
}

/** A classic pcap file, as bytes. */
export function encodePcap(packets: readonly PcapRecord[], options: PcapWriteOptions): Uint8Array {
  const sink = new ByteSink(options.bigEndian ?? false);
  const unitsPerSecond = options.nanosecond ? 1e9 : 1e6;
  sink
    .u32(options.nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS)
    .u16(2)
    .u16(4)
    .u32(0) // thiszone: always UTC in practice
    .u32(0) // sigfigs
    .u32(options.snaplen ?? MAX_CAPTURED_LENGTH)
    .u32(options.linkType);
  for (const packet of packets) {
    checkRecord(packet.data);
    const { seconds, fraction } = splitMs(packet.ts, unitsPerSecond);
    sink.u32(seconds).u32(fraction).u32(packet.data.length).u32(packet.wireLength ?? packet.data.length).bytes(packet.data);
  }
  return sink.toBytes();
}

export function writePcap(path: string, packets: readonly PcapRecord[], options: PcapWriteOptions): void {
  writeFileSync(path, encodePcap(packets, options));
}

/** One pcapng block around `body` (padded to 4 bytes): type, length, body, length. */
export function encodePcapngBlock(type: number, body: Uint8Array, options: PcapngWriteOptions = {}): Uint8Array {
  const paddedLength = (body.length + 3) & ~3;
  const sink = new ByteSink(options.bigEndian ?? false);
  sink
    .u32(type)
    .u32(paddedLength + 12)
    .bytes(body)
    .bytes(new Uint8Array(paddedLength - body.length))
    .u32(paddedLength + 12);
  return sink.toBytes();
}

/** One pcapng section (a Section Header Block, the interfaces, the packets), as bytes. */
export function encodePcapng(interfaces: readonly PcapngInterfaceDescription[], packets: readonly PcapngRecord[], options: PcapngWriteOptions = {}): Uint8Array {
  const bigEndian = options.bigEndian ?? false;
  const body = (): ByteSink => new ByteSink(bigEndian);
  const blocks: Uint8Array[] = [];
  // Section length -1: unknown, which every reader accepts and spares us a second pass.
  blocks.push(encodePcapngBlock(BLOCK_SECTION_HEADER, body().u32(BYTE_ORDER_MAGIC).u16(1).u16(0).i64(-1n).toBytes(), options));
  for (const iface of interfaces) {
    const idb = body().u16(iface.linkType).u16(0).u32(iface.snaplen ?? 0);
    if (iface.tsresol !== undefined) idb.u16(9).u16(1).bytes(Uint8Array.of(iface.tsresol)).pad4().u16(0).u16(0);
    blocks.push(encodePcapngBlock(BLOCK_INTERFACE_DESCRIPTION, idb.toBytes(), options));
  }
  for (const packet of packets) {
    checkRecord(packet.data);
    const iface = interfaces[packet.interfaceIndex];
    if (!iface) throw new RangeError(`packet refers to interface ${packet.interfaceIndex}, but only ${interfaces.length} are described`);
    const wireLength = packet.wireLength ?? packet.data.length;
    if (packet.simple) {
      if (packet.interfaceIndex !== 0) throw new RangeError('a simple packet block always belongs to interface 0');
      blocks.push(encodePcapngBlock(BLOCK_SIMPLE_PACKET, body().u32(wireLength).bytes(packet.data).toBytes(), options));
      continue;
    }
    const { high, low } = msToTicks(packet.ts, ticksPerSecondForResolution(iface.tsresol ?? 6));
    const epb = body().u32(packet.interfaceIndex).u32(high).u32(low).u32(packet.data.length).u32(wireLength).bytes(packet.data);
    blocks.push(encodePcapngBlock(BLOCK_ENHANCED_PACKET, epb.toBytes(), options));
  }
  return new Uint8Array(Buffer.concat(blocks));
}

export function writePcapng(path: string, interfaces: readonly PcapngInterfaceDescription[], packets: readonly PcapngRecord[], options: PcapngWriteOptions = {}): void {
  writeFileSync(path, encodePcapng(interfaces, packets, options));
}
