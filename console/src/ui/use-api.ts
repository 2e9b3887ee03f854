import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, session } from '../api.js';
import { navigate } from '../router.js';
import { onLive, type LiveType } from '../live.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/**
 * Loads `load()` when `key` changes, and again (a moment after, so a burst is one reload) when the live stream says
 * something of `liveTypes` happened. A 401 sends the user back to the login page.
 */
export function useApi<T>(key: string, load: () => Promise<T>, liveTypes: readonly LiveType[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let current = true;
    loadRef.current().then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(undefined);
      },
      (err: unknown) => {
        if (!current) return;
        if (err instanceof ApiError && err.status === 401) {
          session.clear();
          navigate('#/login');
        }
        setError(err instanceof Error ? err.message : String(err));
      },
    );
    return () => {
      current = false;
    };
  }, [key, tick]);
  const types = liveTypes.join(',');
  useEffect(() => {
    if (types === '') return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = onLive((type) => {
      if (!types.split(',').includes(type) || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        reload();
      }, 300);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [types, reload]);
  return { data, error, reload };
}
