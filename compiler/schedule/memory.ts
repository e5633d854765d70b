// Activation memory of a compute order, counted per device in execution
// order, with the split-backward model of the controllable-memory paper
// (Qi et al. 2024): each stage's forward keeps its *full* stash until the
// input-gradient step I; I frees it and keeps only what the weight-gradient
// step W needs (for Dense: its input and the pre-activation gradient), and W
// frees that. A fused B frees everything at once. So an order that runs I
// early and W late holds far less than the whole activation between them.
//
// With recompute a stage keeps only its input between F and the recompute
// that precedes its backward; with offload the device holds nothing between
// the offload after F and the reload before the backward. The runtime
// (runtime/interpreter.ts) measures the bytes its stash really holds after
// each instruction with the same rules, and the simulator applies them to
// the instruction streams, so the three agree (test/runtime/schedules.test.ts).
// Lowering allocates one slot per (stage, microbatch) from F until its last
// backward step, so slots per device = peakLiveActivations.

import type { ComputeSchedule } from './types.ts';

/**
 * One stage's activation sizes per microbatch: what the memory check, the
 * simulator and the R/O/L memory actions all account in.
 */
export interface StageActivationRecord {
  /** Bytes the forward keeps until I (or B): the full stash (units under unit costs: 1 per stage). */
  readonly full: number;
  /** Bytes I leaves for W (freed at W): W's inputs, e.g. a Dense layer's input and output gradient. */
  readonly weightGradientPart: number;
  /**
   * Bytes by which I shrinks what the pair holds: full − weightGradientPart,
   * at least 0. (W's part may reuse stash tensors, a Dense layer's input,
   * and add new ones, its pre-activation gradient; this is the net change.)
   */
  readonly inputGradientOnlyPart: number;
}

export interface StageMemoryOptions {
  /** Bytes kept from F until I/B: the full stash (units under the unit cost model: 1 per stage). */
  readonly activationBytes: number;
  /**
   * Bytes kept from I until W when the backward is split; defaults to
   * activationBytes (nothing is freed at I: the conservative model).
   */
  readonly weightGradientBytes?: number;
  /** Bytes of the stage input (what recompute keeps); defaults to activationBytes. */
  readonly inputBytes?: number;
  /**
   * Whether the full stash already holds the stage input (the first layer
   * keeps it: Dense, Conv2D); then a recompute stage's re-run forward adds
   * only the rest. Defaults to true.
   */
  readonly inputInStash?: boolean;
  readonly recompute?: boolean;
  readonly offload?: boolean;
}

/** The per-stage record of a stage's memory options (for tools that merge with other accounting). */
export function stageActivationRecord(stage: StageMemoryOptions): StageActivationRecord {
  const weightGradientPart = stage.weightGradientBytes ?? stage.activationBytes;
  return {
    full: stage.activationBytes,
    weightGradientPart,
    inputGradientOnlyPart: Math.max(0, stage.activationBytes - weightGradientPart),
  };
}

/** Peak activation bytes per device for a plain order (no recompute or offload), whole activations kept until W. */
export function peakActivations(schedule: ComputeSchedule, activationBytesPerStage: readonly number[]): number[] {
  return peakActivationBytes(schedule, activationBytesPerStage.map((activationBytes) => ({ activationBytes })));
}

/**
 * Bytes each (stage, microbatch) holds right after each kind of action, and
 * the transient peak while the action runs. Shared by the order-level count
 * below and by the simulator's count over instruction streams.
 */
export function activationHeld(stage: StageMemoryOptions): {
  /** After F: the full stash, only the input with recompute, nothing with offload. */
  readonly afterForward: number;
  /** While F runs: the full stash exists before a recompute stage drops it. */
  readonly duringForward: number;
  /** After the recompute or reload that precedes the backward. */
  readonly beforeBackward: number;
  /** After I of a split backward: what W needs. */
  readonly afterInputGradient: number;
} {
  const full = stage.activationBytes;
  const input = Math.min(stage.inputBytes ?? full, full);
  // A recompute stage holds its input; the re-run forward's stash shares it when the first layer keeps its input.
  const withInput = stage.recompute && stage.inputInStash === false ? full + input : full;
  const afterForward = stage.offload ? 0 : stage.recompute ? input : full;
  return {
    afterForward,
    duringForward: Math.max(afterForward, withInput),
    beforeBackward: withInput,
    afterInputGradient: stage.weightGradientBytes ?? full,
  };
}

export function peakActivationBytes(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): number[] {
  const freesAtW = splitPairs(schedule);
  const held = stages.map(activationHeld);
  return schedule.orders.map((order) => {
    const holding = new Float64Array(schedule.stages * schedule.microbatches);
    let live = 0;
    let peak = 0;
    const hold = (pair: number, bytes: number) => {
      live += bytes - holding[pair];
      holding[pair] = bytes;
    };
    for (const action of order) {
      const sizes = held[action.stage];
      const pair = action.stage * schedule.microbatches + action.microbatch;
      switch (action.operation) {
        case 'F':
          peak = Math.max(peak, live + sizes.duringForward);
          hold(pair, sizes.afterForward);
          break;
        case 'B':
        case 'I':
          // Reload / recompute bring back the full activations before backward.
          hold(pair, sizes.beforeBackward);
          peak = Math.max(peak, live);
          hold(pair, action.operation === 'I' && freesAtW[pair] ? sizes.afterInputGradient : 0);
          peak = Math.max(peak, live);
          break;
        case 'W':
          peak = Math.max(peak, live);
          hold(pair, 0);
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

/** Pairs whose backward is split: what W needs is kept until W. */
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
