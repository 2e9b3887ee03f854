import { describe, expect, it } from 'vitest';
import { crowdedOut, figures, ladderFigure } from '../src/gateway/figures.js';
import { goalsOf } from '../src/gateway/report.js';
import type { ConfigName, StepKind, StepResult } from '../src/gateway/results.js';

/** A step as bench/gateway records it, with only what the figures read set to something meaningful. */
function step(config: ConfigName, kind: StepKind, offeredRate: number | null, fields: { drops?: number; generatorRate?: number; processedPerSecond?: number; cpu?: number; round?: number; queuedAtEnd?: number; lowestQueuedInFinalThird?: number | null } = {}): StepResult {
  const rate = fields.generatorRate ?? offeredRate ?? 100_000;
  const processed = fields.processedPerSecond ?? rate;
  return {
    round: fields.round ?? 1,
    config,
    kind,
    offeredRate,
    generator: { sent: rate, errors: 0, seconds: 1, rate, cpuSeconds: 1, maxBacklog: 0, firstIndex: 0, nextIndex: rate, cpuPercentOfCore: 100 },
    generatorLimited: offeredRate !== null && rate < offeredRate * 0.95,
    delivered: rate,
    deliveredPerSecond: rate,
    queue: { metRule: rate, queueDropped: fields.drops ?? 0, userDropped: 0, processed, processedPerSecond: processed },
    drops: fields.drops ?? 0,
    conntrack: null,
    cpu: { machineBusyPercent: 100, machineSoftirqPercent: 10, consumerPercentOfCore: fields.cpu ?? 100, consumerBudgetPercent: 100 },
    consumerGc: null,
    peakQueued: fields.queuedAtEnd ?? 0,
    queuedAtEnd: fields.queuedAtEnd ?? 0,
    // unless a test says otherwise, the backlog the step ended with was there all through its final third
    lowestQueuedInFinalThird: fields.lowestQueuedInFinalThird === undefined ? (fields.queuedAtEnd ?? 0) : fields.lowestQueuedInFinalThird,
  };
}

describe('bench/gateway figures', () => {
  it('takes the last clean step, or the refine step, as the zero-drop rate', () => {
    const ladder = ladderFigure([step('sensor', 'ladder', 20_000), step('sensor', 'ladder', 40_000), step('sensor', 'ladder', 60_000, { drops: 100 }), step('sensor', 'refine', 50_000)]);
    expect(ladder).toMatchObject({ zeroDropRate: 50_000, endedBy: 'drops', firstDropRate: 60_000 });
    // Bisecting twice: 50,000 clean, then 55,000 failing: between 50,000 and 55,000.
    const bisected = ladderFigure([...[20_000, 40_000].map((rate) => step('sensor', 'ladder', rate)), step('sensor', 'ladder', 60_000, { drops: 100 }), step('sensor', 'refine', 50_000), step('sensor', 'refine', 55_000, { drops: 7 })]);
    expect(bisected).toMatchObject({ zeroDropRate: 50_000, endedBy: 'drops', firstDropRate: 55_000 });
    // 30,000 failing, then 25,000 failing too, then (had it run) 22,500: the lowest failing rate is the first drop.
    const lower = ladderFigure([step('sensor', 'ladder', 20_000), step('sensor', 'ladder', 30_000, { drops: 9 }), step('sensor', 'refine', 25_000, { drops: 3 }), step('sensor', 'refine', 22_500)]);
    expect(lower).toMatchObject({ zeroDropRate: 22_500, firstDropRate: 25_000 });
  });

  it('ends the ladder at a step that left a backlog growing, though nothing dropped yet (a deficit the 16,384-packet queue hides)', () => {
    // 24,000/s offered, 100 ms of it is 2,400: a GC pause's worth waiting passes, 5,000 does not.
    const ladder = ladderFigure([step('sensor', 'ladder', 16_000, { queuedAtEnd: 300 }), step('sensor', 'ladder', 24_000, { queuedAtEnd: 2_000 }), step('sensor', 'ladder', 32_000, { queuedAtEnd: 5_000 }), step('sensor', 'refine', 28_000, { queuedAtEnd: 4_000 })]);
    expect(ladder).toMatchObject({ zeroDropRate: 24_000, endedBy: 'behind', firstDropRate: 28_000 });
    const refined = ladderFigure([step('sensor', 'ladder', 24_000), step('sensor', 'ladder', 32_000, { queuedAtEnd: 5_000 }), step('sensor', 'refine', 28_000, { queuedAtEnd: 1_000 })]);
    expect(refined).toMatchObject({ zeroDropRate: 28_000, endedBy: 'behind', firstDropRate: 32_000 });
  });

  it('passes a step whose backlog came from one pause near its end (the consumer had caught up before), fails one whose backlog never emptied', () => {
    // 20,000/s offered: a 150 ms pause just before the generator stopped leaves 3,000 waiting,
    // but the queue had been near empty in the final third: that consumer keeps up.
    const paused = ladderFigure([step('sensor', 'ladder', 10_000), step('sensor', 'ladder', 20_000, { queuedAtEnd: 3_000, lowestQueuedInFinalThird: 40 }), step('sensor', 'ladder', 30_000, { queuedAtEnd: 9_000, lowestQueuedInFinalThird: 6_000 }), step('sensor', 'refine', 25_000, { queuedAtEnd: 3_500, lowestQueuedInFinalThird: 2_600 })]);
    expect(paused).toMatchObject({ zeroDropRate: 20_000, endedBy: 'behind', firstDropRate: 25_000 });
    // Too few readings in the final third: the backlog at the end decides.
    expect(ladderFigure([step('sensor', 'ladder', 20_000, { queuedAtEnd: 3_000, lowestQueuedInFinalThird: null })])).toMatchObject({ zeroDropRate: 0, endedBy: 'behind' });
  });

  it('calls a ladder the generator ended a lower bound, never a pass at the step it fell short', () => {
    const ladder = ladderFigure([step('c', 'ladder', 200_000), step('c', 'ladder', 400_000, { generatorRate: 300_000 })]);
    expect(ladder).toMatchObject({ zeroDropRate: 200_000, endedBy: 'generator' });
  });

  it('marks a ratio against a generator-bound C reference an upper bound, and leaves a goal it reaches undecided', () => {
    const steps = [
      step('c', 'ladder', 200_000),
      step('c', 'ladder', 400_000, { generatorRate: 300_000 }),
      step('c', 'saturation', null, { generatorRate: 450_000 }),
      step('sensor', 'ladder', 100_000),
      step('sensor', 'ladder', 200_000, { drops: 5 }),
      step('sensor', 'saturation', null, { generatorRate: 450_000, processedPerSecond: 150_000, drops: 300_000, cpu: 100 }),
      step('addon', 'ladder', 100_000),
      step('addon', 'ladder', 200_000, { drops: 5 }),
      step('addon', 'saturation', null, { generatorRate: 450_000, processedPerSecond: 200_000, drops: 250_000 }),
    ];
    const f = figures(steps, [], 1);
    expect(f.newFlows.c).toMatchObject({ zeroDropIsLowerBound: true, overloadedIsLowerBound: true });
    expect(f.newFlows.sensorOverC).toMatchObject({ zeroDropBound: 'upper bound', overloadedBound: 'upper bound' });
    expect(f.newFlows.sensorOverC?.zeroDrop?.median).toBe(0.5);
    const goals = goalsOf(f);
    // 0.5 of a C figure that is only "at least": the true ratio may be lower, so nothing is decided.
    expect(goals.sensorZeroDropOverC).toMatchObject({ measured: 0.5, met: null, bound: 'upper bound' });
    // 0.5 ≤ 0.8 against an upper bound: missed for certain.
    expect(goals.bareAddonZeroDropOverC).toMatchObject({ measured: 0.5, met: false });
  });

  it('decides an exact ratio plainly', () => {
    const steps = [step('c', 'ladder', 100_000), step('c', 'ladder', 200_000, { drops: 1 }), step('sensor', 'ladder', 50_000), step('sensor', 'ladder', 100_000, { drops: 1 })];
    const goals = goalsOf(figures(steps, [], 1));
    expect(goals.sensorZeroDropOverC).toMatchObject({ measured: 0.5, met: true, bound: 'exact' });
  });

  it('leaves out an overloaded flood only when the consumer dropped while short of a core', () => {
    expect(crowdedOut(step('sensor', 'saturation', null, { drops: 1000, cpu: 40 }))).toBe(true);
    // Took the whole flood at 40 % of a core: the generator bounded it, nothing crowded it out.
    expect(crowdedOut(step('c', 'saturation', null, { drops: 0, cpu: 40 }))).toBe(false);
    expect(crowdedOut(step('sensor', 'saturation', null, { drops: 1000, cpu: 98 }))).toBe(false);
  });
});
