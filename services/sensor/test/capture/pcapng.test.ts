import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LINKTYPE_ETHERNET, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from '../../src/capture/link.js';
import { openCapture } from '../../src/capture/open.js';
import { encodePcapng, encodePcapngBlock, type PcapngInterfaceDescription, type PcapngRecord } from '../../src/capture/pcap-writer.js';
import {
  BLOCK_INTERFACE_DESCRIPTION,
  BLOCK_INTERFACE_STATISTICS,
  BLOCK_NAME_RESOLUTION,
  BLOCK_PACKET_OBSOLETE,
  PcapngReader,
} from '../../src/capture/pcapng.js';
import { CaptureError } from '../../src/capture/source.js';
import { ethernet, tcp, udp } from '@p2pwall/lab';
import { concat, decodeFrame, readAll, scratchDirectory, sll } from './frames.js';

const scratch = scratchDirectory();
afterAll(() => scratch.remove());

const BASE_MS = 1_700_000_000_000;
const BLOCK_CUSTOM = 0x00000bad;
const BLOCK_DECRYPTION_SECRETS = 0x0000000a;

function micros(ts: number): number {
  return Math.round(ts * 1000);
}

function openBytes(name: string, bytes: Uint8Array, chunkSize?: number): PcapngReader {
  const path = scratch.path(name);
  writeFileSync(path, bytes);
  const reader = openCapture(path, chunkSize === undefined ? {} : { chunkSize });
  if (!(reader instanceof PcapngReader)) throw new Error('expected a pcapng reader');
  return reader;
}

/** The blocks of an encoded section, each as its own bytes. */
function splitBlocks(bytes: Uint8Array, bigEndian = false): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = view.getUint32(at + 4, !bigEndian);
    blocks.push(bytes.subarray(at, at + length));
    at += length;
  }
  return blocks;
}

/** The error next() throws, drained of the packets before it. */
function errorWhileReading(reader: PcapngReader): CaptureError {
  try {
    while (reader.next() !== null);
  } catch (error) {
    if (error instanceof CaptureError) return error;
    throw error;
  } finally {
    reader.close();
  }
  throw new Error('no CaptureError');
}

const interfaces: PcapngInterfaceDescription[] = [
  { linkType: LINKTYPE_ETHERNET, snaplen: 65535 }, // no if_tsresol: microseconds
  { linkType: LINKTYPE_RAW, tsresol: 9 }, // nanoseconds
  { linkType: LINKTYPE_LINUX_SLL, tsresol: 0x80 | 20 }, // 2^-20 s, about 0.95 µs
];

const packets: PcapngRecord[] = [
  { interfaceIndex: 0, ts: BASE_MS + 0.001, data: ethernet(tcp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 40000, dport: 1214 })) },
  { interfaceIndex: 1, ts: BASE_MS + 1.234567, data: udp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 4672, dport: 4665, payload: 'e3' }) },
  { interfaceIndex: 0, ts: 0, simple: true, data: ethernet(udp({ src: '10.0.0.3', dst: '203.0.113.3', sport: 6346, dport: 6347 })) },
  { interfaceIndex: 2, ts: BASE_MS + 2.5, data: sll(udp({ src: '10.0.0.4', dst: '198.18.0.4', sport: 1234, dport: 6881, payload: 'd1:ad2' })) },
  { interfaceIndex: 1, ts: BASE_MS + 999.999999, data: tcp({ src: '10.9.9.9', dst: '198.51.100.9', sport: 1, dport: 2 }), wireLength: 1500 },
];

describe('pcapng round trips', () => {
  for (const bigEndian of [false, true]) {
    it(`${bigEndian ? 'big' : 'little'}-endian: three interfaces, EPB and SPB, each resolution`, () => {
      const reader = openBytes(`round-${bigEndian}.pcapng`, encodePcapng(interfaces, packets, { bigEndian }));
      const read = readAll(reader);
      expect(read).toHaveLength(packets.length);
      read.forEach((packet, i) => {
        const written = packets[i]!;
        expect(packet.data).toEqual(written.data);
        expect(packet.interfaceIndex).toBe(written.interfaceIndex);
        expect(packet.linkType).toBe(interfaces[written.interfaceIndex]!.linkType);
        expect(packet.wireLength).toBe(written.wireLength ?? written.data.length);
      });
      expect(micros(read[0]!.ts)).toBe(micros(packets[0]!.ts));
      expect(micros(read[1]!.ts)).toBe(micros(packets[1]!.ts));
      expect(Math.abs(read[1]!.ts - packets[1]!.ts)).toBeLessThan(0.0005);
      // A simple packet block has no time of its own: it takes the time of the packet before it.
      expect(read[2]!.ts).toBe(read[1]!.ts);
      expect(Math.abs(read[3]!.ts - packets[3]!.ts)).toBeLessThan(0.001);
      expect(micros(read[4]!.ts)).toBe(micros(packets[4]!.ts));

      expect(decodeFrame(read[0]!.linkType, read[0]!.data)).toMatchObject({ src: '10.0.0.1', dport: 1214 });
      expect(decodeFrame(read[1]!.linkType, read[1]!.data)).toMatchObject({ src: '2001:db8::1', sport: 4672, dport: 4665 });
      expect(decodeFrame(read[3]!.linkType, read[3]!.data)).toMatchObject({ dst: '198.18.0.4', dport: 6881 });

      expect(reader.sections).toBe(1);
      expect(reader.interfaces.map((iface) => iface.ticksPerSecond)).toEqual([1e6, 1e9, 2 ** 20]);
      expect(reader.truncatedRecords).toBe(0);
      reader.close();
    });
  }

  it('keeps nanoseconds: a tick count beyond 2^53 splits exactly into seconds and a fraction', () => {
    const ns = [{ linkType: LINKTYPE_RAW, tsresol: 9 }];
    const reader = openBytes('ns.pcapng', encodePcapng(ns, [{ interfaceIndex: 0, ts: 1999.999999, data: Uint8Array.of(0x45) }]));
    const ts = reader.next()!.ts;
    expect(ts).toBeCloseTo(1999.999999, 9);
    expect(ts).toBeLessThan(2000);
    reader.close();
  });

  it('caps a simple packet at the wire length, the snapshot length and its block', () => {
    const data = new Uint8Array(100).map((_, i) => i);
    const bytes = encodePcapng(
      [{ linkType: LINKTYPE_RAW, snaplen: 64 }],
      [
        { interfaceIndex: 0, ts: 0, simple: true, data },
        // 5 bytes on the wire, 8 in the padded block: the padding is not packet.
        { interfaceIndex: 0, ts: 0, simple: true, data: data.subarray(0, 5) },
        // Cut at capture time: the wire length is larger than what the block holds.
        { interfaceIndex: 0, ts: 0, simple: true, data: data.subarray(0, 20), wireLength: 1500 },
      ],
    );
    const read = readAll(openBytes('spb.pcapng', bytes));
    expect(read.map((packet) => packet.data.length)).toEqual([64, 5, 20]);
    expect(read.map((packet) => packet.wireLength)).toEqual([100, 5, 1500]);
    expect(read[0]!.data).toEqual(data.subarray(0, 64));
  });

  it('honours if_tsoffset and reads the obsolete packet block', () => {
    const idbBody = Buffer.alloc(8 + 12 + 4);
    idbBody.writeUInt16LE(LINKTYPE_RAW, 0);
    idbBody.writeUInt16LE(14, 8); // if_tsoffset
    idbBody.writeUInt16LE(8, 10);
    idbBody.writeBigInt64LE(1_000_000n, 12);
    const packetBody = Buffer.alloc(20 + 4);
    packetBody.writeUInt16LE(0, 0); // interface id
    packetBody.writeUInt16LE(3, 2); // drops
    packetBody.writeUInt32LE(0, 4); // timestamp high
    packetBody.writeUInt32LE(2_500_000, 8); // 2.5 s in µs
    packetBody.writeUInt32LE(4, 12);
    packetBody.writeUInt32LE(4, 16);
    packetBody.set([0x45, 0, 0, 4], 20);
    const header = splitBlocks(encodePcapng([], []))[0]!;
    const bytes = concat(header, encodePcapngBlock(BLOCK_INTERFACE_DESCRIPTION, idbBody), encodePcapngBlock(BLOCK_PACKET_OBSOLETE, packetBody));
    const packet = openBytes('tsoffset.pcapng', bytes).next()!;
    expect(packet.ts).toBe(1_000_002_500);
    expect(packet.data).toEqual(Uint8Array.of(0x45, 0, 0, 4));
  });
});

describe('pcapng structure', () => {
  for (const bigEndian of [false, true]) {
    it(`skips blocks it does not read (${bigEndian ? 'big' : 'little'}-endian), even ones larger than a chunk`, () => {
      const options = { bigEndian };
      const section = splitBlocks(encodePcapng(interfaces, packets, options), bigEndian);
      const skipped = [
        encodePcapngBlock(BLOCK_NAME_RESOLUTION, new Uint8Array(20).fill(1), options),
        encodePcapngBlock(BLOCK_INTERFACE_STATISTICS, new Uint8Array(30), options),
        encodePcapngBlock(BLOCK_CUSTOM, new Uint8Array(2 << 20).fill(0x0a), options),
        encodePcapngBlock(BLOCK_DECRYPTION_SECRETS, new Uint8Array(9), options),
        encodePcapngBlock(0x4000_0123, new Uint8Array(0), options),
      ];
      // SHB, IDB, IDB, [skipped], EPB, [skipped], EPB …
      const bytes = concat(...section.slice(0, 3), skipped[0]!, section[3]!, skipped[1]!, skipped[2]!, section[4]!, section[5]!, skipped[3]!, ...section.slice(6), skipped[4]!);
      for (const chunkSize of [undefined, 4096]) {
        const reader = openBytes(`skip-${bigEndian}.pcapng`, bytes, chunkSize);
        const read = readAll(reader);
        expect(read.map((packet) => packet.data)).toEqual(packets.map((packet) => packet.data));
        expect(reader.skippedBlocks).toBe(5);
        expect(reader.truncatedRecords).toBe(0);
        reader.close();
      }
    });
  }

  it('starts afresh at a second section header: new byte order, new interfaces', () => {
    const first = encodePcapng([interfaces[0]!, interfaces[1]!], packets.slice(0, 2));
    const second = encodePcapng(
      [{ linkType: LINKTYPE_IPV6, tsresol: 3 }],
      [{ interfaceIndex: 0, ts: BASE_MS + 5000.5, data: udp({ src: '2001:db8::5', dst: '2001:db8::6', sport: 6881, dport: 51413 }) }],
      { bigEndian: true },
    );
    const reader = openBytes('two-sections.pcapng', concat(first, second));
    const read = readAll(reader);
    expect(read.map((packet) => [packet.interfaceIndex, packet.linkType])).toEqual([
      [0, LINKTYPE_ETHERNET],
      [1, LINKTYPE_RAW],
      [2, LINKTYPE_IPV6],
    ]);
    // Milliseconds resolution (tsresol 3): the half millisecond is not in the file.
    expect(read[2]!.ts).toBe(BASE_MS + 5001);
    expect(decodeFrame(read[2]!.linkType, read[2]!.data)).toMatchObject({ src: '2001:db8::5', dport: 51413 });
    expect(reader.sections).toBe(2);
    expect(reader.interfaces.map((iface) => iface.section)).toEqual([0, 0, 1]);
    reader.close();

    // Interface 1 belonged to the first section: the second one describes only one.
    const stale = encodePcapng([interfaces[0]!, interfaces[1]!], [{ ...packets[1]!, interfaceIndex: 1 }], { bigEndian: true });
    const staleBlocks = splitBlocks(stale, true);
    const bytes = concat(first, splitBlocks(second, true)[0]!, splitBlocks(second, true)[1]!, staleBlocks[3]!);
    const error = errorWhileReading(openBytes('stale-interface.pcapng', bytes));
    expect(error.message).toMatch(new RegExp(`byte offset ${first.length + splitBlocks(second, true)[0]!.length + splitBlocks(second, true)[1]!.length}: an enhanced packet block refers to interface 1, but its section describes only 1`));
  });

  it('reads a long capture through a small chunk identically', () => {
    const many: PcapngRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      const data = ethernet(udp({ src: '10.2.0.1', dst: '198.18.1.1', sport: 2000 + i, dport: 6881, payload: new Uint8Array((i * 37) % 1400).fill(i & 0xff) }));
      many.push({ interfaceIndex: i % 2, ts: BASE_MS + i * 0.5, data });
    }
    const reader = openBytes('long.pcapng', encodePcapng([interfaces[0]!, { linkType: LINKTYPE_ETHERNET, tsresol: 9 }], many), 4096);
    const read = readAll(reader);
    expect(read).toHaveLength(many.length);
    for (let i = 0; i < many.length; i++) {
      if (micros(read[i]!.ts) !== micros(many[i]!.ts) || Buffer.compare(read[i]!.data, many[i]!.data) !== 0) expect.fail(`packet ${i} differs`);
    }
    reader.close();
  });
});

describe('pcapng damage', () => {
  const bytes = encodePcapng(interfaces, packets);
  const blocks = splitBlocks(bytes);
  const offsets = blocks.map((_, i) => blocks.slice(0, i).reduce((sum, block) => sum + block.length, 0));

  it('ends cleanly when cut inside its last block, and counts it', () => {
    const lastEpb = offsets[offsets.length - 1]!;
    for (const cutAt of [lastEpb + 4, lastEpb + 11, lastEpb + 40, bytes.length - 1]) {
      const reader = openBytes('cut.pcapng', bytes.subarray(0, cutAt));
      expect(readAll(reader)).toHaveLength(packets.length - 1);
      expect(reader.truncatedRecords).toBe(1);
      reader.close();
    }
    const custom = encodePcapngBlock(BLOCK_CUSTOM, new Uint8Array(10_000));
    const reader = openBytes('cut-skipped.pcapng', concat(bytes, custom.subarray(0, 5000)), 4096);
    expect(readAll(reader)).toHaveLength(packets.length);
    expect(reader.truncatedRecords).toBe(1);
  });

  function damaged(blockIndex: number, patch: (view: DataView, at: number) => void): CaptureError {
    const copy = bytes.slice();
    patch(new DataView(copy.buffer), offsets[blockIndex]!);
    return errorWhileReading(openBytes('damaged.pcapng', copy));
  }

  it('throws CaptureError with the offset for block lengths that cannot be right', () => {
    const at = offsets[4]!;
    expect(damaged(4, (view, offset) => view.setUint32(offset + 4, 13, true)).message).toMatch(new RegExp(`damaged at byte offset ${at}: the enhanced packet block \\(type 0x6\\) there claims a length of 13 bytes`));
    expect(damaged(4, (view, offset) => view.setUint32(offset + 4, 8, true)).offset).toBe(at);
    expect(damaged(4, (view, offset) => view.setUint32(offset + 4, 0x7ffffff0, true)).message).toContain(`byte offset ${at}`);
    expect(damaged(4, (view, offset) => view.setUint32(offset + blocks[4]!.length - 4, 999, true)).message).toMatch(/starts with length \d+ but ends with length 999/);
  });

  it('throws for a packet longer than its block, an unknown interface, and a bad section header', () => {
    expect(damaged(4, (view, offset) => view.setUint32(offset + 20, 5000, true)).message).toMatch(/claims 5000 captured bytes, more than the \d+ bytes its block holds/);
    expect(damaged(4, (view, offset) => view.setUint32(offset + 8, 7, true)).message).toMatch(/an enhanced packet block refers to interface 7, but its section describes only 3/);
    expect(damaged(0, (view, offset) => view.setUint32(offset + 8, 0x11223344, true)).message).toMatch(/damaged at byte offset 0: section header block has byte-order magic/);
    expect(damaged(0, (view, offset) => view.setUint16(offset + 12, 2, true)).message).toMatch(/pcapng section of version 2\.0 at byte offset 0/);
  });

  it('throws for a simple packet block before any interface', () => {
    const noInterfaces = splitBlocks(encodePcapng([], []))[0]!;
    const spb = splitBlocks(encodePcapng([{ linkType: LINKTYPE_RAW }], [{ interfaceIndex: 0, ts: 0, simple: true, data: Uint8Array.of(0x45) }]))[2]!;
    const error = errorWhileReading(openBytes('spb-first.pcapng', concat(noInterfaces, spb)));
    expect(error.message).toMatch(/byte offset 28: a simple packet block comes before any interface description block/);
  });
});

describe('pcapng timestamps beyond the range of dates', () => {
  it('refuses a packet whose timestamp lies past what a date can hold, naming its block', () => {
    const bytes = encodePcapng([{ linkType: LINKTYPE_RAW, snaplen: 65535 }], [{ interfaceIndex: 0, ts: BASE_MS, data: udp({ src: '192.168.1.5', dst: '203.0.113.9', sport: 1214, dport: 3531, payload: 'x' }) }]);
    const blocks = splitBlocks(bytes);
    const packetBlock = blocks.at(-1)!;
    const offset = bytes.length - packetBlock.length;
    // The highest 64-bit tick count: 1.8e19 microseconds, far past 8.64e15 ms (year 275760).
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset + 12, 0xffffffff, true);
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset + 16, 0xffffffff, true);
    const error = errorWhileReading(openBytes('far-future.pcapng', bytes));
    expect(error.message).toMatch(new RegExp(`byte offset ${offset}: .*timestamp .*beyond`));
    expect(error.offset).toBe(offset);
  });
});

