/**
 * pcapng: a sequence of blocks (type, total length, body, total length again). A Section Header
 * Block sets the byte order of the blocks after it and starts a fresh set of interfaces; Interface
 * Description Blocks give each interface its link type, snapshot length and timestamp
 * resolution; packets come in Enhanced (or the obsolete plain) and Simple Packet Blocks. Every
 * other block (name resolution, statistics, secrets, custom, …) is skipped by its length.
 */
import type { ChunkedFile } from './chunked-file.js';
import { type CapturedPacket, type PacketSource, CaptureError, MAX_CAPTURED_LENGTH, MAX_TIMESTAMP_MS, damagedCapture } from './source.js';
import { ticksPerSecondForResolution, ticksToMs } from './ticks.js';

export const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
export const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
/** The Packet Block of pcapng drafts before EPB; old writers still produced it. */
export const BLOCK_PACKET_OBSOLETE = 0x00000002;
export const BLOCK_SIMPLE_PACKET = 0x00000003;
export const BLOCK_NAME_RESOLUTION = 0x00000004;
export const BLOCK_INTERFACE_STATISTICS = 0x00000005;
export const BLOCK_ENHANCED_PACKET = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPTION_END = 0;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;
const DEFAULT_TSRESOL = 6;

/**
 * Longest block accepted, as in Wireshark: a length beyond this in a block header means the file
 * is damaged, not that a 4 GiB block follows.
 */
export const MAX_BLOCK_LENGTH = 16 * 1024 * 1024;

/** Smallest valid total length of each block type we read (header, fixed fields, trailer). */
const MIN_BLOCK_LENGTH: Record<number, number> = {
  [BLOCK_SECTION_HEADER]: 28,
  [BLOCK_INTERFACE_DESCRIPTION]: 20,
  [BLOCK_PACKET_OBSOLETE]: 32,
  [BLOCK_SIMPLE_PACKET]: 16,
  [BLOCK_ENHANCED_PACKET]: 32,
};
const MIN_ANY_BLOCK_LENGTH = 12;

const BLOCK_NAMES: Record<number, string> = {
  [BLOCK_SECTION_HEADER]: 'section header block',
  [BLOCK_INTERFACE_DESCRIPTION]: 'interface description block',
  [BLOCK_PACKET_OBSOLETE]: 'packet block',
  [BLOCK_SIMPLE_PACKET]: 'simple packet block',
  [BLOCK_NAME_RESOLUTION]: 'name resolution block',
  [BLOCK_INTERFACE_STATISTICS]: 'interface statistics block',
  [BLOCK_ENHANCED_PACKET]: 'enhanced packet block',
};

function blockName(type: number): string {
  return `${BLOCK_NAMES[type] ?? 'block'} (type 0x${type.toString(16)})`;
}

export interface CaptureInterface {
  /** Section (0-based) whose Interface Description Block defined it. */
  section: number;
  linkType: number;
  /** 0 when the writer set no limit. */
  snaplen: number;
  ticksPerSecond: number;
  /** if_tsoffset: seconds to add to every timestamp of this interface. */
  offsetSeconds: number;
}

export class PcapngReader implements PacketSource {
  readonly path: string;
  /**
   * Every interface of the file in the order of their description blocks, over all sections.
   * A packet's interfaceIndex indexes this list, so interfaces of different sections differ;
   * in a file of one section it equals the interface id written in the packet block.
   */
  readonly interfaces: CaptureInterface[] = [];
  truncatedRecords = 0;
  packetCount = 0;
  sections = 0;
  /** Blocks passed over by their length (statistics, name resolution, custom, …). */
  skippedBlocks = 0;

  private readonly file: ChunkedFile;
  private readonly packet: CapturedPacket = { ts: 0, data: new Uint8Array(0), wireLength: 0, linkType: 0, interfaceIndex: 0 };
  private littleEndian = true;
  /** Index in `interfaces` of the current section's interface 0. */
  private sectionStart = 0;
  /** Simple Packet Blocks carry no time; they get the time of the packet before them. */
  private lastTs = 0;
  private ended = false;

  /** The file must be positioned at its first block, a Section Header Block. */
  constructor(file: ChunkedFile) {
    this.file = file;
    this.path = file.path;
  }

  next(): CapturedPacket | null {
    if (this.ended) return null;
    const file = this.file;
    for (;;) {
      if (!file.ensure(MIN_ANY_BLOCK_LENGTH)) return this.end(file.available > 0);
      const blockOffset = file.offset;
      const type = this.u32(file.position);
      if (type === BLOCK_SECTION_HEADER) this.readByteOrder(blockOffset);
      else if (this.sections === 0) throw damagedCapture(this.path, blockOffset, 'the pcapng file does not begin with a section header block');
      const length = this.u32(file.position + 4);
      this.checkBlockLength(type, length, blockOffset);

      switch (type) {
        case BLOCK_ENHANCED_PACKET:
        case BLOCK_PACKET_OBSOLETE:
        case BLOCK_SIMPLE_PACKET: {
          if (!file.ensure(length)) return this.end(true);
          this.checkTrailer(file.position + length - 4, length, blockOffset);
          const packet = type === BLOCK_SIMPLE_PACKET ? this.simplePacket(length, blockOffset) : this.enhancedPacket(type, length, blockOffset);
          file.advance(length);
          this.packetCount++;
          return packet;
        }
        case BLOCK_SECTION_HEADER:
        case BLOCK_INTERFACE_DESCRIPTION:
          if (!file.ensure(length)) return this.end(true);
          this.checkTrailer(file.position + length - 4, length, blockOffset);
          if (type === BLOCK_SECTION_HEADER) this.sectionHeader(blockOffset);
          else this.interfaceDescription(length);
          file.advance(length);
          continue;
        default:
          // Skipped without holding it in memory: a custom block may be megabytes of data.
          if (!file.skip(length - 4) || !file.ensure(4)) return this.end(true);
          this.checkTrailer(file.position, length, blockOffset);
          file.advance(4);
          this.skippedBlocks++;
      }
    }
  }

  close(): void {
    this.ended = true;
    this.file.close();
  }

  private end(truncated: boolean): null {
    this.ended = true;
    if (truncated) this.truncatedRecords++;
    return null;
  }

  private u32(at: number): number {
    return this.littleEndian ? this.file.buffer.readUInt32LE(at) : this.file.buffer.readUInt32BE(at);
  }

  private u16(at: number): number {
    return this.littleEndian ? this.file.buffer.readUInt16LE(at) : this.file.buffer.readUInt16BE(at);
  }

  /** The section header's byte-order magic decides how every later number is read. */
  private readByteOrder(blockOffset: number): void {
    const at = this.file.position + 8;
    const buf = this.file.buffer;
    if (buf.readUInt32LE(at) === BYTE_ORDER_MAGIC) this.littleEndian = true;
    else if (buf.readUInt32BE(at) === BYTE_ORDER_MAGIC) this.littleEndian = false;
    else throw damagedCapture(this.path, blockOffset, `section header block has byte-order magic 0x${buf.readUInt32BE(at).toString(16)} instead of 0x1a2b3c4d`);
  }

  private checkBlockLength(type: number, length: number, blockOffset: number): void {
    const minimum = MIN_BLOCK_LENGTH[type] ?? MIN_ANY_BLOCK_LENGTH;
    if (length >= minimum && length <= MAX_BLOCK_LENGTH && length % 4 === 0) return;
    throw damagedCapture(
      this.path,
      blockOffset,
      `the ${blockName(type)} there claims a length of ${length} bytes (it must be a multiple of 4 from ${minimum} to ${MAX_BLOCK_LENGTH})`,
    );
  }

  /** Both copies of the block length must agree, or we have lost our place in the file. */
  private checkTrailer(at: number, length: number, blockOffset: number): void {
    const trailer = this.u32(at);
    if (trailer !== length) {
      throw damagedCapture(this.path, blockOffset, `the block there starts with length ${length} but ends with length ${trailer}`);
    }
  }

  private sectionHeader(blockOffset: number): void {
    const at = this.file.position;
    const major = this.u16(at + 12);
    const minor = this.u16(at + 14);
    if (major !== 1) {
      throw new CaptureError(`capture file ${this.path} has a pcapng section of version ${major}.${minor} at byte offset ${blockOffset}; only version 1 is defined`, {
        path: this.path,
        offset: blockOffset,
      });
    }
    this.sections++;
    this.sectionStart = this.interfaces.length;
  }

  private interfaceDescription(length: number): void {
    const at = this.file.position;
    const linkType = this.u16(at + 8);
    const snaplen = this.u32(at + 12);
    let tsresol = DEFAULT_TSRESOL;
    let offsetSeconds = 0;
    // Options only refine timestamps; a damaged option list ends the walk rather than the file.
    const end = at + length - 4;
    for (let cursor = at + 16; cursor + 4 <= end; ) {
      const code = this.u16(cursor);
      const valueLength = this.u16(cursor + 2);
      if (code === OPTION_END || cursor + 4 + valueLength > end) break;
      if (code === OPTION_IF_TSRESOL && valueLength >= 1) tsresol = this.file.buffer[cursor + 4]!;
      if (code === OPTION_IF_TSOFFSET && valueLength === 8) {
        const buf = this.file.buffer;
        offsetSeconds = Number(this.littleEndian ? buf.readBigInt64LE(cursor + 4) : buf.readBigInt64BE(cursor + 4));
      }
      cursor += 4 + ((valueLength + 3) & ~3);
    }
    this.interfaces.push({ section: this.sections - 1, linkType, snaplen, ticksPerSecond: ticksPerSecondForResolution(tsresol), offsetSeconds });
  }

  private interfaceOf(interfaceId: number, blockOffset: number, what: string): number {
    const defined = this.interfaces.length - this.sectionStart;
    if (interfaceId < defined) return this.sectionStart + interfaceId;
    const problem = defined === 0 ? `${what} comes before any interface description block` : `${what} refers to interface ${interfaceId}, but its section describes only ${defined}`;
    throw damagedCapture(this.path, blockOffset, problem);
  }

  private enhancedPacket(type: number, length: number, blockOffset: number): CapturedPacket {
    const at = this.file.position;
    const what = type === BLOCK_ENHANCED_PACKET ? 'an enhanced packet block' : 'a packet block';
    // The obsolete Packet Block has a 16-bit interface id followed by a 16-bit drop count.
    const interfaceId = type === BLOCK_ENHANCED_PACKET ? this.u32(at + 8) : this.u16(at + 8);
    const index = this.interfaceOf(interfaceId, blockOffset, what);
    const capturedLength = this.u32(at + 20);
    const room = length - 32;
    if (capturedLength > room || capturedLength > MAX_CAPTURED_LENGTH) {
      const limit = capturedLength > room ? `the ${room} bytes its block holds` : `the ${MAX_CAPTURED_LENGTH} bytes a packet can have`;
      throw damagedCapture(this.path, blockOffset, `${what} claims ${capturedLength} captured bytes, more than ${limit}`);
    }
    const iface = this.interfaces[index]!;
    const packet = this.packet;
    const ts = ticksToMs(this.u32(at + 12), this.u32(at + 16), iface.ticksPerSecond, iface.offsetSeconds);
    // 64 bits of ticks (and if_tsoffset) reach past any date: reports and events could not name the time.
    if (!(Math.abs(ts) <= MAX_TIMESTAMP_MS)) throw damagedCapture(this.path, blockOffset, `${what} has a timestamp of ${ts} ms, beyond the range of dates (±${MAX_TIMESTAMP_MS} ms around 1970)`);
    packet.ts = ts;
    packet.data = this.file.bytes.subarray(at + 28, at + 28 + capturedLength);
    packet.wireLength = this.u32(at + 24);
    packet.linkType = iface.linkType;
    packet.interfaceIndex = index;
    this.lastTs = packet.ts;
    return packet;
  }

  private simplePacket(length: number, blockOffset: number): CapturedPacket {
    const at = this.file.position;
    const index = this.interfaceOf(0, blockOffset, 'a simple packet block');
    const iface = this.interfaces[index]!;
    const wireLength = this.u32(at + 8);
    // No captured length is stored: it is what the snapshot length and the block leave.
    let capturedLength = Math.min(wireLength, length - 16);
    if (iface.snaplen > 0) capturedLength = Math.min(capturedLength, iface.snaplen);
    const packet = this.packet;
    packet.ts = this.lastTs;
    packet.data = this.file.bytes.subarray(at + 12, at + 12 + capturedLength);
    packet.wireLength = wireLength;
    packet.linkType = iface.linkType;
    packet.interfaceIndex = index;
    return packet;
  }
}
