import { describe, expect, it } from 'vitest';
import { isExactResolution, msToTicks, splitMs, ticksPerSecondForResolution, ticksToMs } from '../../src/capture/ticks.js';
import { seededRandom } from './frames.js';

/** Reference: exact integer arithmetic with BigInt, then one rounding to a double. */
function referenceMs(high: number, low: number, ticksPerSecond: number): number {
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  const perSecond = BigInt(ticksPerSecond);
  const seconds = ticks / perSecond;
  const remainder = ticks % perSecond;
  return Number(seconds) * 1000 + (Number(remainder) * 1000) / ticksPerSecond;
}

describe('pcapng tick arithmetic', () => {
  it('decodes if_tsresol as a power of 10 or of 2', () => {
    expect(ticksPerSecondForResolution(6)).toBe(1e6);
    expect(ticksPerSecondForResolution(9)).toBe(1e9);
    expect(ticksPerSecondForResolution(0)).toBe(1);
    expect(ticksPerSecondForResolution(0x80 | 10)).toBe(1024);
    expect(isExactResolution(1e9)).toBe(true);
    expect(isExactResolution(1e12)).toBe(false);
  });

  it('splits 64-bit tick counts exactly, for every common resolution', () => {
    const random = seededRandom(42);
    for (const ticksPerSecond of [1, 1000, 1e6, 1e9, 1e10, 2 ** 20, 2 ** 32, 2 ** 36]) {
      for (let i = 0; i < 2000; i++) {
        const high = Math.floor(random() * 2 ** 32);
        const low = Math.floor(random() * 2 ** 32);
        const ms = ticksToMs(high, low, ticksPerSecond, 0);
        if (ms !== referenceMs(high, low, ticksPerSecond)) expect.fail(`${high}:${low} at ${ticksPerSecond}/s gave ${ms}`);
      }
    }
  });

  it('falls back to floating point for resolutions finer than it can divide exactly', () => {
    // Picoseconds: 2^64 of them is only 213 days, so take a time early in 1970.
    const ticks = msToTicks(1_000_000_123.5, 1e12);
    expect(ticksToMs(ticks.high, ticks.low, 1e12, 0)).toBeCloseTo(1_000_000_123.5, 3);
    expect(() => msToTicks(1_700_000_000_000, 1e12)).toThrow(/does not fit 64 bits/);
  });

  it('round-trips ms through ticks and rounds fractions up into the next second', () => {
    const ts = 1_700_000_000_123.456;
    const { high, low } = msToTicks(ts, 1e6);
    expect(Math.round(ticksToMs(high, low, 1e6, 0) * 1000)).toBe(Math.round(ts * 1000));
    expect(splitMs(1999.9999999, 1e6)).toEqual({ seconds: 2, fraction: 0 });
    expect(() => splitMs(-1, 1e6)).toThrow(RangeError);
  });
});
