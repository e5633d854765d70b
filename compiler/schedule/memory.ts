// Activation memory of a compute order, counted per device in execution
// order. An activation lives from its F until its B, or until its W when the
// backward is split (I still needs the saved tensors' weights-side half, so
// I does not free). With recompute a stage keeps only its input between F
// and the recompute that precedes its backward; with offload the device
// holds nothing between the offload after F and the reload before the
// backward. Lowering (compiler/lower) allocates slots with the same rules,
// so slots per device = peakLiveActivations.

import type { ComputeSchedule } from './types.ts';

export interface StageMemoryOptions {
  /** Bytes kept from F to B/W (units under the unit cost model: 1 per stage). */
  readonly activationBytes: number;
  /** Bytes of the stage input (what recompute keeps); defaults to activationBytes. */
  readonly inputBytes?: number;
  readonly recompute?: boolean;
  readonly offload?: boolean;
}

/** Peak activation bytes per device for a plain order (no recompute or offload). */
export function peakActivations(schedule: ComputeSchedule, activationBytesPerStage: readonly number[]): number[] {
  return peakActivationBytes(schedule, activationBytesPerStage.map((activationBytes) => ({ activationBytes })));
}

export function peakActivationBytes(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): number[] {
  const freesAtW = splitPairs(schedule);
  return schedule.orders.map((order) => {
    let live = 0;
    let peak = 0;
    for (const action of order) {
      const stage = stages[action.stage];
      const full = stage.activationBytes;
      const kept = stage.offload ? 0 : stage.recompute ? Math.min(stage.inputBytes ?? full, full) : full;
      const pair = action.stage * schedule.microbatches + action.microbatch;
      switch (action.operation) {
        case 'F':
          // During the forward itself the full activations exist.
          peak = Math.max(peak, live + full);
          live += kept;
          break;
        case 'B':
        case 'I':
          // Reload / recompute bring back the full activations before backward.
          live += full - kept;
          peak = Math.max(peak, live);
          if (action.operation === 'B' || !freesAtW[pair]) live -= full;
          break;
        case 'W':
          peak = Math.max(peak, live);
          live -= full;
          break;
      }
    }
    return peak;
  });
}

/** Peak number of (stage, microbatch) activations alive at once per device. */
export function peakLiveActivations(schedule: ComputeSchedule): number[] {
  return peakActivations(schedule, Array.from({ length: schedule.stages }, () => 1));
}

/** Pairs whose backward is split: their activations are freed by W, not I. */
function splitPairs(schedule: ComputeSchedule): Uint8Array {
  const split = new Uint8Array(schedule.stages * schedule.microbatches);
  for (const order of schedule.orders) {
    for (const action of order) {
      if (action.operation === 'W' && action.stage < schedule.stages && action.microbatch < schedule.microbatches) {
        split[action.stage * schedule.microbatches + action.microbatch] = 1;
      }
    }
  }
  return split;
}
