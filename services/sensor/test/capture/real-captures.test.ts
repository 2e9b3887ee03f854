/**
 * The reference captures in the `shared` folder beside the repository (nDPI's regression pcaps;
 * see its README). They are not ours to commit, so where the folder is absent the tests skip.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LINK_MALFORMED, LINK_NOT_IP, locateIp } from '../../src/capture/link.js';
import { mergeByTime } from '../../src/capture/merge.js';
import { openCapture } from '../../src/capture/open.js';
import { DecodeStatus, PacketView, decodeIp } from '../../src/decode/packet.js';

const directory = fileURLToPath(new URL('../../../../../shared/pcaps/', import.meta.url));
const available = existsSync(directory);

/**
 * Packets per capture, from `tcpdump -r FILE 2>/dev/null | wc -l` (tcpdump 4.99), and frames
 * without IP from the ethertypes `tcpdump -e` prints (gnutella.pcap: 22 ARP).
 */
const EXPECTED: Record<string, { packets: number; notIp: number }> = {
  '443-curl.pcap': { packets: 109, notIp: 0 },
  'NTPv4.pcap': { packets: 1, notIp: 0 },
  'bittorrent.pcap': { packets: 299, notIp: 0 },
  'bt_search.pcap': { packets: 2, notIp: 0 },
  'dns.pcap': { packets: 5, notIp: 0 }, // pcapng despite its name; two frames are PPPoE in QinQ
  'edonkey.pcap': { packets: 17, notIp: 0 },
  'ftp.pcap': { packets: 209, notIp: 0 },
  'gnutella.pcap': { packets: 3905, notIp: 22 }, // and its first frame is 4 bytes: malformed
  'http.pcapng': { packets: 10, notIp: 0 },
  'quic.pcap': { packets: 518, notIp: 0 },
  'ssh.pcap': { packets: 295, notIp: 0 }, // pcapng despite its name
};

/** At most this share of a capture's frames may fail to decode. */
const MAX_MALFORMED_SHARE = 0.01;

function captureFiles(): string[] {
  return readdirSync(directory)
    .filter((name) => /\.pcap(ng)?$/.test(name))
    .sort();
}

interface Tally {
  packets: number;
  decoded: number;
  notIp: number;
  malformed: number;
  truncatedRecords: number;
}

function tally(name: string): Tally {
  const source = openCapture(directory + name);
  const view = new PacketView();
  const counts: Tally = { packets: 0, decoded: 0, notIp: 0, malformed: 0, truncatedRecords: 0 };
  try {
    for (let packet = source.next(); packet !== null; packet = source.next()) {
      counts.packets++;
      const offset = locateIp(packet.linkType, packet.data);
      if (offset === LINK_NOT_IP) counts.notIp++;
      else if (offset === LINK_MALFORMED) counts.malformed++;
      else {
        const status = decodeIp(view, packet.data, offset, packet.data.length);
        if (status === DecodeStatus.ok || status === DecodeStatus.laterFragment) counts.decoded++;
        else if (status === DecodeStatus.notIp) counts.notIp++;
        else counts.malformed++;
      }
    }
    counts.truncatedRecords = source.truncatedRecords;
  } finally {
    source.close();
  }
  return counts;
}

const suite = available ? describe : describe.skip;

suite(`real captures in ${available ? directory : 'the shared folder (absent: skipped)'}`, () => {
  it('has a known packet count for every capture in the folder', () => {
    expect(captureFiles()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: reads to the end, and every frame decodes or is counted`, () => {
      const counts = tally(name);
      expect(counts.packets).toBe(expected.packets);
      expect(counts.truncatedRecords).toBe(0);
      expect(counts.notIp).toBe(expected.notIp);
      expect(counts.decoded + counts.notIp + counts.malformed).toBe(counts.packets);
      expect(counts.malformed).toBeLessThanOrEqual(Math.ceil(counts.packets * MAX_MALFORMED_SHARE));
    });
  }

  it('merges all of them into one stream in time order', () => {
    const merged = mergeByTime(captureFiles().map((name) => openCapture(directory + name)));
    let packets = 0;
    let previous = -Infinity;
    let backwards = 0;
    for (let packet = merged.next(); packet !== null; packet = merged.next()) {
      packets++;
      if (packet.ts < previous) backwards++;
      previous = packet.ts;
    }
    merged.close();
    expect(packets).toBe(Object.values(EXPECTED).reduce((sum, file) => sum + file.packets, 0));
    expect(backwards).toBe(0);
  });
});

if (!available) {
  describe('real captures', () => {
    it.skip(`skipped: ${directory} is absent (the reference captures live beside the repository, not in it)`, () => {});
  });
}
