import type { Lab } from './netns/lab.js';

/** Helpers the end-to-end tests and benchmarks share: waiting for a condition, reading kernel sets. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it answers something other than undefined; throws after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** The members of an ipset set in a namespace (as `ipset list` prints them); [] when the set is missing. */
export async function ipsetMembers(lab: Lab, namespace: string, set: string): Promise<string[]> {
  const listing = await lab.exec(namespace, 'ipset', ['list', set], { check: false });
  if (listing.code !== 0) return [];
  const members = listing.stdout.split('Members:\n')[1] ?? '';
  return members.split('\n').filter((line) => line.trim() !== '').map((line) => line.split(' ')[0]!);
}
