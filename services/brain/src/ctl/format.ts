/**
 * Text for people: aligned tables, times with their age, lists cut to a few items. Pure: the
 * clock comes in as `now` (ms), so the output can be tested to the character.
 */

import { printable } from './printable.js';

/** How a table meets the terminal. */
export interface Fit {
  /** Columns of the terminal; Infinity (a pipe or a file) never cuts. */
  width: number;
  /** Columns never cut: what a person copies into the next command (ids, addresses). */
  keep?: readonly string[];
  /** A shorter form of a column's cells, tried before any cutting (a time becomes its age). */
  compact?: Readonly<Record<string, (cell: string) => string>>;
  /** Columns that may be left out when cutting is not enough, the most dispensable first. */
  drop?: readonly string[];
}

const NO_LIMIT: Fit = { width: Infinity };
const GAP = 2;
/** A cut column keeps at least this much (or its header) so what is left still says something. */
const MIN_CUT_WIDTH = 6;

/** The age of a humanTime cell ("3m ago", "in 23h", "never"), for narrow terminals. */
export const ageOnly = (cell: string): string => /\(([^()]*)\)$/.exec(cell)?.[1] ?? cell;

/**
 * Columns padded to their widest cell, two spaces apart; the last column is not padded. Cells are
 * made printable (printable.ts). Wider than `fit.width`: first the compact forms, then the widest
 * columns not kept are cut (with …), widest first, down to a few characters; if that is not
 * enough, the columns `fit.drop` names go, in its order, and a last line says which.
 */
export function table(headers: string[], rawRows: string[][], fit: Fit = NO_LIMIT): string {
  let rows = rawRows.map((row) => row.map(printable));
  const measure = (columns: number[]) => columns.map((i) => rows.reduce((widest, row) => Math.max(widest, (row[i] ?? '').length), headers[i]!.length));
  const total = (widths: number[]) => widths.reduce((sum, width) => sum + width, 0) + GAP * (widths.length - 1);
  let columns = headers.map((_, i) => i);
  if (total(measure(columns)) > fit.width && fit.compact) {
    const compact = headers.map((header) => fit.compact?.[header]);
    rows = rows.map((row) => row.map((cell, i) => compact[i]?.(cell) ?? cell));
  }
  const dropped: string[] = [];
  let widths = shrink(columns, measure(columns));
  for (const name of fit.drop ?? []) {
    if (total(widths) <= fit.width) break;
    columns = columns.filter((i) => headers[i] !== name);
    dropped.push(name);
    widths = shrink(columns, measure(columns));
  }

  function shrink(shown: number[], measured: number[]): number[] {
    const floor = shown.map((i) => (fit.keep?.includes(headers[i]!) ? Infinity : Math.max(MIN_CUT_WIDTH, headers[i]!.length)));
    for (let excess = total(measured) - fit.width; excess > 0; excess--) {
      let widest = -1;
      for (let k = 0; k < measured.length; k++) if (measured[k]! > floor[k]! && (widest < 0 || measured[k]! > measured[widest]!)) widest = k;
      if (widest < 0) break; // nothing left to cut
      measured[widest]!--;
    }
    return measured;
  }

  const cut = (cell: string, width: number) => (cell.length > width ? `${cell.slice(0, width - 1)}…` : cell);
  const line = (cells: string[]) =>
    columns
      .map((i, k) => (k === columns.length - 1 ? cut(cells[i] ?? '', widths[k]!) : cut(cells[i] ?? '', widths[k]!).padEnd(widths[k]!)))
      .join(' '.repeat(GAP))
      .trimEnd();
  const note = dropped.length > 0 ? [`(left out to fit ${fit.width} columns: ${dropped.join(', ')}; --json shows everything)`] : [];
  return [line(headers), ...rows.map(line), ...note].join('\n') + '\n';
}

/** `label:  value` lines with the labels aligned (for one object shown as a block). */
export function fields(pairs: [string, string][], indent = ''): string {
  const width = Math.max(0, ...pairs.map(([label]) => label.length + 1));
  return pairs.map(([label, value]) => `${indent}${`${label}:`.padEnd(width)}  ${printable(value)}`).join('\n') + '\n';
}

/** 45s, 3m, 5h, 2d: the largest unit that fits, rounded down. */
export function duration(ms: number): string {
  const seconds = Math.floor(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** "2026-11-25 10:02:03Z (3m ago)" or "... (in 23h)"; "-" for null, the text itself when it is not a time. */
export function humanTime(iso: string | null | undefined, now: number, none = '-'): string {
  if (iso === null || iso === undefined || iso === '') return none;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const stamp = new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const delta = now - ms;
  const age = Math.abs(delta) < 1000 ? 'now' : delta > 0 ? `${duration(delta)} ago` : `in ${duration(-delta)}`;
  return `${stamp} (${age})`;
}

/** "a, b, c +4 more": at most `max` items, and how many were left out (of `total`, when the list is a sample). */
export function list(items: readonly string[], max = 3, total = items.length): string {
  if (items.length === 0 && total === 0) return '-';
  const shown = items.slice(0, max);
  const rest = Math.max(total, items.length) - shown.length;
  return rest > 0 ? `${shown.join(', ')}${shown.length > 0 ? ' ' : ''}+${rest} more` : shown.join(', ');
}

/** Cuts text to `max` characters with an ellipsis; newlines become spaces so a table row stays one line. */
export function clip(text: string, max = 40): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** 1234567 → "1.2 MB": bytes for people (SI units, as network tools count). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = n;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Indents every non-empty line (a table put under a heading). */
export const indent = (text: string, by = '  '): string => text.replace(/^(?=.)/gm, by);
