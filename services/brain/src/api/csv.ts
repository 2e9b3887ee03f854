import { printable } from '../ctl/printable.js';

/**
 * CSV as RFC 4180 writes it (pure): a header row, CRLF line ends, a cell quoted when it holds a
 * comma, a quote or a line break, its quotes doubled. What goes in comes, in the end, from
 * sensors and operators, so a cell is also made harmless for where CSV is opened:
 * - a spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return before
 *   them) as a formula ("CSV injection"): such a cell gets a leading `'`, as OWASP advises;
 * - a terminal runs control characters: they become visible escapes (ctl/printable.ts), so a
 *   record is always one line.
 * Numbers are written as numbers: a negative count never comes, and a number is no formula.
 */

export type CsvCell = string | number | boolean | null;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  let text = printable(FORMULA_START.test(value) ? `'${value}` : value);
  if (NEEDS_QUOTES.test(text)) text = `"${text.replaceAll('"', '""')}"`;
  return text;
}

/** A whole CSV document: the header, then one record per row, each line ending in CRLF. */
export function csvDocument(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return [header, ...rows].map((row) => `${row.map(csvCell).join(',')}\r\n`).join('');
}
