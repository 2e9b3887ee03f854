import { describe, expect, it } from 'vitest';
import { parseTime } from '../../src/api/time.js';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const ms = (text: string, direction: 'ago' | 'ahead' = 'ago') => {
  const result = parseTime(text, NOW, direction);
  if ('error' in result) throw new Error(result.error);
  return result.ms;
};
const error = (text: string, direction: 'ago' | 'ahead' = 'ago') => {
  const result = parseTime(text, NOW, direction);
  return 'error' in result ? result.error : `parsed as ${new Date(result.ms).toISOString()}`;
};

describe('API times', () => {
  it('relative times count back for since/until and forward for expiries', () => {
    expect(ms('30s')).toBe(NOW - 30_000);
    expect(ms('10m')).toBe(NOW - 600_000);
    expect(ms('24h')).toBe(NOW - 86_400_000);
    expect(ms('7d')).toBe(NOW - 7 * 86_400_000);
    expect(ms('0s')).toBe(NOW);
    expect(ms('10m', 'ahead')).toBe(NOW + 600_000);
    expect(ms('7d', 'ahead')).toBe(NOW + 7 * 86_400_000);
  });

  it('ISO 8601: dates are UTC midnight, date-times without an offset are UTC, offsets and fractions are honoured', () => {
    expect(ms('2026-04-30')).toBe(Date.parse('2026-04-30T00:00:00Z'));
    expect(ms('2026-04-30T08:15:00Z')).toBe(Date.parse('2026-04-30T08:15:00Z'));
    expect(ms('2026-04-30T08:15')).toBe(Date.parse('2026-04-30T08:15:00Z'));
    expect(ms('2026-04-30T08:15:00')).toBe(Date.parse('2026-04-30T08:15:00Z'));
    expect(ms('2026-04-30T10:15:00+02:00')).toBe(Date.parse('2026-04-30T08:15:00Z'));
    expect(ms('2026-04-30T10:15:00+0200')).toBe(Date.parse('2026-04-30T08:15:00Z'));
    expect(ms('2026-04-30t08:15:00.250z')).toBe(Date.parse('2026-04-30T08:15:00.250Z'));
    expect(ms('2026-04-30 08:15:00Z')).toBe(Date.parse('2026-04-30T08:15:00Z'));
    expect(ms('2028-02-29')).toBe(Date.parse('2028-02-29T00:00:00Z'));
  });

  it('refuses what is not a time, impossible dates and times out of range, saying why', () => {
    for (const bad of ['', 'yesterday', '10', '10 m', '-5m', '5w', '1.5h', '10M', '2026-5-1', '2026-02-30', '2027-02-29', '2026-13-01', '2026-04-30T24:00Z', '2026-04-30T08:60Z', '2026-04-30T08:15:00+25:00', '1714557600', '2026-04-30T08:15:00Zjunk']) {
      expect(error(bad), bad).toMatch(/is not a time: use ISO 8601/);
    }
    expect(error('999999999d')).toMatch(/too far back/);
    expect(error('999999999d', 'ahead')).toMatch(/too far ahead/);
  });
});
