/**
 * Opens a capture file by what it is, not what it is called: nDPI's dns.pcap, for one, is pcapng.
 */
import { ChunkedFile, DEFAULT_CHUNK_SIZE } from './chunked-file.js';
import { PcapReader, isPcapMagic } from './pcap.js';
import { BLOCK_SECTION_HEADER, PcapngReader } from './pcapng.js';
import { CaptureError } from './source.js';

export interface OpenCaptureOptions {
  /** Bytes read from the file at a time (tests use small chunks to cross chunk boundaries). */
  chunkSize?: number;
}

const SHOWN_BYTES = 8;

function firstBytesText(first: Uint8Array): string {
  const shown = Array.from(first.subarray(0, SHOWN_BYTES), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
  return first.length > SHOWN_BYTES ? `${shown} …` : shown;
}

function notACapture(path: string, first: Uint8Array): CaptureError {
  const bytes = firstBytesText(first);
  if (first[0] === 0x1f && first[1] === 0x8b) {
    return new CaptureError(`${path} is gzip-compressed (first bytes ${bytes}); decompress it first (gunzip), then read the capture inside`, { path, offset: 0 });
  }
  const size = first.length < 4 ? `, and only ${first.length} byte${first.length === 1 ? '' : 's'} long` : '';
  return new CaptureError(`${path} is not a pcap or pcapng capture (first bytes ${bytes}${size})`, { path, offset: 0 });
}

function isPcapngMagic(first: Uint8Array): boolean {
  // The section header type reads the same in both byte orders.
  return first.length >= 4 && ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0 === BLOCK_SECTION_HEADER;
}

/**
 * Opens a pcap or pcapng file and reads its header. A missing file, a directory, an empty file or
 * one that is not a capture give a CaptureError whose message can be shown to an operator as is.
 */
export function openCapture(path: string, options: OpenCaptureOptions = {}): PcapReader | PcapngReader {
  const file = ChunkedFile.open(path, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  try {
    file.ensure(SHOWN_BYTES + 1);
    const first = file.buffer.subarray(file.position, file.limit);
    if (first.length === 0) throw new CaptureError(`capture file ${path} is empty`, { path, offset: 0 });
    if (isPcapngMagic(first)) return new PcapngReader(file);
    if (isPcapMagic(first)) return new PcapReader(file);
    throw notACapture(path, first);
  } catch (error) {
    file.close();
    throw error;
  }
}
