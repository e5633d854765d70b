// Activation memory of a compute order, counted per device in execution
// order. An activation lives from its F until its B, or until its W when the
// backward is split (I still needs the saved tensors' weights-side half, so
// I does not free).
//
// Memory actions change what a (stage, microbatch) holds on its device:
//  - with an R planned for the pair, its F keeps only the checkpoint (the
//    stage input) and the R rebuilds the full stash before the B/I;
//  - an O moves the stash to host memory (device bytes drop, host bytes
//    rise) and its L brings it back before the B/I.
// Whole-stage `recompute` / `offload` attributes act on pairs with no
// explicit R or O: the stash is rebuilt or reloaded right at the B/I.
// Lowering (compiler/lower) allocates slots with the same rules: a slot is
// held from F to the free whatever is in it, so slots per device =
// peakLiveActivations.

import type { ComputeSchedule } from './types.ts';

/**
 * What one microbatch of a stage keeps, in bytes (units under the unit cost
 * model: 1 per stage). This is the size record the accounting below reads:
 * the full stash (everything the backward needs) and the checkpoint a
 * recompute starts from. The byte-accurate model splits the stash further
 * (what I needs, what W needs); it extends this record.
 */
export interface StageMemoryOptions {
  /** The full stash: bytes kept from F to B/W without memory actions. */
  readonly activationBytes: number;
  /** Bytes of the stage input (the checkpoint recompute keeps); defaults to activationBytes. */
  readonly inputBytes?: number;
  /** Whole-stage attribute: every pair without an explicit R recomputes at its B/I. */
  readonly recompute?: boolean;
  /** Whole-stage attribute: every pair without an explicit O is offloaded after F and reloaded at B/I. */
  readonly offload?: boolean;
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

/** Peak activation bytes per device for an order under unit-free sizes (no whole-stage attributes). */
export function peakActivations(schedule: ComputeSchedule, activationBytesPerStage: readonly number[]): number[] {
  return peakActivationBytes(schedule, activationBytesPerStage.map((activationBytes) => ({ activationBytes })));
}

export function peakActivationBytes(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): number[] {
  return memoryProfile(schedule, stages).device;
}

/** Peak device and host bytes per device, following R / O / L in the order. */
export function memoryProfile(schedule: ComputeSchedule, stages: readonly StageMemoryOptions[]): MemoryProfile {
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
  const device: number[] = [];
  const host: number[] = [];
  for (const order of schedule.orders) {
    let live = 0;
    let peak = 0;
    let hostLive = 0;
    let hostPeak = 0;
    for (const action of order) {
      const stage = stages[action.stage];
      const full = stage.activationBytes;
      const pair = action.stage * schedule.microbatches + action.microbatch;
      // What the pair holds on the device between F and B/I when nothing brings it back earlier.
      const explicit = plannedRecompute[pair] === 1 || plannedOffload[pair] === 1;
      const kept = plannedRecompute[pair] ? checkpointBytes(stage)
        : explicit ? full
          : stage.offload ? 0 : stage.recompute ? checkpointBytes(stage) : full;
      switch (action.operation) {
        case 'F':
          // During the forward itself the full activations exist.
          peak = Math.max(peak, live + full);
          live += kept;
          if (!explicit && stage.offload) {
            hostLive += full;
            hostPeak = Math.max(hostPeak, hostLive);
          }
          break;
        case 'R':
          live += full - checkpointBytes(stage);
          peak = Math.max(peak, live);
          break;
        case 'O':
          live -= full;
          hostLive += full;
          hostPeak = Math.max(hostPeak, hostLive);
          break;
        case 'L':
          live += full;
          hostLive -= full;
          peak = Math.max(peak, live);
          break;
        case 'B':
        case 'I':
          // Whole-stage attributes reload / recompute right before the backward.
          if (!explicit) {
            live += full - kept;
            if (stage.offload) hostLive -= full;
          }
          peak = Math.max(peak, live);
          if (action.operation === 'B' || !freesAtW[pair]) live -= full;
          break;
        case 'W':
          peak = Math.max(peak, live);
          live -= full;
          break;
      }
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
