import type { Page } from './views.js';

/**
 * Pagination of lists the API builds itself (decisions, allowlist): newest first (by `created`,
 * then id), the cursor names the last item shown, so a page never repeats or skips items that
 * stay while the list changes. The cursor is opaque to clients (base64url JSON).
 */

export class BadCursorError extends Error {}

interface Keyed {
  id: string;
  /** ISO 8601 in UTC (sorts as text). */
  created: string;
}

export function encodeCursor(item: Keyed): string {
  return Buffer.from(JSON.stringify([item.created, item.id])).toString('base64url');
}

export function decodeCursor(text: string): Keyed {
  const [created, id] = cursorPair(text);
  if (typeof created !== 'string' || typeof id !== 'string') throw new BadCursorError('not a cursor given by this API');
  return { created, id };
}

/** The two values a cursor of this API encodes (base64url JSON); anything else is not one of ours. */
function cursorPair(text: string): [unknown, unknown] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new BadCursorError('not a cursor given by this API');
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new BadCursorError('not a cursor given by this API');
  return [parsed[0], parsed[1]];
}

/** a before b in the listing order: newer first, then by id. */
function before(a: Keyed, b: Keyed): boolean {
  return a.created > b.created || (a.created === b.created && a.id < b.id);
}

/** What pageListing walks: BlocklistWriter's memory in the listing order (see walkListing). */
export interface Listing<T> {
  walkListing(after: { id: string; createdMs: number } | undefined, accept: (item: T) => boolean, limit: number, maxVisits: number): { items: T[]; last: { id: string; createdMs: number } | undefined; done: boolean };
}

/** Items visited per slice of a walk; the event loop runs between slices (a slice takes well under a millisecond when it shows nothing, a few when it shows 500 items). */
export const VISITS_PER_SLICE = 500;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One page of an ordered listing (newest first), the items `accept` takes, after the cursor: a
 * binary search and a walk of about what the page needs, in slices of VISITS_PER_SLICE with the
 * event loop running between them, so a filter that matches little never holds the brain up. The
 * cursor names the last item shown, as for pageNewestFirst.
 */
export async function pageListing<T extends { id: string; createdMs: number }, V>(listing: Listing<T>, limit: number, cursor: string | undefined, accept: (item: T) => boolean, view: (item: T) => V): Promise<Page<V>> {
  const start = cursor === undefined ? undefined : decodeCursor(cursor);
  const startMs = start === undefined ? undefined : Date.parse(start.created);
  if (startMs !== undefined && Number.isNaN(startMs)) throw new BadCursorError('not a cursor given by this API');
  let after = start === undefined ? undefined : { id: start.id, createdMs: startMs! };
  const shown: V[] = [];
  let lastShown: T | undefined;
  let more = false;
  // one more than the page: whether there is a next page; views are built slice by slice too
  for (;;) {
    const slice = listing.walkListing(after, accept, limit + 1 - shown.length, VISITS_PER_SLICE);
    for (const item of slice.items) {
      if (shown.length === limit) {
        more = true;
        break;
      }
      shown.push(view(item));
      lastShown = item;
    }
    after = slice.last;
    if (slice.done || more) break;
    await nextTurn();
  }
  return { items: shown, nextCursor: more && lastShown ? encodeCursor({ id: lastShown.id, created: new Date(lastShown.createdMs).toISOString() }) : null };
}

export function pageNewestFirst<T extends Keyed>(items: readonly T[], limit: number, cursor: string | undefined): Page<T> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const sorted = items.filter((item) => after === undefined || before(after, item)).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  const shown = sorted.slice(0, limit);
  const last = shown[shown.length - 1];
  return { items: shown, nextCursor: sorted.length > limit && last ? encodeCursor(last) : null };
}

/** A cursor naming the last item of a page of a list sorted by name (sensors). */
export function encodeNameCursor(name: string): string {
  return Buffer.from(JSON.stringify(['name', name])).toString('base64url');
}

export function decodeNameCursor(text: string): string {
  const [kind, name] = cursorPair(text);
  if (kind !== 'name' || typeof name !== 'string') throw new BadCursorError('not a cursor given by this API');
  return name;
}

/** Pagination of a list by name (ascending): the cursor names the last item shown. */
export function pageByName<T extends { name: string }>(items: readonly T[], limit: number, cursor: string | undefined): Page<T> {
  const after = cursor === undefined ? undefined : decodeNameCursor(cursor);
  const sorted = items.filter((item) => after === undefined || item.name > after).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const shown = sorted.slice(0, limit);
  const last = shown[shown.length - 1];
  return { items: shown, nextCursor: sorted.length > limit && last ? encodeNameCursor(last.name) : null };
}
