/**
 * pcapng timestamps are a 64-bit count of ticks (1/ticksPerSecond s) split into two 32-bit
 * halves. Counts of nanoseconds since 1970 exceed 2^53, so the naive `high * 2^32 + low` loses the
 * sub-microsecond part; a long division by 16-bit digits keeps every step below 2^53 and gives
 * whole seconds and the remainder exactly, without BigInt allocation per packet.
 */

/** Divisors up to this keep `remainder * 65536 + digit` below 2^53 in the long division. */
const EXACT_DIVISOR_LIMIT = 2 ** 37;

/** Whether ticksToMs is exact (to the double's precision) for this resolution. */
export function isExactResolution(ticksPerSecond: number): boolean {
  return Number.isInteger(ticksPerSecond) && ticksPerSecond >= 1 && ticksPerSecond < EXACT_DIVISOR_LIMIT;
}

/**
 * Milliseconds since the epoch for a tick count `high * 2^32 + low`, plus a whole-second offset.
 * Falls back to floating-point arithmetic for resolutions too fine to divide exactly.
 */
export function ticksToMs(high: number, low: number, ticksPerSecond: number, offsetSeconds: number): number {
  if (!isExactResolution(ticksPerSecond)) return ((high * 4294967296 + low) / ticksPerSecond + offsetSeconds) * 1000;
  let dividend = high >>> 16;
  let digit = Math.floor(dividend / ticksPerSecond);
  let remainder = dividend - digit * ticksPerSecond;
  let seconds = digit;

  dividend = remainder * 65536 + (high & 0xffff);
  digit = Math.floor(dividend / ticksPerSecond);
  remainder = dividend - digit * ticksPerSecond;
  seconds = seconds * 65536 + digit;

  dividend = remainder * 65536 + (low >>> 16);
  digit = Math.floor(dividend / ticksPerSecond);
  remainder = dividend - digit * ticksPerSecond;
  seconds = seconds * 65536 + digit;

  dividend = remainder * 65536 + (low & 0xffff);
  digit = Math.floor(dividend / ticksPerSecond);
  remainder = dividend - digit * ticksPerSecond;
  seconds = seconds * 65536 + digit;

  return (seconds + offsetSeconds) * 1000 + (remainder * 1000) / ticksPerSecond;
}

/**
 * Ticks per second for an if_tsresol option value: the high bit picks a power of 2, otherwise a
 * power of 10, of the remaining 7 bits as a negative exponent.
 */
export function ticksPerSecondForResolution(tsresol: number): number {
  const exponent = tsresol & 0x7f;
  return (tsresol & 0x80) !== 0 ? 2 ** exponent : 10 ** exponent;
}

/** The 64-bit tick count, as its two halves, for a time in ms: the inverse of ticksToMs. */
export function msToTicks(ts: number, ticksPerSecond: number): { high: number; low: number } {
  const { seconds, fraction } = splitMs(ts, ticksPerSecond);
  // The writer is not on a hot path; BigInt keeps the 64-bit product exact.
  const ticks = BigInt(seconds) * BigInt(ticksPerSecond) + BigInt(fraction);
  if (ticks >= 1n << 64n) throw new RangeError(`timestamp ${ts} ms does not fit 64 bits at ${ticksPerSecond} ticks a second`);
  return { high: Number(ticks >> 32n), low: Number(ticks & 0xffffffffn) };
}

/** Whole seconds and the rest in 1/unitsPerSecond units, rounded to the nearest unit. */
export function splitMs(ts: number, unitsPerSecond: number): { seconds: number; fraction: number } {
  if (!Number.isFinite(ts) || ts < 0) throw new RangeError(`timestamp ${ts} ms cannot be written to a capture`);
  let seconds = Math.floor(ts / 1000);
  let fraction = Math.round(((ts - seconds * 1000) * unitsPerSecond) / 1000);
  if (fraction >= unitsPerSecond) {
    seconds++;
    fraction -= unitsPerSecond;
  }
  return { seconds, fraction };
}
