import { describe, expect, it } from 'vitest';
import { ageOnly, bytes, clip, duration, fields, humanTime, indent, list, table } from '../../src/ctl/format.js';

const NOW = Date.parse('2026-11-25T10:05:03.400Z');

describe('p2pwall CLI text formatting', () => {
  it('aligns table columns to the widest cell, two spaces apart, without trailing blanks', () => {
    expect(table(['ID', 'SITE', 'HOST'], [['a1', 'site-a', '192.168.1.5'], ['incident-22', 'b', '']])).toBe(
      'ID           SITE    HOST\n' + //
        'a1           site-a  192.168.1.5\n' +
        'incident-22  b\n',
    );
    expect(table(['ONLY'], [])).toBe('ONLY\n');
  });

  it('fits a table to the terminal: compact forms first, then the widest columns not kept are cut with …', () => {
    const headers = ['ID', 'REASON', 'CREATED'];
    const rows = [['endpoint:udp:203.0.113.5:4444', 'fasttrack/udp-ping from 3 hosts at 2 sites', humanTime('2026-11-25T10:02:03Z', NOW)]];
    const wide = table(headers, rows);
    expect(wide.split('\n')[1]).toBe('endpoint:udp:203.0.113.5:4444  fasttrack/udp-ping from 3 hosts at 2 sites  2026-11-25 10:02:03Z (3m ago)');
    // Times become ages before anything is cut.
    expect(table(headers, rows, { width: 90, keep: ['ID'], compact: { CREATED: ageOnly } }).split('\n')[1]).toBe('endpoint:udp:203.0.113.5:4444  fasttrack/udp-ping from 3 hosts at 2 sites  3m ago');
    // Narrower: REASON is cut, the kept ID never is; no line is longer than the width.
    const narrow = table(headers, rows, { width: 60, keep: ['ID'], compact: { CREATED: ageOnly } });
    expect(narrow.split('\n')[1]).toBe('endpoint:udp:203.0.113.5:4444  fasttrack/udp-ping …  3m ago');
    for (const line of narrow.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    // Only kept columns left: wider than the terminal, but whole.
    expect(table(headers, rows, { width: 10, keep: ['ID', 'REASON', 'CREATED'] })).toBe(wide);
  });

  it('indents the lines of a block but leaves empty lines empty', () => {
    expect(indent('A  B\n\nC\n')).toBe('  A  B\n\n  C\n');
  });

  it('aligns the labels of a block', () => {
    expect(fields([['id', 'x'], ['first seen', 'y']], '  ')).toBe('  id:          x\n  first seen:  y\n');
  });

  it('prints times in UTC with their age or distance, and names missing times', () => {
    expect(humanTime('2026-11-25T10:02:03.000Z', NOW)).toBe('2026-11-25 10:02:03Z (3m ago)');
    expect(humanTime('2026-11-25T10:05:03.000Z', NOW)).toBe('2026-11-25 10:05:03Z (now)');
    expect(humanTime('2026-11-26T10:05:03.400Z', NOW)).toBe('2026-11-26 10:05:03Z (in 1d)');
    expect(humanTime('2026-11-25T12:00:00+02:00', NOW)).toBe('2026-11-25 10:00:00Z (5m ago)');
    expect(humanTime(null, NOW, 'never')).toBe('never');
    expect(humanTime(undefined, NOW)).toBe('-');
    expect(humanTime('not a time', NOW)).toBe('not a time');
  });

  it('rounds durations down to the largest unit', () => {
    expect([0, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000, 30 * 86_400_000].map(duration)).toEqual(['0s', '59s', '1m', '59m', '1h', '23h', '1d', '30d']);
  });

  it('cuts long lists and says how many were left out, also of a sample', () => {
    expect(list([])).toBe('-');
    expect(list(['a', 'b'])).toBe('a, b');
    expect(list(['a', 'b', 'c', 'd', 'e'], 3)).toBe('a, b, c +2 more');
    expect(list(['a', 'b'], 3, 40)).toBe('a, b +38 more');
    expect(list([], 3, 7)).toBe('+7 more');
  });

  it('clips text to one line', () => {
    expect(clip('short')).toBe('short');
    expect(clip('two\nlines')).toBe('two lines');
    expect(clip('x'.repeat(50), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(clip('x'.repeat(10), 10)).toBe('x'.repeat(10));
  });

  it('prints byte counts in SI units', () => {
    expect([0, 999, 1000, 1234, 20_000_000, 5e15, 5e18].map(bytes)).toEqual(['0 B', '999 B', '1.0 kB', '1.2 kB', '20 MB', '5.0 PB', '5000 PB']);
  });
});
