// The split-backward memory model (compiler/schedule/memory.ts): a stage's
// full stash lives from F until I, what W needs from I until W. Worked by
// hand on small orders, then on built-in schedules against the old
// "whole activation until W" count.

import { describe, expect, it } from 'vitest';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { peakActivationBytes, peakActivations, stageActivationRecord } from '../../compiler/schedule/memory.ts';
import type { ComputeAction, ComputeSchedule } from '../../compiler/schedule/types.ts';

function oneDevice(actions: readonly (readonly [ComputeAction['operation'], number])[]): ComputeSchedule {
  const microbatches = Math.max(...actions.map(([, i]) => i)) + 1;
  return {
    stages: 1, devices: 1, microbatches, stageDevice: [0], splitBackward: actions.some(([op]) => op === 'W'),
    orders: [actions.map(([operation, microbatch]) => ({ operation, stage: 0, microbatch }))],
  } as unknown as ComputeSchedule;
}

describe('split-backward activation memory', () => {
  it('I frees the full stash and keeps what W needs until W', () => {
    // F0 F1 I0 I1 W0 W1: full 10, W part 4. After F1: 20; after I0: 10 + 4; after I1: 8.
    const order = oneDevice([['F', 0], ['F', 1], ['I', 0], ['I', 1], ['W', 0], ['W', 1]]);
    expect(peakActivationBytes(order, [{ activationBytes: 10, weightGradientBytes: 4 }])).toEqual([20]);
    // F0 I0 F1 I1 W0 W1: 10, then 4, then 14, then 8: peak 14 (the old model: 20).
    const interleaved = oneDevice([['F', 0], ['I', 0], ['F', 1], ['I', 1], ['W', 0], ['W', 1]]);
    expect(peakActivationBytes(interleaved, [{ activationBytes: 10, weightGradientBytes: 4 }])).toEqual([14]);
    expect(peakActivations(interleaved, [10])).toEqual([20]);
  });

  it('a fused B frees everything; W parts larger than the stash grow at I', () => {
    const fused = oneDevice([['F', 0], ['F', 1], ['B', 0], ['B', 1]]);
    expect(peakActivationBytes(fused, [{ activationBytes: 10, weightGradientBytes: 4 }])).toEqual([20]);
    // Dense without activation: the stash is the input (4), W needs input + output gradient (6).
    const split = oneDevice([['F', 0], ['I', 0], ['F', 1], ['I', 1], ['W', 0], ['W', 1]]);
    expect(peakActivationBytes(split, [{ activationBytes: 4, weightGradientBytes: 6 }])).toEqual([12]);
  });

  it('a recompute stage whose first layer does not keep its input holds both once recomputed', () => {
    const order = oneDevice([['F', 0], ['F', 1], ['B', 0], ['B', 1]]);
    // Holds 2 + 2 after both F, 2 + (2 + 10) after the recompute of microbatch 0; the forward itself peaks at 2 + 12.
    expect(peakActivationBytes(order, [{ activationBytes: 10, inputBytes: 2, recompute: true, inputInStash: false }])).toEqual([14]);
    expect(peakActivationBytes(order, [{ activationBytes: 10, inputBytes: 2, recompute: true }])).toEqual([12]);
  });

  it('the per-stage record names the part freed at I', () => {
    expect(stageActivationRecord({ activationBytes: 10, weightGradientBytes: 4 })).toEqual({ full: 10, weightGradientPart: 4, inputGradientOnlyPart: 6 });
    expect(stageActivationRecord({ activationBytes: 10 })).toEqual({ full: 10, weightGradientPart: 10, inputGradientOnlyPart: 0 });
  });

  it('zb_h1 at p = 4, m = 8: with W parts of half the stash the later devices (whose W wait) hold less than whole activations', () => {
    const schedule = builtinSchedule('zb_h1', { devices: 4, microbatches: 8, stagesPerDevice: 1 }).schedule!;
    const whole = peakActivations(schedule, [1, 1, 1, 1]);
    const split = peakActivationBytes(schedule, Array.from({ length: 4 }, () => ({ activationBytes: 1, weightGradientBytes: 0.5 })));
    expect(whole[0]).toBe(4);
    for (let d = 0; d < 4; d++) expect(split[d]).toBeLessThanOrEqual(whole[d]);
    // Device 0's peak is its p forwards in flight before the first I: the split changes nothing there.
    expect(split[0]).toBe(4);
    expect(split.slice(1).reduce((a, b) => a + b)).toBeLessThan(whole.slice(1).reduce((a, b) => a + b));
  });
});
