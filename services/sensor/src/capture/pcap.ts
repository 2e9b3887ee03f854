/**
 * Classic pcap (libpcap's file format): a 24-byte file header, then records of a 16-byte header
 * and the frame bytes. Either byte order; microsecond or nanosecond timestamps, chosen by the magic.
 * The header's time zone field is ignored, as libpcap does: writers always leave it 0 (UTC).
 */
import type { ChunkedFile } from './chunked-file.js';
import { type CapturedPacket, type PacketSource, CaptureError, MAX_CAPTURED_LENGTH, damagedCapture } from './source.js';

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;

const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

/** True when the first four bytes are a pcap magic in either byte order. */
export function isPcapMagic(first: Uint8Array): boolean {
  if (first.length < 4) return false;
  const big = ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0;
  const little = ((first[3]! << 24) | (first[2]! << 16) | (first[1]! << 8) | first[0]!) >>> 0;
  return [big, little].some((magic) => magic === PCAP_MAGIC_MICROSECONDS || magic === PCAP_MAGIC_NANOSECONDS);
}

export class PcapReader implements PacketSource {
  readonly path: string;
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snaplen: number;
  readonly linkType: number;
  truncatedRecords = 0;
  packetCount = 0;

  private readonly file: ChunkedFile;
  /** Units of the record's sub-second field per millisecond (divided, not multiplied, to round once). */
  private readonly fractionsPerMs: number;
  private readonly packet: CapturedPacket;
  private ended = false;

  /** Reads the file header; the file must be positioned at its start. */
  constructor(file: ChunkedFile) {
    this.file = file;
    this.path = file.path;
    if (!file.ensure(FILE_HEADER_LENGTH)) {
      throw new CaptureError(`capture file ${file.path} is cut short inside its pcap file header (${file.available} of ${FILE_HEADER_LENGTH} bytes)`, { path: file.path, offset: 0 });
    }
    const buf = file.buffer;
    const at = file.position;
    const magic = buf.readUInt32LE(at);
    this.littleEndian = magic === PCAP_MAGIC_MICROSECONDS || magic === PCAP_MAGIC_NANOSECONDS;
    const ordered = this.littleEndian ? magic : buf.readUInt32BE(at);
    if (ordered !== PCAP_MAGIC_MICROSECONDS && ordered !== PCAP_MAGIC_NANOSECONDS) {
      throw damagedCapture(file.path, 0, `0x${magic.toString(16)} is not a pcap magic number`);
    }
    this.nanosecond = ordered === PCAP_MAGIC_NANOSECONDS;
    this.fractionsPerMs = this.nanosecond ? 1e6 : 1e3;
    this.versionMajor = this.littleEndian ? buf.readUInt16LE(at + 4) : buf.readUInt16BE(at + 4);
    this.versionMinor = this.littleEndian ? buf.readUInt16LE(at + 6) : buf.readUInt16BE(at + 6);
    if (this.versionMajor !== 2) {
      throw new CaptureError(`capture file ${file.path} is pcap version ${this.versionMajor}.${this.versionMinor}; only version 2 exists in practice, so the file is probably damaged`, { path: file.path, offset: 4 });
    }
    this.snaplen = this.littleEndian ? buf.readUInt32LE(at + 16) : buf.readUInt32BE(at + 16);
    // The upper bits of this field carry FCS information in newer writers; the type is the low 16.
    this.linkType = (this.littleEndian ? buf.readUInt32LE(at + 20) : buf.readUInt32BE(at + 20)) & 0xffff;
    file.advance(FILE_HEADER_LENGTH);
    this.packet = { ts: 0, data: new Uint8Array(0), wireLength: 0, linkType: this.linkType, interfaceIndex: 0 };
  }

  next(): CapturedPacket | null {
    if (this.ended) return null;
    const file = this.file;
    if (!file.ensure(RECORD_HEADER_LENGTH)) return this.end();
    const le = this.littleEndian;
    const buf = file.buffer;
    const header = file.position;
    const seconds = le ? buf.readUInt32LE(header) : buf.readUInt32BE(header);
    const fraction = le ? buf.readUInt32LE(header + 4) : buf.readUInt32BE(header + 4);
    const capturedLength = le ? buf.readUInt32LE(header + 8) : buf.readUInt32BE(header + 8);
    const wireLength = le ? buf.readUInt32LE(header + 12) : buf.readUInt32BE(header + 12);
    // Bounded by what a record can hold, not by snaplen: writers put 0, 0xffffffff or a value
    // smaller than their records there, and libpcap reads each record as its header gives it.
    if (capturedLength > MAX_CAPTURED_LENGTH) throw this.impossibleLength(capturedLength);
    const recordLength = RECORD_HEADER_LENGTH + capturedLength;
    // Reading the rest may move the record within the buffer (or to a new one).
    if (!file.ensure(recordLength)) return this.end();
    const at = file.position;
    const packet = this.packet;
    packet.ts = seconds * 1000 + fraction / this.fractionsPerMs;
    packet.data = file.bytes.subarray(at + RECORD_HEADER_LENGTH, at + recordLength);
    packet.wireLength = wireLength;
    file.advance(recordLength);
    this.packetCount++;
    return packet;
  }

  close(): void {
    this.ended = true;
    this.file.close();
  }

  /** End of the records: whatever bytes are left are a record the file was cut inside. */
  private end(): null {
    this.ended = true;
    if (this.file.available > 0) this.truncatedRecords++;
    return null;
  }

  private impossibleLength(capturedLength: number): CaptureError {
    return damagedCapture(this.path, this.file.offset, `a packet record claims ${capturedLength} captured bytes, more than the ${MAX_CAPTURED_LENGTH} bytes a packet record can hold`);
  }
}
