// Memory accounting of R / O / L: the compile-time profile (memory.ts) and
// the simulator's time-swept peak over the lowered streams agree, and the
// actions lower the device peak as their semantics say.

import { describe, expect, it } from 'vitest';
import { lowerToInstructionStreams } from '../../compiler/lower/lower.ts';
import { memoryProfile, peakLiveActivations } from '../../compiler/schedule/memory.ts';
import type { ComputeOperation, ComputeSchedule } from '../../compiler/schedule/types.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { simulate } from '../../compiler/simulate/simulate.ts';
import { unitCostModel } from '../../compiler/cost/types.ts';

// One device, one stage: stash 10 bytes, checkpoint (stage input) 2 bytes.
const STASH = 10;
const CHECKPOINT = 2;

function oneStage(cells: string): ComputeSchedule {
  const order = cells.split(' ').map((cell) => ({ operation: cell[0] as ComputeOperation, stage: 0, microbatch: Number(cell.slice(1)) }));
  return { name: 'test', devices: 1, stages: 1, microbatches: 2, stageDevice: [0], splitBackward: false, orders: [order] };
}

function simulatedPeak(schedule: ComputeSchedule, hostBandwidth: number): number {
  const lowered = lowerToInstructionStreams(schedule, [{ recompute: false, offload: false, activationBytes: STASH, outputBytes: 1, inputBytes: CHECKPOINT }]);
  const unit = unitCostModel(1);
  const costs = { ...unit, stages: [{ ...unit.stages[0], activation: STASH }], hostBandwidth };
  return simulate(lowered, costs).devices[0].memory.activations;
}

describe('memory actions in the memory profile and the simulator', () => {
  const sizes = [{ activationBytes: STASH, inputBytes: CHECKPOINT }];

  it('without memory actions both stashes are live together', () => {
    const plain = oneStage('F0 F1 B0 B1');
    expect(memoryProfile(plain, sizes)).toEqual({ device: [2 * STASH], host: [0] });
    expect(simulatedPeak(plain, 1e9)).toBe(2 * STASH);
  });

  it('R keeps only the checkpoint between F and R', () => {
    const recompute = oneStage('F0 F1 R0 B0 R1 B1');
    expect(validateSchedule(recompute)).toEqual([]);
    // F1 runs while microbatch 0 holds its checkpoint; R0 rebuilds 0 while 1 holds its checkpoint
    expect(memoryProfile(recompute, sizes).device).toEqual([STASH + CHECKPOINT]);
    expect(simulatedPeak(recompute, 1e9)).toBe(STASH + CHECKPOINT);
    // slots are held from F to free all the same
    expect(peakLiveActivations(recompute)).toEqual([2]);
  });

  it('O / L move the stash to host memory and back', () => {
    const offload = oneStage('F0 O0 F1 B1 L0 B0');
    expect(validateSchedule(offload)).toEqual([]);
    expect(memoryProfile(offload, sizes)).toEqual({ device: [STASH], host: [STASH] });
    // an instant copy (what the order-based profile assumes): the stash is gone when F1 starts
    expect(simulatedPeak(offload, Number.POSITIVE_INFINITY)).toBe(STASH);
    // a slow link (10 bytes take 2 time units): the offload still runs when F1 starts
    expect(simulatedPeak(offload, 5)).toBe(2 * STASH);
    expect(peakLiveActivations(offload)).toEqual([2]);
  });
});
