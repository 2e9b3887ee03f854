import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openCapture } from '../../src/capture/open.js';
import { PcapReader } from '../../src/capture/pcap.js';
import { encodePcap, writePcap, type PcapRecord } from '../../src/capture/pcap-writer.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../src/capture/link.js';
import { CaptureError } from '../../src/capture/source.js';
import { ethernet, tcp, udp } from '@p2pwall/lab';
import { decodeFrame, readAll, scratchDirectory, seededRandom } from './frames.js';

const scratch = scratchDirectory();
afterAll(() => scratch.remove());

const BASE_MS = 1_700_000_000_000;

function samplePackets(): PcapRecord[] {
  return [
    { ts: BASE_MS + 0.001, data: ethernet(tcp({ src: '10.0.0.1', dst: '198.51.100.7', sport: 40000, dport: 1214, payload: 'GET /.hash=' })) },
    { ts: BASE_MS + 999.999, data: ethernet(udp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 53, dport: 5353, payload: 'x' })) },
    // A packet cut by the snapshot length: the wire length says how long it was.
    { ts: BASE_MS + 1234.567, data: ethernet(udp({ src: '10.0.0.2', dst: '203.0.113.9', sport: 6346, dport: 6346 })), wireLength: 1514 },
    { ts: 86_400_000.5, data: new Uint8Array(0) },
  ];
}

/** µs since the epoch, rounded: what a µs-exact timestamp must give back exactly. */
function micros(ts: number): number {
  return Math.round(ts * 1000);
}

function openFile(name: string, bytes: Uint8Array, chunkSize?: number): PcapReader {
  const path = scratch.path(name);
  writeFileSync(path, bytes);
  const reader = openCapture(path, chunkSize === undefined ? {} : { chunkSize });
  if (!(reader instanceof PcapReader)) throw new Error('expected a pcap reader');
  return reader;
}

describe('pcap round trips', () => {
  for (const bigEndian of [false, true]) {
    for (const nanosecond of [false, true]) {
      it(`${bigEndian ? 'big' : 'little'}-endian, ${nanosecond ? 'nanosecond' : 'microsecond'} timestamps`, () => {
        const packets = samplePackets();
        const path = scratch.path(`round-${bigEndian}-${nanosecond}.pcap`);
        writePcap(path, packets, { linkType: LINKTYPE_ETHERNET, bigEndian, nanosecond, snaplen: 65535 });
        const reader = openCapture(path);
        expect(reader).toBeInstanceOf(PcapReader);
        const pcap = reader as PcapReader;
        expect(pcap.littleEndian).toBe(!bigEndian);
        expect(pcap.nanosecond).toBe(nanosecond);
        expect(pcap.snaplen).toBe(65535);
        expect(pcap.linkType).toBe(LINKTYPE_ETHERNET);
        const read = readAll(reader);
        reader.close();
        expect(read).toHaveLength(packets.length);
        read.forEach((packet, i) => {
          const written = packets[i]!;
          expect(micros(packet.ts)).toBe(micros(written.ts));
          expect(packet.data).toEqual(written.data);
          expect(packet.wireLength).toBe(written.wireLength ?? written.data.length);
          expect(packet.linkType).toBe(LINKTYPE_ETHERNET);
          expect(packet.interfaceIndex).toBe(0);
        });
        expect(decodeFrame(read[0]!.linkType, read[0]!.data)).toMatchObject({ src: '10.0.0.1', dst: '198.51.100.7', sport: 40000, dport: 1214 });
        expect(decodeFrame(read[1]!.linkType, read[1]!.data)).toMatchObject({ src: '2001:db8::1', dst: '2001:db8::2', sport: 53, dport: 5353 });
        expect(reader.truncatedRecords).toBe(0);
      });
    }
  }

  it('folds nanoseconds into the fraction of a millisecond', () => {
    for (const bigEndian of [false, true]) {
      const bytes = encodePcap(
        [
          { ts: 1000, data: Uint8Array.of(0x45) },
          { ts: BASE_MS, data: Uint8Array.of(0x45) },
        ],
        { linkType: LINKTYPE_RAW, nanosecond: true, bigEndian },
      );
      // Put sub-microsecond digits into the records' fraction fields by hand.
      const view = new DataView(bytes.buffer);
      view.setUint32(24 + 4, 999_999_999, !bigEndian);
      view.setUint32(24 + 17 + 4, 123_456_789, !bigEndian);
      const reader = openFile(`ns-${bigEndian}.pcap`, bytes);
      const first = reader.next()!.ts;
      // Small second counts keep every nanosecond in a double…
      expect(first).toBeCloseTo(1999.999999, 9);
      expect(first).toBeLessThan(2000);
      const second = reader.next()!.ts;
      // …large ones keep them to a fraction of a microsecond.
      expect(Math.abs(second - (BASE_MS + 123.456789))).toBeLessThan(0.0005);
      expect(micros(second)).toBe(micros(BASE_MS) + 123_457);
      expect(reader.next()).toBeNull();
      reader.close();
    }
  });

  it('returns the same packet object each time and null for good after the end', () => {
    const reader = openFile('reuse.pcap', encodePcap(samplePackets(), { linkType: LINKTYPE_ETHERNET }));
    const first = reader.next();
    const second = reader.next();
    expect(second).toBe(first);
    while (reader.next() !== null);
    expect(reader.next()).toBeNull();
    expect(reader.packetCount).toBe(4);
    reader.close();
    reader.close();
    expect(reader.next()).toBeNull();
  });
});

describe('pcap streaming', () => {
  const random = seededRandom(7);
  const many: PcapRecord[] = [];
  for (let i = 0; i < 5000; i++) {
    const payload = new Uint8Array(Math.floor(random() * 1400));
    payload.fill(i & 0xff);
    const data = ethernet(udp({ src: '10.1.0.1', dst: '198.18.0.1', sport: 1024 + (i % 60000), dport: 6881, payload }), i % 3 === 0 ? [100] : []);
    many.push({ ts: BASE_MS + i * 1.001, data });
  }
  // Records bigger than a small chunk make the reader grow its buffer.
  many.splice(1000, 0, { ts: BASE_MS + 1000 * 1.001, data: new Uint8Array(70_000).fill(0xab) });
  const bytes = encodePcap(many, { linkType: LINKTYPE_ETHERNET });

  function expectIdentical(read: { ts: number; data: Uint8Array }[]): void {
    expect(read).toHaveLength(many.length);
    for (let i = 0; i < many.length; i++) {
      if (micros(read[i]!.ts) !== micros(many[i]!.ts)) expect.fail(`packet ${i}: ts ${read[i]!.ts} != ${many[i]!.ts}`);
      if (Buffer.compare(read[i]!.data, many[i]!.data) !== 0) expect.fail(`packet ${i}: data differs`);
    }
  }

  it('reads a capture larger than its 1 MiB chunk back identically', () => {
    expect(bytes.length).toBeGreaterThan(3 << 20);
    const reader = openFile('big.pcap', bytes);
    expectIdentical(readAll(reader));
    expect(reader.truncatedRecords).toBe(0);
    reader.close();
  });

  it('reads back identically through a 4 KiB chunk, records straddling every boundary', () => {
    const reader = openFile('big-small-chunks.pcap', bytes, 4096);
    expectIdentical(readAll(reader));
    reader.close();
  });

  it('ends cleanly when the file is cut inside its last record, and counts it', () => {
    for (const cut of [1, 10, 17, 500]) {
      const reader = openFile(`cut-${cut}.pcap`, bytes.subarray(0, bytes.length - cut), 4096);
      const read = readAll(reader);
      expect(read).toHaveLength(many.length - 1);
      expect(reader.truncatedRecords).toBe(1);
      reader.close();
    }
  });

  it('does not count a file that ends exactly after a record', () => {
    const reader = openFile('whole.pcap', encodePcap(many.slice(0, 10), { linkType: LINKTYPE_ETHERNET }));
    expect(readAll(reader)).toHaveLength(10);
    expect(reader.truncatedRecords).toBe(0);
    reader.close();
  });
});

describe('pcap damage', () => {
  const records = samplePackets().slice(0, 3);

  function withCapturedLength(index: number, capturedLength: number, options: { snaplen?: number; bigEndian?: boolean } = {}): { bytes: Uint8Array; offset: number } {
    const bytes = encodePcap(records, { linkType: LINKTYPE_ETHERNET, ...options });
    let offset = 24;
    for (let i = 0; i < index; i++) offset += 16 + records[i]!.data.length;
    new DataView(bytes.buffer).setUint32(offset + 8, capturedLength, !options.bigEndian);
    return { bytes, offset };
  }

  it('throws a CaptureError naming the file and the offset of a record with an impossible length', () => {
    for (const bigEndian of [false, true]) {
      const { bytes, offset } = withCapturedLength(2, 0xfffffff0, { bigEndian });
      const reader = openFile(`bad-caplen-${bigEndian}.pcap`, bytes);
      reader.next();
      reader.next();
      let error: unknown;
      try {
        reader.next();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CaptureError);
      const message = (error as CaptureError).message;
      expect(message).toContain(reader.path);
      expect(message).toContain(`byte offset ${offset}`);
      expect(message).toContain('4294967280 captured bytes');
      expect((error as CaptureError).offset).toBe(offset);
      reader.close();
    }
  });

  it('reads records longer than the snapshot length as given, as libpcap does', () => {
    // Writers get snaplen wrong (or change it between header and records): the record says what it holds.
    const bytes = encodePcap(records, { linkType: LINKTYPE_ETHERNET });
    new DataView(bytes.buffer).setUint32(16, 40, true);
    const reader = openFile('over-snaplen.pcap', bytes);
    expect(reader.snaplen).toBe(40);
    const read = readAll(reader);
    expect(read.map((packet) => packet.data.length)).toEqual(records.map((record) => record.data.length));
    expect(read.every((packet) => packet.data.length > 40)).toBe(true);
    expect(reader.truncatedRecords).toBe(0);
  });

  it('ignores a snapshot length that bounds nothing (0) but not the 256 KiB limit', () => {
    const big = { ts: BASE_MS, data: new Uint8Array(200_000) };
    const ok = openFile('snaplen-zero.pcap', encodePcap([big], { linkType: LINKTYPE_RAW, snaplen: 0 }));
    expect(ok.next()!.data.length).toBe(200_000);
    ok.close();
    const { bytes } = withCapturedLength(0, 262_145, { snaplen: 0 });
    const reader = openFile('over-limit.pcap', bytes);
    expect(() => reader.next()).toThrow(/byte offset 24: .*262145 captured bytes, more than the 262144 bytes/);
    reader.close();
  });

  it('rejects a file cut inside its file header, and an unknown version', () => {
    const bytes = encodePcap([], { linkType: LINKTYPE_ETHERNET });
    writeFileSync(scratch.path('short-header.pcap'), bytes.subarray(0, 10));
    expect(() => openCapture(scratch.path('short-header.pcap'))).toThrow(/cut short inside its pcap file header \(10 of 24 bytes\)/);
    new DataView(bytes.buffer).setUint16(4, 7, true);
    writeFileSync(scratch.path('version.pcap'), bytes);
    expect(() => openCapture(scratch.path('version.pcap'))).toThrow(CaptureError);
  });
});
