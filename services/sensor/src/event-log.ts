import type { Logger } from '@p2pwall/common';
import type { EngineEvent, EventSink } from './events.js';

/** ftwall's log letters (its -l/-L options). */
export const EVENT_LETTERS = 'cptTuU';

export class EventLettersError extends Error {}

export function parseEventLetters(text: string): Set<string> {
  const letters = new Set(text.split(''));
  for (const letter of letters) {
    if (!EVENT_LETTERS.includes(letter)) {
      throw new EventLettersError(`"${letter}" is not an event letter; use any of ${EVENT_LETTERS} (c client, p peer, t/T TCP dropped/accepted, u/U UDP dropped/accepted)`);
    }
  }
  return letters;
}

const MESSAGES: Record<string, string> = {
  c: 'client identified',
  p: 'peer learned',
  t: 'tcp flow dropped',
  T: 'tcp flow accepted',
  u: 'udp flow dropped',
  U: 'udp flow accepted',
};

/**
 * Logs the engine events whose ftwall letter was asked for, as structured JSON lines. Accepted
 * flows (T, U) are those the engine judged worth a letter: labelled P2P, or judged "drop" but let
 * through; ordinary traffic never reaches the log.
 */
export function eventLogger(logger: Logger, letters: ReadonlySet<string>): EventSink {
  return (event: EngineEvent) => {
    if (event.event === 'lock' || event.event === 'peer-refresh') return;
    const letter = event.letter;
    if (letter === null || !letters.has(letter)) return;
    logger.info(event, MESSAGES[letter]);
  };
}
