/**
 * Pages live in the URL's fragment (#/incidents/ID?host=...): the brain serves one index.html and
 * needs no route per page, and a reload or a shared link opens the same page (never with a token).
 */
export interface Route {
  /** Path parts after #/, decoded: ['incidents', 'site-a-…']. */
  parts: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = text.split('?', 2);
  const parts = path.split('/').filter((part) => part !== '').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  return { parts, params: new URLSearchParams(search) };
}

export function href(parts: readonly string[], params?: Record<string, string>): string {
  const search = params ? new URLSearchParams(Object.entries(params).filter(([, value]) => value !== '')).toString() : '';
  return `#/${parts.map(encodeURIComponent).join('/')}${search === '' ? '' : `?${search}`}`;
}
