import { session } from './api.js';
import { parseBlocks } from './sse.js';

/**
 * The brain's live stream (GET /v1/events/stream) read with fetch(): EventSource cannot send the
 * Authorization header, and the token must not go in the URL. Reconnects after a drop; listeners
 * hear each event's type.
 */

export type LiveType = 'incident' | 'decision';
type Listener = (type: LiveType, data: unknown) => void;

const listeners = new Set<Listener>();
let running: AbortController | undefined;
/** What the page shows about the stream. */
export const liveState = { connected: false, onChange: (_connected: boolean): void => undefined };

export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setConnected(connected: boolean): void {
  if (liveState.connected === connected) return;
  liveState.connected = connected;
  liveState.onChange(connected);
}

async function follow(signal: AbortSignal): Promise<void> {
  const token = session.token();
  if (!token) return;
  const response = await fetch('/v1/events/stream', { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal, cache: 'no-store', credentials: 'omit' });
  if (!response.ok || !response.body) throw new Error(`live stream: HTTP ${response.status}`);
  setConnected(true);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    // a stream that never ends a block must not grow without bound
    buffer = parseBlocks(buffer + value, (type, data) => {
      if (type !== 'incident' && type !== 'decision') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return;
      }
      for (const listener of listeners) listener(type, parsed);
    }).slice(-65_536);
  }
}

/** Starts following (once); stopLive ends it. */
export function startLive(): void {
  if (running) return;
  const controller = (running = new AbortController());
  void (async () => {
    while (!controller.signal.aborted) {
      try {
        await follow(controller.signal);
      } catch {
        // dropped or refused: wait and try again
      }
      setConnected(false);
      if (!controller.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  })();
}

export function stopLive(): void {
  running?.abort();
  running = undefined;
  setConnected(false);
}
