import type { Page } from '../api/views.js';
import { CtlError, EXIT, type BrainClient, type Query } from './client.js';

/** A list answer: a Page, or `{items}` from routes that do not page. */
export type Listing<T> = Pick<Page<T>, 'items'> & { nextCursor?: string | null };

/** One page, or with `all` every page in order (the result then has nextCursor null). */
export async function fetchListing<T>(client: BrainClient, path: string, query: Query, all: boolean): Promise<Page<T>> {
  const first = await client.get<Listing<T>>(path, query);
  const items = [...first.items];
  let cursor = first.nextCursor ?? null;
  const seen = new Set<string>();
  while (all && cursor !== null) {
    // A cursor handed out twice would loop for ever; say so rather than hang.
    if (seen.has(cursor)) throw new CtlError(`the brain returned the cursor ${cursor} twice; stopping`, EXIT.server);
    seen.add(cursor);
    const page = await client.get<Listing<T>>(path, { ...query, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? null;
  }
  return { items, nextCursor: cursor };
}

/** The hint under a table when more pages wait. */
export const moreHint = (page: { nextCursor?: string | null }): string =>
  page.nextCursor ? `more: add --cursor ${page.nextCursor}, or --all for every page\n` : '';
