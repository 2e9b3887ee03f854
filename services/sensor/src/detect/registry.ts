/**
 * The detectors the engine runs, one per protocol. A detector's position in the list the engine
 * uses is its slot: the index of its per-flow state in `flow.detectorState`.
 */
import type { Detector } from './detector.js';
import { fastTrackDetector } from './fasttrack.js';

/** Every detector, in the order they are asked about a packet. */
export const detectors: readonly Detector[] = [fastTrackDetector];

export class DetectorRegistryError extends Error {}

/**
 * The detectors named in `names` (their `protocol`), in that order; all of them when `names` is
 * omitted. Throws for a name no detector has, or one named twice.
 */
export function createRegistry(names?: readonly string[]): Detector[] {
  if (names === undefined) return [...detectors];
  const selected: Detector[] = [];
  for (const name of names) {
    const detector = detectors.find((candidate) => candidate.protocol === name);
    if (!detector) {
      const known = detectors.map((candidate) => candidate.protocol).join(', ');
      throw new DetectorRegistryError(`unknown detector "${name}" (known: ${known})`);
    }
    if (selected.includes(detector)) throw new DetectorRegistryError(`detector "${name}" is named twice`);
    selected.push(detector);
  }
  return selected;
}
