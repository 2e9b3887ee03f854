/**
 * The lab torrent as libtorrent makes it (`bt_peer.py make`), without a network: the same file
 * and info hash on every run, 64 pieces of 256 KiB. Skipped without python3-libtorrent.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BT_PEER, LAB_TORRENT, SYSTEM_PYTHON, swarmUnavailableReason } from '../src/index.js';

const UNAVAILABLE = swarmUnavailableReason();
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function make(): { torrent: string; infoHash: string; magnet: string; pieces: number; pieceLength: number; size: number } {
  const dir = mkdtempSync(join(tmpdir(), 'p2pwall-torrent-'));
  dirs.push(dir);
  const out = execFileSync(SYSTEM_PYTHON, [BT_PEER, 'make', '--dir', dir, '--size', String(LAB_TORRENT.size), '--piece-size', String(LAB_TORRENT.pieceLength)], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(out) as ReturnType<typeof make>;
}

describe.skipIf(UNAVAILABLE !== '')(`the lab torrent${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`, () => {
  it('is the same file, with the same info hash, on every run: 16 MiB in 64 pieces of 256 KiB', () => {
    const [first, second] = [make(), make()];
    expect(first).toMatchObject({ size: 16 * 1024 * 1024, pieceLength: 256 * 1024, pieces: 64 });
    expect(first.infoHash).toMatch(/^[0-9a-f]{40}$/);
    expect(second.infoHash).toBe(first.infoHash);
    expect(readFileSync(second.torrent).equals(readFileSync(first.torrent))).toBe(true);
    expect(first.magnet).toBe(`magnet:?xt=urn:btih:${first.infoHash}&dn=p2pwall-lab.bin`);
  }, 60_000);
});
