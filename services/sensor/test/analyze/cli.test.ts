import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, writeScenario } from '@p2pwall/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { SENSOR_CLI } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const demo = join(dir, 'demo.pcap');
writeScenario(demo, SCENARIOS['kazaa-demo']!());

function sensor(...args: string[]) {
  const run = spawnSync(process.execPath, [SENSOR_CLI, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('p2pwall-sensor (built binary)', () => {
  it('answers --version and explains every analyze option in --help', () => {
    expect(sensor('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = sensor('analyze', '--help').stdout;
    for (const option of ['--inside', '--format', '--time-lock', '--no-udp-drop', '--monitor', '--open-ports', '--storefile', '--max-flows', '--correlate']) expect(help).toContain(option);
  });

  it('prints jsonl: client, peer and flow events, then one summary line last', () => {
    const run = sensor('analyze', '--format', 'jsonl', demo);
    expect(run.code).toBe(0);
    const events = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { event: string; [key: string]: unknown });
    expect(events.at(-1)).toMatchObject({ event: 'summary', packets: SCENARIOS['kazaa-demo']!().frames.length, clients: 3, peers: 207, malformed: 0 });
    expect(events.filter((e) => e.event === 'summary')).toHaveLength(1);
    expect(events.find((e) => e.event === 'client')).toMatchObject({ host: '192.168.1.5', protocol: 'fasttrack', evidence: [expect.objectContaining({ rule: 'fasttrack/udp-ping' })] });
    expect(events.find((e) => e.event === 'peer')).toMatchObject({ protocol: 'fasttrack', via: 'fasttrack/udp-ping', port: expect.any(Number) });
    expect(events.find((e) => e.event === 'flow')).toHaveProperty('verdict');
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['client', 'peer', 'flow', 'summary']));
  });

  it('prints a readable report by default', () => {
    const run = sensor('analyze', demo);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Clients identified: 3');
    expect(run.stdout).toContain('Peers learned: 207');
    expect(run.stdout).toMatch(/192\.168\.1\.5 +fasttrack/);
  });

  it('honours --inside: with no inside network matching, nothing is learned or dropped', () => {
    const run = sensor('analyze', '--format', 'jsonl', '--inside', '10.99.0.0/16', demo);
    const summary = JSON.parse(run.stdout.trimEnd().split('\n').at(-1)!);
    expect(summary).toMatchObject({ clients: 0, peers: 0, droppedPackets: 0 });
    expect(summary.flowsByApp.fasttrack).toBeGreaterThan(0);
  });

  it('--monitor drops nothing and -n drops no UDP', () => {
    const monitor = JSON.parse(sensor('analyze', '--format', 'jsonl', '--monitor', demo).stdout.trimEnd().split('\n').at(-1)!);
    expect(monitor).toMatchObject({ droppedPackets: 0, clients: 3, peers: 207 });
    expect(monitor.wouldDropPackets).toBeGreaterThan(200);
    const noUdp = sensor('analyze', '--format', 'jsonl', '-n', demo).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(noUdp.filter((e) => e.event === 'flow' && e.proto === 'udp' && e.verdict === 'drop')).toEqual([]);
    expect(noUdp.filter((e) => e.event === 'flow' && e.proto === 'tcp' && e.verdict === 'drop').length).toBeGreaterThan(0);
  });

  it('fills a storefile, and a second run blocks those peers from its first packet', () => {
    const store = join(dir, 'peers.store');
    expect(sensor('analyze', '--storefile', store, demo).code).toBe(0);
    expect(readFileSync(store, 'utf8').trimEnd().split('\n')).toHaveLength(207);
    const again = sensor('analyze', '--format', 'jsonl', '--storefile', store, demo).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(again.filter((e) => e.event === 'peer')).toEqual([]);
    const firstPing = again.find((e) => e.event === 'flow' && e.src === '192.168.1.5' && e.proto === 'udp');
    expect(firstPing.verdict).toBe('drop');
  });

  it('gives a clear error and a non-zero exit for a missing, foreign or corrupt capture', () => {
    const missing = sensor('analyze', join(dir, 'nope.pcap'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    const foreign = join(dir, 'notes.txt');
    writeFileSync(foreign, 'hello, this is not a capture\n');
    const notCapture = sensor('analyze', foreign);
    expect(notCapture.code).toBe(2);
    expect(notCapture.stderr).toMatch(/is not a pcap or pcapng capture/);
    const corrupt = join(dir, 'corrupt.pcap');
    const bytes = readFileSync(demo);
    bytes.writeUInt32LE(0x7fffffff, 24 + 8); // the first record's captured length
    writeFileSync(corrupt, bytes);
    const broken = sensor('analyze', corrupt);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/corrupt\.pcap/);
    for (const run of [missing, notCapture, broken]) expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with a clear error, no stack, for a pcapng timestamp beyond the range of dates (104 bytes)', () => {
    const shb = Buffer.alloc(28);
    shb.writeUInt32LE(0x0a0d0d0a, 0);
    shb.writeUInt32LE(28, 4);
    shb.writeUInt32LE(0x1a2b3c4d, 8);
    shb.writeUInt16LE(1, 12);
    shb.writeBigInt64LE(-1n, 16);
    shb.writeUInt32LE(28, 24);
    const idb = Buffer.alloc(20);
    idb.writeUInt32LE(1, 0);
    idb.writeUInt32LE(20, 4);
    idb.writeUInt16LE(101, 8); // LINKTYPE_RAW
    idb.writeUInt32LE(20, 16);
    const epb = Buffer.alloc(56);
    epb.writeUInt32LE(6, 0);
    epb.writeUInt32LE(56, 4);
    epb.writeUInt32LE(0xffffffff, 12); // timestamp, both halves: 2^64 - 1 microseconds
    epb.writeUInt32LE(0xffffffff, 16);
    epb.writeUInt32LE(20, 20);
    epb.writeUInt32LE(20, 24);
    Buffer.from('45000014000000004011000000c0a80105cb007109'.slice(0, 40), 'hex').copy(epb, 28);
    epb.writeUInt32LE(56, 52);
    const path = join(dir, 'far-future.pcapng');
    writeFileSync(path, Buffer.concat([shb, idb, epb]));
    expect(readFileSync(path).length).toBe(104);
    for (const format of ['text', 'jsonl']) {
      const run = sensor('analyze', '--format', format, path);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/far-future\.pcapng is damaged at byte offset 48: .*timestamp/);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('reads a classic pcap whose snapshot length is smaller than its records, as libpcap does', () => {
    const bytes = readFileSync(demo);
    bytes.writeUInt32LE(40, 16); // the file header's snaplen, below every record's length
    const path = join(dir, 'small-snaplen.pcap');
    writeFileSync(path, bytes);
    const run = sensor('analyze', '--format', 'jsonl', path);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ event: 'summary', packets: SCENARIOS['kazaa-demo']!().frames.length, clients: 3, peers: 207 });
  });

  it('a capture cut inside a record: the packets before the cut, a warning naming the file, "cut short" in the report and exit 3', () => {
    const bytes = readFileSync(demo);
    const path = join(dir, 'cut.pcap');
    // 24-byte file header, then records of 16-byte headers: cut the file 10 bytes into a record's data.
    let offset = 24;
    let records = 0;
    while (offset < bytes.length / 2) {
      offset += 16 + bytes.readUInt32LE(offset + 8);
      records++;
    }
    writeFileSync(path, bytes.subarray(0, offset + 16 + 10));
    const jsonl = sensor('analyze', '--format', 'jsonl', path);
    expect(jsonl.code).toBe(3);
    expect(JSON.parse(jsonl.stdout.trimEnd().split('\n').at(-1)!)).toMatchObject({ event: 'summary', packets: records, cutShort: [path] });
    expect(jsonl.stderr).toContain(`warning: ${path} ends inside a record`);
    const text = sensor('analyze', path);
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/cut short +.*cut\.pcap ends inside a record/);
    const whole = sensor('analyze', '--format', 'jsonl', demo);
    expect(whole.code).toBe(0);
    expect(JSON.parse(whole.stdout.trimEnd().split('\n').at(-1)!)).toMatchObject({ cutShort: [] });
  });

  it('logs the asked-for ftwall letters to standard error as JSON lines (-L)', () => {
    const run = sensor('analyze', '-L', 'cp', '--format', 'jsonl', demo);
    const lines = run.stderr.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines.filter((l) => l.letter === 'c').map((l) => l.host)).toEqual(['192.168.1.5', '192.168.1.6', '192.168.1.7']);
    expect(lines.filter((l) => l.letter === 'p')).toHaveLength(207);
    expect(lines.every((l) => l.service === 'sensor' && l.level === 'info' && (l.letter === 'c' || l.letter === 'p'))).toBe(true);
    expect(sensor('analyze', '-L', 'cx', demo).stderr).toMatch(/"x" is not an event letter/);
  });

  it('runs only the protocol modules --detectors names, and refuses an unknown one by name', () => {
    const summary = (...options: string[]) => JSON.parse(sensor('analyze', '--format', 'jsonl', ...options, demo).stdout.trimEnd().split('\n').at(-1)!);
    const all = summary();
    expect(summary('--detectors', 'fasttrack').clients).toBe(all.clients);
    // One payload packet deep, the client whose request head spans two segments goes unseen.
    expect(summary('--detectors', 'fasttrack=1').clients).toBe(all.clients - 1);
    const unknown = sensor('analyze', '--detectors', 'fasttrack,napster', demo);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('napster: unknown protocol (known: fasttrack, bittorrent, gnutella, edonkey, soulseek, direct-connect, dns)');
    expect(summary('--detectors', 'bittorrent').clients).toBe(0);
  });

  it('never learns what --protect names', () => {
    const all = JSON.parse(sensor('analyze', '--format', 'jsonl', demo).stdout.trimEnd().split('\n').at(-1)!);
    const guarded = JSON.parse(sensor('analyze', '--format', 'jsonl', '--protect', '203.0.113.0/24', '--protect', '198.51.100.0/24', demo).stdout.trimEnd().split('\n').at(-1)!);
    expect(all.peers).toBeGreaterThan(0);
    expect(guarded.peers).toBe(0);
  });

  it('rejects bad option values by name', () => {
    const run = sensor('analyze', '--time-lock', 'soon', demo);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--time-lock/);
    const bare = sensor('analyze', '--inside', '192.168.1.0', demo);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/--inside.*"192\.168\.1\.0" has no prefix length.*192\.168\.1\.0\/24.*192\.168\.1\.0\/32/);
    expect(sensor('analyze', '--format', 'jsonl', '--protect', '203.0.113.7', demo).code).toBe(0);
  });
});
