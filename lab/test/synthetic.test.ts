import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTACK_SCENARIOS, LAB_CLI, SCENARIOS } from '../src/index.js';

function sum16(data: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if ((end - start) & 1) sum += data[end - 1]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** What is wrong with an Ethernet frame holding IPv4/IPv6 and TCP/UDP, or null when it is well formed. */
function frameProblem(frame: Uint8Array): string | null {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const etherType = view.getUint16(12);
  const ip = 14;
  let l4: number;
  let protocol: number;
  let pseudo: number;
  if (etherType === 0x0800) {
    if (frame[ip] !== 0x45) return 'IPv4 version/IHL';
    if (view.getUint16(ip + 2) !== frame.length - ip) return 'IPv4 total length';
    if (fold(sum16(frame, ip, ip + 20)) !== 0xffff) return 'IPv4 header checksum';
    protocol = frame[ip + 9]!;
    l4 = ip + 20;
    pseudo = sum16(frame, ip + 12, ip + 20) + protocol + (frame.length - l4);
  } else if (etherType === 0x86dd) {
    if (frame[ip]! >> 4 !== 6) return 'IPv6 version';
    if (view.getUint16(ip + 4) !== frame.length - ip - 40) return 'IPv6 payload length';
    protocol = frame[ip + 6]!;
    l4 = ip + 40;
    pseudo = sum16(frame, ip + 8, ip + 40) + protocol + (frame.length - l4);
  } else {
    return `ethertype ${etherType.toString(16)}`;
  }
  if (protocol === 17) {
    if (view.getUint16(l4 + 4) !== frame.length - l4) return 'UDP length';
  } else if (protocol === 6) {
    if (frame[l4 + 12]! >> 4 !== 5 || frame.length - l4 < 20) return 'TCP header length';
  } else {
    return `IP protocol ${protocol}`;
  }
  if (fold(sum16(frame, l4, frame.length, pseudo)) !== 0xffff) return `${protocol === 6 ? 'TCP' : 'UDP'} checksum`;
  return null;
}

const dir = mkdtempSync(join(tmpdir(), 'p2pwall-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('synthetic scenarios', () => {
  it.each(Object.keys(SCENARIOS))('%s: every frame is well formed (lengths, checksums) and time only moves forward', (name) => {
    const scenario = SCENARIOS[name]!();
    expect(scenario.name).toBe(name);
    expect(scenario.frames.length).toBeGreaterThan(0);
    const problems = scenario.frames.flatMap((frame, i) => {
      const problem = frameProblem(frame.data);
      return problem ? [`frame ${i + 1}: ${problem}`] : [];
    });
    expect(problems).toEqual([]);
    for (let i = 1; i < scenario.frames.length; i++) expect(scenario.frames[i]!.ts).toBeGreaterThanOrEqual(scenario.frames[i - 1]!.ts);
  });

  it('the checker notices a damaged frame', () => {
    const frame = SCENARIOS['attack-dns-pong']!().frames[1]!.data.slice();
    expect(frameProblem(frame)).toBeNull();
    frame[frame.length - 2]! ^= 0x01;
    expect(frameProblem(frame)).toBe('UDP checksum');
    frame[frame.length - 2]! ^= 0x01;
    frame[14 + 8]! -= 1;
    expect(frameProblem(frame)).toBe('IPv4 header checksum');
  });

  it('the attack scenarios are named attack-* and offered by synth', () => {
    expect(Object.keys(ATTACK_SCENARIOS).length).toBeGreaterThan(0);
    for (const name of Object.keys(ATTACK_SCENARIOS)) {
      expect(name).toMatch(/^attack-/);
      expect(SCENARIOS[name]).toBe(ATTACK_SCENARIOS[name]);
    }
  });

  it('`p2pwall-lab synth --scenario attack-web-reply` writes the capture and what must be found in it: nothing', () => {
    const output = join(dir, 'attack.pcap');
    const expected = join(dir, 'attack.json');
    const run = spawnSync(process.execPath, [LAB_CLI, 'synth', '--scenario', 'attack-web-reply', '-o', output, '--expected', expected], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const frames = ATTACK_SCENARIOS['attack-web-reply']!().frames;
    expect(run.stderr).toContain(`${frames.length} packets`);
    // The pcap: a 24-byte file header, then a 16-byte record header before each frame.
    expect(statSync(output).size).toBe(24 + frames.reduce((total, frame) => total + 16 + frame.data.length, 0));
    expect(JSON.parse(readFileSync(expected, 'utf8'))).toEqual({ clients: [], peers: [] });
  });
});
