import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { signOut } from '../sign-out.js';
import { onLive, type LiveType } from '../live.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/** Live reloads of one page at most this often: a burst of decisions is one reload, and a tab stays well within its token's rate limit. */
const RELOAD_EVERY_MS = 1000;

/**
 * Loads `load()` when `key` changes, and again when the live stream says something of
 * `liveTypes` happened: at once after a quiet second, else at the end of that second. A 401 (the
 * token was revoked) signs the tab out.
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
        if (err instanceof ApiError && err.status === 401) signOut();
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
    let lastMs = 0;
    const off = onLive((type) => {
      if (!types.split(',').includes(type) || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        lastMs = Date.now();
        reload();
      }, Math.max(0, lastMs + RELOAD_EVERY_MS - Date.now()));
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [types, reload]);
  return { data, error, reload };
}
