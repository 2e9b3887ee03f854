/**
 * Sequential reads of a file through one reused buffer, so that a capture of any size is read in
 * bounded memory: readers ask for the next N bytes, look at them in `buffer` from `position`, and
 * advance. The buffer grows only when one record is larger than it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CaptureError } from './source.js';

export const DEFAULT_CHUNK_SIZE = 1 << 20;

interface NodeError {
  code?: string;
  message: string;
}

function nodeErrorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as NodeError).code : undefined;
}

function openError(path: string, error: unknown): CaptureError {
  const code = nodeErrorCode(error);
  const details = { path, cause: error };
  if (code === 'ENOENT') return new CaptureError(`capture file ${path} does not exist`, details);
  if (code === 'EISDIR') return new CaptureError(`${path} is a directory, not a capture file`, details);
  if (code === 'EACCES' || code === 'EPERM') return new CaptureError(`cannot read capture file ${path}: permission denied`, details);
  if (code === 'ENOTDIR') return new CaptureError(`capture file ${path} does not exist (a part of its path is not a directory)`, details);
  const reason = error instanceof Error ? error.message : String(error);
  return new CaptureError(`cannot read capture file ${path}: ${reason}`, details);
}

export class ChunkedFile {
  /** The bytes read so far that are not yet consumed live in buffer[position, limit). */
  buffer: Buffer;
  /**
   * The same memory as a plain Uint8Array, to hand out packet views from: Buffer's slice() is a
   * view rather than a copy, a trap for callers who copy a packet to keep it.
   */
  bytes: Uint8Array;
  position = 0;
  limit = 0;
  /** File offset of buffer[0]. */
  private base = 0;
  private fd: number | null;
  private atEnd = false;

  private constructor(
    readonly path: string,
    fd: number,
    chunkSize: number,
  ) {
    this.fd = fd;
    this.buffer = Buffer.allocUnsafe(chunkSize);
    this.bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  }

  /** Opens a file (or a pipe) for reading; problems an operator can fix become CaptureErrors. */
  static open(path: string, chunkSize = DEFAULT_CHUNK_SIZE): ChunkedFile {
    if (!Number.isInteger(chunkSize) || chunkSize < 16) throw new RangeError(`chunk size ${chunkSize} is below 16 bytes`);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      throw openError(path, error);
    }
    try {
      // Opening a directory for reading succeeds on Linux; reading it is what fails.
      if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    } catch (error) {
      closeSync(fd);
      throw openError(path, error);
    }
    return new ChunkedFile(path, fd, chunkSize);
  }

  /** File offset of the next unconsumed byte. */
  get offset(): number {
    return this.base + this.position;
  }

  /** Unconsumed bytes already in the buffer. */
  get available(): number {
    return this.limit - this.position;
  }

  /**
   * Makes `length` bytes readable from `position`, reading more of the file if needed. False
   * when the file ends first. The buffer may move or be replaced: re-read `buffer` and
   * `position` after calling this.
   */
  ensure(length: number): boolean {
    if (this.limit - this.position >= length) return true;
    if (this.atEnd || this.fd === null) return false;
    this.refill(length);
    return this.limit - this.position >= length;
  }

  advance(length: number): void {
    this.position += length;
  }

  /** Consumes `length` bytes without keeping them in memory; false when the file ends first. */
  skip(length: number): boolean {
    let remaining = length;
    for (;;) {
      const here = this.limit - this.position;
      if (here >= remaining) {
        this.position += remaining;
        return true;
      }
      remaining -= here;
      this.position = this.limit;
      if (!this.ensure(1)) return false;
    }
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }

  private refill(length: number): void {
    const pending = this.limit - this.position;
    if (length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(length, this.buffer.length * 2));
      this.buffer.copy(grown, 0, this.position, this.limit);
      this.buffer = grown;
      this.bytes = new Uint8Array(grown.buffer, grown.byteOffset, grown.length);
    } else if (pending > 0) {
      this.buffer.copyWithin(0, this.position, this.limit);
    }
    this.base += this.position;
    this.position = 0;
    this.limit = pending;
    // Ask for a whole buffer each time but stop once `length` is there, so a pipe that delivers
    // little at a time does not block us waiting for a full chunk.
    while (this.limit < length) {
      const count = this.read(this.limit, this.buffer.length - this.limit);
      if (count === 0) {
        this.atEnd = true;
        return;
      }
      this.limit += count;
    }
  }

  private read(at: number, length: number): number {
    try {
      return readSync(this.fd!, this.buffer, at, length, null);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CaptureError(`cannot read capture file ${this.path} at byte offset ${this.base + at}: ${reason}`, { path: this.path, offset: this.base + at, cause: error });
    }
  }
}
