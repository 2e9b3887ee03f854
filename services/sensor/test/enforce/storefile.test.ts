import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Storefile } from '../../src/enforce/storefile.js';
import { formatStoredPeer, parseStorefile, type StoredPeer } from '../../src/enforce/storefile-format.js';

const peer = (ip: string, port: number, expiresAt = 10_000): StoredPeer => ({
  ip, port, transport: 'both', protocol: 'fasttrack', via: 'udp-ping', learnedFrom: '192.168.1.5', learnedAt: 1000, expiresAt,
});

describe('storefile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'p2pwall-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends learned peers and reads them back after a restart', () => {
    const path = join(dir, 'peers');
    const first = new Storefile(path);
    expect(first.open(0).peers).toEqual([]);
    first.append(peer('203.0.113.9', 1214));
    first.append(peer('2001:db8::7', 3531));
    first.close();
    const again = new Storefile(path);
    const loaded = again.open(0);
    again.close();
    expect(loaded.peers).toEqual([peer('203.0.113.9', 1214), peer('2001:db8::7', 3531)]);
    expect(loaded.compacted).toBe(false);
  });

  it('ignores a torn last line (a crash mid-write) and repairs the file', () => {
    const path = join(dir, 'peers');
    writeFileSync(path, formatStoredPeer(peer('203.0.113.9', 1214)));
    appendFileSync(path, formatStoredPeer(peer('203.0.113.10', 1214)).slice(0, 30));
    const store = new Storefile(path);
    const loaded = store.open(0);
    expect(loaded.peers.map((p) => p.ip)).toEqual(['203.0.113.9']);
    expect(loaded.invalidLines).toBe(1);
    expect(loaded.compacted).toBe(true);
    store.append(peer('203.0.113.11', 1214));
    store.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).ip)).toEqual(['203.0.113.9', '203.0.113.11']);
  });

  it('lets the latest line for a peer win and leaves out expired peers', () => {
    const text = [peer('203.0.113.9', 1214, 5000), peer('203.0.113.9', 1214, 9000), peer('198.51.100.1', 80, 1500)].map(formatStoredPeer).join('');
    const parsed = parseStorefile(text, 2000);
    expect(parsed.peers).toEqual([peer('203.0.113.9', 1214, 9000)]);
    expect(parsed.obsoleteLines).toBe(2);
  });

  it('compacts on load when most lines are obsolete, keeping only live peers', () => {
    const path = join(dir, 'peers');
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(formatStoredPeer(peer('203.0.113.9', 1214, 1000 + i)));
    writeFileSync(path, lines.join(''));
    const store = new Storefile(path);
    const loaded = store.open(2000);
    store.close();
    expect(loaded.compacted).toBe(true);
    expect(loaded.peers).toEqual([peer('203.0.113.9', 1214, 3999)]);
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(1);
  });

  it('compacts a long-running file once its lines outnumber twice the live peers', () => {
    const path = join(dir, 'peers');
    const store = new Storefile(path);
    store.open(0);
    const live = [peer('203.0.113.9', 1214, 50_000)];
    for (let i = 0; i < 999; i++) store.append(peer('203.0.113.9', 1214, 10_000 + i));
    expect(store.compactIfWorthwhile(1, () => live)).toBe(false);
    store.append(live[0]!);
    expect(store.compactIfWorthwhile(1, () => live)).toBe(true);
    store.append(peer('198.51.100.1', 80));
    store.close();
    expect(readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).ip)).toEqual(['203.0.113.9', '198.51.100.1']);
  });

  it('rejects records with bad addresses, ports or types', () => {
    const bad = ['{"ip":"999.1.1.1","port":1,"protocol":"x","via":"y","learnedFrom":null,"learnedAt":1,"expiresAt":2}', '{"ip":"203.0.113.1","port":70000,"protocol":"x","via":"y","learnedFrom":null,"learnedAt":1,"expiresAt":2}', 'garbage', '[]'];
    expect(parseStorefile(`${bad.join('\n')}\n`, 0)).toMatchObject({ peers: [], invalidLines: 4 });
  });
});
