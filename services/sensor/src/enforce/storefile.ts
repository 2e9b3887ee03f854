import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatStoredPeer, parseStorefile, type StoredPeer } from './storefile-format.js';

/** The storefile cannot be read, created or written: the message names the path and the key. */
export class StorefileError extends Error {
  override readonly name = 'StorefileError';
}

export interface StorefileLoad {
  peers: StoredPeer[];
  invalidLines: number;
  compacted: boolean;
}

/**
 * ftwall's storefile (-f): learned peers, one line each, appended unbuffered as they are
 * learned, so a crash loses at most the line being written. Loading drops torn and expired
 * lines; the file is rewritten (to a temporary file, then renamed) when it holds much more
 * than the live peers, or any damage.
 */
export class Storefile {
  private fd: number | null = null;
  private linesSinceCompaction = 0;

  constructor(readonly path: string) {}

  /**
   * Reads the file (absent: empty), compacts it if worthwhile, and opens it for appending. Its
   * folder is made when missing (a fresh gateway has no /var/lib/p2pwall); anything the system
   * refuses becomes a StorefileError that names the file and the config key.
   */
  open(now: number): StorefileLoad {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o750 });
      return this.load(now);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied (run as root, or set storefile to a writable path)' : (error as Error).message;
      throw new StorefileError(`storefile ${this.path}: ${reason} (config key storefile; null keeps learned peers in memory only)`, { cause: error });
    }
  }

  private load(now: number): StorefileLoad {
    const text = existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
    const parsed = parseStorefile(text, now);
    const compacted = parsed.invalidLines > 0 || parsed.tornTail || parsed.obsoleteLines > Math.max(1000, parsed.peers.length);
    if (compacted) this.rewrite(parsed.peers);
    this.fd = openSync(this.path, 'a', 0o640);
    this.linesSinceCompaction = compacted ? parsed.peers.length : parsed.peers.length + parsed.obsoleteLines;
    return { peers: parsed.peers, invalidLines: parsed.invalidLines, compacted };
  }

  append(peer: StoredPeer): void {
    if (this.fd === null) throw new Error(`storefile ${this.path} is not open`);
    writeSync(this.fd, formatStoredPeer(peer));
    this.linesSinceCompaction++;
  }

  /**
   * Rewrites the file when it holds more than twice as many lines as there are live peers (and
   * at least 1,000): a long-running sensor re-learns peers and appends refreshes all day.
   */
  compactIfWorthwhile(livePeerCount: number, livePeers: () => Iterable<StoredPeer>): boolean {
    if (this.linesSinceCompaction < Math.max(1000, 2 * livePeerCount)) return false;
    this.compact(livePeers());
    return true;
  }

  compact(livePeers: Iterable<StoredPeer>): void {
    const peers = [...livePeers];
    if (this.fd !== null) closeSync(this.fd);
    this.rewrite(peers);
    this.fd = openSync(this.path, 'a', 0o640);
    this.linesSinceCompaction = peers.length;
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }

  private rewrite(peers: readonly StoredPeer[]): void {
    const temporary = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(temporary, 'w', 0o640);
    try {
      writeSync(fd, peers.map(formatStoredPeer).join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    const directory = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(directory);
    } finally {
      closeSync(directory);
    }
  }
}
