import { describe, expect, it } from 'vitest';
import { Engine, LINKTYPE_ETHERNET, locateIp } from '@p2pwall/sensor';
import { engineTimeShares, profile } from '../src/engine-profile.js';
import { buildGatewayMix, DEFAULT_MIX } from '../src/mix.js';

const SENSOR = 'file:///repo/services/sensor/dist';
const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url }, children });

describe('engine time shares from a CPU profile', () => {
  it('splits the samples inside judgeIp into each module, the engine’s work on evidence and the rest; GC and the loop are not engine time', () => {
    const nodes = [
      frame(1, '(root)', '', [2, 20]),
      frame(2, 'pass', 'file:///repo/bench/dist/engine.js', [3, 21]),
      frame(3, 'judgeIp', `${SENSOR}/engine.js`, [4, 10]),
      frame(4, 'inspect', `${SENSOR}/engine.js`, [5, 7, 8]),
      frame(5, 'inspect', `${SENSOR}/detect/bittorrent/bittorrent.js`, [6]),
      // A helper the module calls, in another folder of detect/: still BitTorrent's time.
      frame(6, 'next', `${SENSOR}/detect/bittorrent/bencode.js`),
      frame(7, 'inspect', `${SENSOR}/detect/fasttrack/fasttrack.js`),
      frame(8, 'onEvidence', `${SENSOR}/engine.js`, [9]),
      // The engine's detection counts live in detect/, but under onEvidence they are the engine's.
      frame(9, 'add', `${SENSOR}/detect/detection-counts.js`),
      frame(10, 'decodeIp', `${SENSOR}/decode/packet.js`),
      frame(20, '(garbage collector)', ''),
      frame(21, 'locateIp', `${SENSOR}/capture/link.js`),
    ];
    const samples = [6, 6, 5, 7, 9, 9, 8, 10, 3, 3, 20, 20, 21, 2];
    const shares = engineTimeShares({ nodes, samples }, 100);
    expect(shares).toEqual({ samples: 10, samplingIntervalUs: 100, modules: 0.4, byModule: { bittorrent: 0.3, fasttrack: 0.1 }, evidence: 0.3, rest: 0.3 });
  });

  it('finds the modules’ code in a real profiled pass of the engine over the gateway mix', async () => {
    const mix = buildGatewayMix({ ...DEFAULT_MIX, webConversations: 400, dnsLookups: 1000, bulkTransfers: 1, fastTrackClients: 4, bitTorrentClients: 4, gnutellaServents: 2, edonkeyClients: 2, fastTrackRestarts: 1 });
    const { frames, ts } = mix.capture;
    const engine = new Engine({}, () => undefined);
    const pass = (): void => {
      for (let i = 0; i < frames.length; i++) {
        const bytes = frames[i]!;
        const offset = locateIp(LINKTYPE_ETHERNET, bytes);
        if (offset >= 0) engine.judgeIp(bytes, offset, bytes.length, ts[i]!, bytes.length - offset);
      }
    };
    const shares = engineTimeShares(await profile(pass, 50), 50);
    expect(engine.counters.clients).toBeGreaterThan(0);
    // About 1,300–1,900 samples here, the modules near 0.3 of them (a small, P2P-heavy mix).
    expect(shares.samples).toBeGreaterThan(200);
    expect(shares.modules).toBeGreaterThan(0.02);
    expect(shares.modules + shares.evidence + shares.rest).toBeCloseTo(1, 2);
    expect(Object.keys(shares.byModule).length).toBeGreaterThan(0);
  }, 60_000);
});
