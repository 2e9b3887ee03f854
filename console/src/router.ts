import { useEffect, useState } from 'preact/hooks';
import { parseHash, type Route } from './route.js';

export { href, parseHash, type Route } from './route.js';

/** Following the URL's fragment: the page shown is the route in it. */

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const changed = (): void => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}
