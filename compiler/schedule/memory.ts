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
// Memory actions in the order change what a (stage, microbatch) holds:
//  - with an R planned for the pair, its F keeps only the checkpoint (the
//    stage input) and the R rebuilds the full stash before the B/I;
//  - an O moves what the pair holds to host memory (device bytes drop, host
//    bytes rise) and its L brings it back before the B/I.
// Whole-stage `recompute` / `offload` attributes act on pairs with no
// explicit R or O: the stash is rebuilt or reloaded right at the B/I.
// A forward-only stage (PipelineShape.forwardOnlyStages: a frozen prefix)
// holds its full stash only while its F runs and frees it once the output
// is sent on.
// Lowering allocates one slot per (stage, microbatch) from F until its last
// backward step whatever the slot holds, so slots per device =
// peakLiveActivations.

import { isForwardOnly } from './actions.ts';
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
  /**
   * Bytes of cross-stage skips the stage receives for its merges (part of
   * activationBytes). They arrive before its F while the stage input is
   * still held, so F starts with both: at least input + these bytes.
   */
  readonly receivedSkipBytes?: number;
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
  // A merge stage whose stash does not hold its input (a first layer that keeps nothing) holds the input and its received skips before F.
  const receivedBeforeForward = stage.receivedSkipBytes ? (stage.inputBytes ?? 0) + stage.receivedSkipBytes : 0;
  return {
    afterForward,
    duringForward: Math.max(afterForward, withInput, receivedBeforeForward),
    beforeBackward: withInput,
    afterInputGradient: stage.weightGradientBytes ?? full,
  };
}

export interface MemoryProfile {
  /** Peak activation bytes on each device. */
  readonly device: number[];
  /** Peak bytes each device holds in host memory (offloaded stashes). */
  readonly host: number[];
}

/** Bytes a recomputed pair keeps between its F and its R. */
export function checkpointBytes(stage: StageMemoryOptions): number {
  return Math.min(stage.inputBytes ?? stage.activationBytes, stage.activationBytes);
}

export function peakActivationBytes(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): number[] {
  return memoryProfile(schedule, stages).device;
}

/** Peak device and host bytes per device, following R / O / L in the order and the split-backward model. */
export function memoryProfile(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): MemoryProfile {
  return profileOrders(schedule, stages);
}

/**
 * Per device, the peak device bytes reached up to and including each action
 * of its order (a running maximum): where an order first exceeds a limit,
 * for the automatic scheduler's choice of memory actions.
 */
export function runningPeaks(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): number[][] {
  const trace: number[][] = [];
  profileOrders(schedule, stages, trace);
  return trace;
}

function profileOrders(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[], trace?: number[][]): MemoryProfile {
  const pairs = schedule.stages * schedule.microbatches;
  const freesAtW = new Uint8Array(pairs);
  const plannedRecompute = new Uint8Array(pairs);
  const plannedOffload = new Uint8Array(pairs);
  for (const order of schedule.orders) {
    for (const action of order) {
      if (action.stage >= schedule.stages || action.microbatch >= schedule.microbatches) continue;
      const pair = action.stage * schedule.microbatches + action.microbatch;
      if (action.operation === 'W') freesAtW[pair] = 1;
      else if (action.operation === 'R') plannedRecompute[pair] = 1;
      else if (action.operation === 'O') plannedOffload[pair] = 1;
    }
  }
  const held = stages.map(activationHeld);
  const device: number[] = [];
  const host: number[] = [];
  for (const order of schedule.orders) {
    const holding = new Float64Array(pairs);
    const offloaded = new Float64Array(pairs);
    let live = 0;
    let peak = 0;
    let hostLive = 0;
    let hostPeak = 0;
    const hold = (pair: number, bytes: number) => {
      live += bytes - holding[pair];
      holding[pair] = bytes;
    };
    const toHost = (pair: number, bytes: number) => {
      offloaded[pair] += bytes;
      hostLive += bytes;
      hostPeak = Math.max(hostPeak, hostLive);
    };
    const fromHost = (pair: number) => {
      hostLive -= offloaded[pair];
      const bytes = offloaded[pair];
      offloaded[pair] = 0;
      return bytes;
    };
    const running: number[] | undefined = trace === undefined ? undefined : [];
    if (running !== undefined) trace!.push(running);
    for (const action of order) {
      const stage = stages[action.stage];
      const sizes = held[action.stage];
      const full = stage.activationBytes;
      const pair = action.stage * schedule.microbatches + action.microbatch;
      // Pairs with an explicit R or O are planned by the order, not by the stage's attributes.
      const explicit = plannedRecompute[pair] === 1 || plannedOffload[pair] === 1;
      switch (action.operation) {
        case 'F':
          if (isForwardOnly(schedule, action.stage)) {
            peak = Math.max(peak, live + full);
          } else if (!explicit) {
            peak = Math.max(peak, live + sizes.duringForward);
            hold(pair, sizes.afterForward);
            if (stage.offload) toHost(pair, full);
          } else {
            // During the forward itself the full activations exist.
            peak = Math.max(peak, live + full);
            hold(pair, plannedRecompute[pair] ? checkpointBytes(stage) : full);
          }
          break;
        case 'R':
          // The re-run forward's stash; it shares the checkpoint when the first layer keeps its input.
          hold(pair, stage.inputInStash === false ? full + checkpointBytes(stage) : full);
          peak = Math.max(peak, live);
          break;
        case 'O':
          toHost(pair, holding[pair]);
          hold(pair, 0);
          break;
        case 'L':
          hold(pair, holding[pair] + fromHost(pair));
          peak = Math.max(peak, live);
          break;
        case 'B':
        case 'I':
          if (!explicit) {
            // Whole-stage attributes reload / recompute right before the backward.
            hold(pair, sizes.beforeBackward);
            if (stage.offload) fromHost(pair);
          }
          peak = Math.max(peak, live);
          hold(pair, action.operation === 'I' && freesAtW[pair] ? sizes.afterInputGradient : 0);
          peak = Math.max(peak, live);
          break;
        case 'W':
          peak = Math.max(peak, live);
          hold(pair, 0);
          break;
      }
      running?.push(peak);
    }
    device.push(peak);
    host.push(hostPeak);
  }
  return { device, host };
}

/**
 * Peak number of (stage, microbatch) activations alive at once per device:
 * the activation slots lowering allocates. A slot is held from F to its free
 * even while its stash is in host memory or reduced to its checkpoint, so
 * the memory actions do not count here.
 */
export function peakLiveActivations(schedule: ComputeSchedule): number[] {
  const computeOnly = { ...schedule, orders: schedule.orders.map((order) => order.filter((action) => action.operation !== 'R' && action.operation !== 'O' && action.operation !== 'L')) };
  return peakActivations(computeOnly, Array.from({ length: schedule.stages }, () => 1));
}
