/**
 * Reading what a DetectorHarness run produced: the rules modules returned and the engine
 * accepted, and the peers it learned. Shared by the protocol modules' tests.
 */
import { expect } from 'vitest';
import type { PeerEntry } from '../../src/track/peers.js';
import type { DetectorHarness, FeedResult } from './detector-harness.js';

/** The rule ids the engine accepted for one packet. */
export function accepted(result: FeedResult): string[] {
  return result.seen.filter((seen) => seen.accepted).map((seen) => seen.evidence.rule);
}

/** The rule ids the engine accepted, packet after packet. */
export function allAccepted(results: readonly FeedResult[]): string[] {
  return results.flatMap(accepted);
}

/** Every rule any module returned, accepted or not. */
export function returned(results: readonly FeedResult[]): string[] {
  return results.flatMap((result) => result.evidence.map((evidence) => evidence.rule));
}

export function learnedPeers(h: DetectorHarness): PeerEntry[] {
  return [...h.engine.peers.values()];
}

/** Learned peers as `ip:port/transport`, sorted; only those learned `via` a rule when given. */
export function peerKeys(h: DetectorHarness, via?: string): string[] {
  return learnedPeers(h)
    .filter((entry) => via === undefined || entry.via === via)
    .map((entry) => `${entry.ip}:${entry.port}/${entry.transport}`)
    .sort();
}

/** Whether no module holds state for the flow any more. */
export function noModuleState(result: FeedResult): boolean {
  return result.flow.moduleStates?.every((state) => state === undefined) ?? true;
}

/** Feeds a conversation to a fresh harness and expects no module to return anything, nor any peer learned. */
export function expectNothing(harness: () => DetectorHarness, packets: readonly Uint8Array[]): void {
  const h = harness();
  expect(returned(h.feedAll(packets))).toEqual([]);
  expect(peerKeys(h)).toEqual([]);
}
