/**
 * What a flood of header starts costs: one TCP segment carrying just `G` per new flow, which the
 * FastTrack module must keep (it may be the start of `GET /.hash=…`). The heads' bytes are bounded
 * by the engine's module buffer budget, whatever the number of flows.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tcp } from '@p2pwall/lab';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { DEFAULT_MODULE_BUFFER_BYTES } from '../../src/engine-config.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const FLOWS = 262_144;
const T0 = Date.UTC(2026, 0, 1);

function heapBytes(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Opens FLOWS flows from one inside host to 198.18.0.0/15 (the benchmark range), each with one
 * segment carrying `payload`; returns the heap growth while the engine still holds them all.
 */
function floodGrowth(payload: string, budget?: number): { growth: number; engine: Engine } {
  const engine = new Engine(budget === undefined ? { maxFlows: FLOWS } : { maxFlows: FLOWS, moduleBufferBytes: budget }, () => {});
  const packet = tcp({ src: '192.168.1.5', dst: '198.18.0.0', sport: 10000, dport: 8080, payload });
  const before = heapBytes();
  for (let i = 0; i < FLOWS; i++) {
    // The destination's last two bytes and the source port make each flow new (the checksum is not checked).
    packet[18] = i >>> 14;
    packet[19] = 0;
    packet[20] = (10000 + (i & 0x3fff)) >>> 8;
    packet[21] = (10000 + (i & 0x3fff)) & 0xff;
    engine.judgeIp(packet, 0, packet.length, T0 + (i >>> 10));
  }
  const growth = heapBytes() - before;
  expect(engine.flows.size).toBe(FLOWS);
  return { growth, engine };
}

describe('memory of a flood of header starts', () => {
  it(`holds at most the module buffer budget (${DEFAULT_MODULE_BUFFER_BYTES} bytes, plus 10 %) more than flows without heads, for ${FLOWS} flows`, () => {
    // Flows whose first payload cannot start a head keep no module state: the flow table's own cost.
    const plain = floodGrowth('X').growth;
    const { growth, engine } = floodGrowth('G');
    const heads = growth - plain;
    console.log(`${FLOWS} flows: plain ${(plain / 2 ** 20).toFixed(1)} MiB, with a 'G' head each ${(growth / 2 ** 20).toFixed(1)} MiB, heads ${(heads / 2 ** 20).toFixed(1)} MiB`);
    expect(heads).toBeLessThanOrEqual(DEFAULT_MODULE_BUFFER_BYTES * 1.1);
    console.log(`buffers held ${engine.moduleBuffers.held}, refused ${engine.counters.moduleBuffersRefused}`);
    expect(engine.moduleBuffers.held).toBeLessThanOrEqual(DEFAULT_MODULE_BUFFER_BYTES);
    // The budget ran out before the flood did: what was not kept is counted.
    expect(engine.counters.moduleBuffersRefused).toBeGreaterThan(0);
    expect(engine.counters.moduleBuffersRefused).toBeLessThan(FLOWS);
  }, 120_000);

  it('gives a head\'s bytes back when its block ends, when its flow ends, and when its window passes', () => {
    const engine = new Engine({ maxFlows: 16 }, () => {});
    const send = (payload: string, seq: number, sport: number, ms = 0): void => {
      const packet = tcp({ src: '192.168.1.5', dst: '198.51.100.7', sport, dport: 8080, seq, payload });
      engine.judgeIp(packet, 0, packet.length, T0 + ms);
    };
    send('G', 1000, 40001);
    const oneHead = engine.moduleBuffers.held;
    expect(oneHead).toBeGreaterThan(0);
    send('ET / HTTP/1.1\r\n\r\n', 1001, 40001);
    expect(engine.moduleBuffers.held).toBe(0);

    send('G', 1000, 40002);
    expect(engine.moduleBuffers.held).toBe(oneHead);
    engine.flush(T0 + 1000);
    expect(engine.moduleBuffers.held).toBe(0);

    send('G', 1000, 40003, 2000);
    // Segments out of order are not taken; past the inspection window the state is freed.
    for (let i = 0; i < 16; i++) send('x', 5000 + i, 40003, 2000);
    expect(engine.moduleBuffers.held).toBe(0);
    expect(engine.counters.moduleBuffersRefused).toBe(0);
  });
});
