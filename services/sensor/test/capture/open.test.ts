import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { openCapture } from '../../src/capture/open.js';
import { PcapReader } from '../../src/capture/pcap.js';
import { encodePcap, encodePcapng } from '../../src/capture/pcap-writer.js';
import { PcapngReader } from '../../src/capture/pcapng.js';
import { CaptureError } from '../../src/capture/source.js';
import { scratchDirectory } from './frames.js';

const scratch = scratchDirectory();
afterAll(() => scratch.remove());

function openError(path: string): CaptureError {
  try {
    openCapture(path).close();
  } catch (error) {
    if (error instanceof CaptureError) return error;
    throw error;
  }
  throw new Error(`${path} opened`);
}

function file(name: string, bytes: Uint8Array | string): string {
  const path = scratch.path(name);
  writeFileSync(path, bytes);
  return path;
}

describe('openCapture', () => {
  it('tells pcap from pcapng by the magic, not the name', () => {
    const pcapng = openCapture(file('really-pcapng.pcap', encodePcapng([{ linkType: LINKTYPE_ETHERNET }], [])));
    expect(pcapng).toBeInstanceOf(PcapngReader);
    pcapng.close();
    for (const bigEndian of [false, true]) {
      for (const nanosecond of [false, true]) {
        const pcap = openCapture(file('really-pcap.pcapng', encodePcap([], { linkType: LINKTYPE_ETHERNET, bigEndian, nanosecond })));
        expect(pcap).toBeInstanceOf(PcapReader);
        expect(pcap.next()).toBeNull();
        pcap.close();
      }
    }
  });

  it('says so plainly when the file does not exist', () => {
    const path = scratch.path('nowhere.pcap');
    const error = openError(path);
    expect(error.message).toBe(`capture file ${path} does not exist`);
    expect(error.path).toBe(path);
    expect(openError(`${file('plain', 'x')}/below.pcap`).message).toMatch(/does not exist \(a part of its path is not a directory\)/);
  });

  it('refuses a directory', () => {
    const path = scratch.path('a-directory');
    mkdirSync(path);
    expect(openError(path).message).toBe(`${path} is a directory, not a capture file`);
  });

  it('refuses an empty file', () => {
    const path = file('empty.pcap', new Uint8Array(0));
    expect(openError(path).message).toBe(`capture file ${path} is empty`);
  });

  it('shows the first bytes of a file that is not a capture', () => {
    const json = file('flows.json', '{"flows": []}\n');
    expect(openError(json).message).toBe(`${json} is not a pcap or pcapng capture (first bytes 7b 22 66 6c 6f 77 73 22 …)`);
    const tiny = file('tiny', Uint8Array.of(0xd4, 0xc3));
    expect(openError(tiny).message).toBe(`${tiny} is not a pcap or pcapng capture (first bytes d4 c3, and only 2 bytes long)`);
    const gzip = file('capture.pcap.gz', gzipSync(encodePcap([], { linkType: LINKTYPE_ETHERNET })));
    expect(openError(gzip).message).toMatch(/is gzip-compressed \(first bytes 1f 8b .*decompress it first/);
  });

  it.skipIf(process.getuid?.() === 0)('reports a file it may not read', () => {
    const path = file('secret.pcap', encodePcap([], { linkType: LINKTYPE_ETHERNET }));
    chmodSync(path, 0o000);
    expect(openError(path).message).toBe(`cannot read capture file ${path}: permission denied`);
  });
});
