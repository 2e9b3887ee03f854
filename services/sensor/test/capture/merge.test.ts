import { afterAll, describe, expect, it } from 'vitest';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../src/capture/link.js';
import { mergeByTime } from '../../src/capture/merge.js';
import { openCapture } from '../../src/capture/open.js';
import { writePcap, writePcapng } from '../../src/capture/pcap-writer.js';
import type { PacketSource } from '../../src/capture/source.js';
import { ethernet, udp } from '@p2pwall/lab';
import { readAll, scratchDirectory } from './frames.js';

const scratch = scratchDirectory();
afterAll(() => scratch.remove());

const BASE_MS = 1_700_000_000_000;

/** A packet whose bytes say which file and which position it came from. */
function tagged(file: number, index: number): Uint8Array {
  return udp({ src: `10.0.0.${file}`, dst: '198.51.100.1', sport: 1000 + index, dport: 53 });
}

function fileTag(data: Uint8Array, offset: number): string {
  return `${data[offset + 15]}:${((data[offset + 20]! << 8) | data[offset + 21]!) - 1000}`;
}

describe('mergeByTime', () => {
  it('interleaves two captures in timestamp order, ties going to the earlier source', () => {
    const a = scratch.path('a.pcap');
    const b = scratch.path('b.pcapng');
    // a: 0, 2, 4, 6 ms …  b: 1, 2 (tie with a), 3, 10 ms.
    writePcap(a, [0, 2, 4, 6].map((ms, i) => ({ ts: BASE_MS + ms, data: ethernet(tagged(1, i)) })), { linkType: LINKTYPE_ETHERNET });
    writePcapng(b, [{ linkType: LINKTYPE_RAW, tsresol: 9 }], [1, 2, 3, 10].map((ms, i) => ({ interfaceIndex: 0, ts: BASE_MS + ms, data: tagged(2, i) })));
    const merged = mergeByTime([openCapture(a), openCapture(b)]);
    expect(merged.path).toBe(`${a} + ${b}`);
    const read = readAll(merged);
    merged.close();
    expect(read.map((packet) => packet.ts - BASE_MS)).toEqual([0, 1, 2, 2, 3, 4, 6, 10]);
    expect(read.map((packet) => fileTag(packet.data, packet.linkType === LINKTYPE_ETHERNET ? 14 : 0))).toEqual(['1:0', '2:0', '1:1', '2:1', '2:2', '1:2', '1:3', '2:3']);
    expect(merged.truncatedRecords).toBe(0);
  });

  it('keeps each pending packet intact while other sources advance, without copying', () => {
    const paths = [0, 1, 2].map((file) => {
      const path = scratch.path(`m${file}.pcap`);
      // Many packets per file so that the readers' buffers are reused many times over.
      writePcap(path, Array.from({ length: 2000 }, (_, i) => ({ ts: BASE_MS + i * 3 + file, data: tagged(file, i) })), { linkType: LINKTYPE_RAW });
      return path;
    });
    const merged = mergeByTime(paths.map((path) => openCapture(path, { chunkSize: 256 })));
    const tags: string[] = [];
    for (let packet = merged.next(); packet !== null; packet = merged.next()) tags.push(fileTag(packet.data, 0));
    merged.close();
    expect(tags).toHaveLength(6000);
    expect(tags.slice(0, 6)).toEqual(['0:0', '1:0', '2:0', '0:1', '1:1', '2:1']);
    expect(tags.every((tag, i) => tag === `${i % 3}:${Math.floor(i / 3)}`)).toBe(true);
  });

  it('handles empty sources, a single source and no sources', () => {
    const empty = scratch.path('empty.pcap');
    writePcap(empty, [], { linkType: LINKTYPE_RAW });
    const one = scratch.path('one.pcap');
    writePcap(one, [{ ts: BASE_MS, data: tagged(1, 0) }], { linkType: LINKTYPE_RAW });
    expect(readAll(mergeByTime([openCapture(empty), openCapture(one), openCapture(empty)]))).toHaveLength(1);
    const none = mergeByTime([]);
    expect(none.next()).toBeNull();
    expect(none.next()).toBeNull();
  });

  it('sums truncated records, closes every source, and refuses a source listed twice', () => {
    let closed = 0;
    const fake = (truncatedRecords: number): PacketSource => ({ path: 'fake', truncatedRecords, next: () => null, close: () => void closed++ });
    const merged = mergeByTime([fake(1), fake(2)]);
    expect(merged.truncatedRecords).toBe(3);
    merged.close();
    expect(closed).toBe(2);
    const same = fake(0);
    expect(() => mergeByTime([same, same])).toThrow(/listed twice/);
  });
});
