/**
 * What the eDonkey module keeps for one flow: where a frame that spans segments ends, and the
 * requests the inside host sent whose answers may name peers. Nothing is buffered: a frame is
 * followed by counting its bytes, never by keeping them.
 */
import type { Evidence } from '../module.js';
// Words 0 and 3 of a 16-byte hash or Kad ID, as Gnutella compares a reply's GUID with its request's.
import { idWord } from '../id-words.js';

export class EdonkeyFlowState {
  /** Bytes the frame under way still needs from the stream, per direction (0: none followed). */
  outRemaining = 0;
  inRemaining = 0;
  /** What that frame will have shown once the stream confirms its length. */
  outPending: Evidence | null = null;
  inPending: Evidence | null = null;
  /** The inside host asked for a server list (TCP `14`, UDP `A0`) on this flow. */
  askedServerList = false;
  /** The inside host asked for sources (TCP `19`, UDP `9A`): words 0 and 3 of the file hash. */
  askedSources = false;
  sourcesFirst = 0;
  sourcesLast = 0;
  /** The inside host sent a KADEMLIA2_REQ: words 0 and 3 of its target. */
  askedKad = false;
  kadFirst = 0;
  kadLast = 0;
  /** The inside host sent a BOOTSTRAP_REQ. */
  askedBootstrap = false;

  noteSources(buf: Uint8Array, hashAt: number): void {
    this.askedSources = true;
    this.sourcesFirst = idWord(buf, hashAt, 0);
    this.sourcesLast = idWord(buf, hashAt, 3);
  }

  /** Whether a found-sources answer repeats the hash the host asked for. */
  answersSources(buf: Uint8Array, hashAt: number): boolean {
    return this.askedSources && idWord(buf, hashAt, 0) === this.sourcesFirst && idWord(buf, hashAt, 3) === this.sourcesLast;
  }

  isDone(): boolean {
    return this.outRemaining === 0 && this.inRemaining === 0 && !this.askedServerList && !this.askedSources && !this.askedKad && !this.askedBootstrap;
  }
}
