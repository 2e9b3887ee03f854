/**
 * What the web console hears without reloading: incidents and decisions this replica records, as
 * they are recorded. In-process only (a console follows the replica it is connected to); each
 * subscriber is a server-sent events client, and their number is bounded so a crowd of browser
 * tabs cannot hold the brain's memory.
 */

export type LiveEvent =
  | { type: 'incident'; ids: string[] }
  | { type: 'decision'; id: string; action: 'block' | 'allow' };

export type LiveListener = (event: LiveEvent) => void;

export class LiveEvents {
  private readonly listeners = new Set<LiveListener>();

  constructor(readonly maxListeners: number) {}

  get listening(): number {
    return this.listeners.size;
  }

  /** Adds a listener; undefined when maxListeners already listen. Returns the function that removes it. */
  subscribe(listener: LiveListener): (() => void) | undefined {
    if (this.listeners.size >= this.maxListeners) return undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener; a listener that throws is the route's bug, never the ingest's: it is removed. */
  publish(event: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }
}
