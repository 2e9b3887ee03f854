/**
 * Times the API accepts: ISO 8601 (`2026-05-01`, `2026-05-01T12:00:00Z`, `...+02:00`; a date-time
 * without an offset is UTC, so an answer never depends on the server's time zone) or relative
 * (`30s`, `10m`, `24h`, `7d`), which means "ago" for since/until and "from now" for an expiry.
 */

const RELATIVE = /^(\d{1,9})([smhd])$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** 9999-12-31T23:59:59.999Z: the last instant ISO 8601 text with four year digits can name. */
const LAST_MS = 253_402_300_799_999;

export type TimeDirection = 'ago' | 'ahead';

/** Milliseconds since the epoch, or a message saying what is wrong (without the field's name). */
export type TimeResult = { ms: number } | { error: string };

function isoToMs(match: RegExpExecArray, text: string): number | undefined {
  const [, y, mo, d, h, mi, s, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  // Date.parse rolls 2026-02-30 over to March; a calendar check refuses it.
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;
  const normalised = h === undefined ? `${y}-${mo}-${d}T00:00:00Z` : `${text.toUpperCase().replace(' ', 'T')}${zone === undefined ? 'Z' : ''}`;
  const ms = Date.parse(normalised);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Parses an absolute or relative time; relative times count back (`ago`) or forward (`ahead`) from nowMs. */
export function parseTime(text: string, nowMs: number, direction: TimeDirection): TimeResult {
  const relative = RELATIVE.exec(text);
  if (relative) {
    const span = Number(relative[1]) * UNIT_MS[relative[2]!]!;
    const ms = direction === 'ago' ? nowMs - span : nowMs + span;
    if (ms < 0 || ms > LAST_MS) return { error: `"${text}" is too far ${direction === 'ago' ? 'back' : 'ahead'}` };
    return { ms };
  }
  const iso = ISO.exec(text);
  const ms = iso ? isoToMs(iso, text) : undefined;
  if (ms === undefined) return { error: `"${text}" is not a time: use ISO 8601 (2026-05-01T12:00:00Z) or a relative time (30s, 10m, 24h, 7d)` };
  if (ms < 0 || ms > LAST_MS) return { error: `"${text}" is out of range` };
  return { ms };
}
